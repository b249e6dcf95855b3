"""``python -m bench`` (``make bench``): run every benchmark and print its table."""

from bench.sentiment import main

if __name__ == "__main__":
    raise SystemExit(main())
