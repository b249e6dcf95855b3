"""A local web site of fixed pages for tests (127.0.0.1, an OS-chosen port): each path answers its bytes and
content type, every other path 404 (or, with ``fallback``, that page with 200). Pages may be added after the site
has started (their URLs name its port)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class StaticSite:
    def __init__(self, fallback: tuple[bytes, str] | None = None) -> None:
        pages: dict[str, tuple[bytes, str]] = {}
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, ctype = pages.get(self.path, fallback or (b"not found", "text/plain"))
                self.send_response(200 if self.path in pages or fallback else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_port}"
        self.base = f"http://{self.host}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def add(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> str:
        """Serve ``body`` at ``path``; returns the page's URL."""
        self.pages[path] = (body.encode() if isinstance(body, str) else body, content_type)
        return self.base + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> StaticSite:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
