"""Backtest benchmark: how fast ``yuqing backtest`` replays a large file, beside the store-only rate in the same run.

Generates ``--items`` synthetic lines (default 100,000) at ``--per-day`` items a day (default 14,000: 100,000 span
about a week, so a smaller run keeps the density and its rate projects linearly): about ``--relevant``
(default 10 %) name the bank or one of its units, spread over 60 stories (one of them a crisis with reposts and
re-polls), the rest are about other banks and other things (what most of a real crawl is). Then it times, on
fresh SQLite files:

- *store only* (the baseline): every line through the crawler's ``store_safely``, no pipeline round;
- *replay*: the whole backtest (``runner.backtest.replay.run_backtest``: store, then every stage per tick, the
  decisions read back), with the configured classifier (``--rules`` for the rule-based baseline).

Prints items/s for both, the projected time for 100,000 items at the measured replay rate (linear: the number of
rounds grows with the span, which grows with the items at a fixed density; a round's cost grows with the open
incidents, so a small run's projection is a lower bound), the rounds and their mean time, the decisions found,
and writes ``var/bench/backtest.json``. Nothing is asserted; the load average is printed because the machine is
shared. ``python -m bench backtest --help`` for options.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import cpu_model, say

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "var" / "bench"
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
PROJECT_TO = 100_000
STORIES = 60
COMPLAINTS = ["{unit}取钱要预约，排队两个小时还没办成，柜员态度很差。", "{unit}理财经理说保本，结果亏了百分之十五。",
              "{unit}手机银行转账失败但扣了钱，客服一直打不通。", "{unit}信用卡年费没说清楚就扣了两百元。",
              "听说{unit}要出事了，大家赶紧去取钱吧。", "{unit}大堂经理推销保险，说和存款一样。"]
OTHER = ["北岸银行{n}号网点今天排长队，不知道出了什么事。", "东岭银行信用卡分期手续费太高了，{n}期算下来吓人。",
         "江城地铁{n}号线今天故障停运半小时。", "新开的奶茶店第{n}家分店开业，排队的人好多。",
         "本周江城气温回升，最高{n}度。", "某电商平台{n}周年大促，满减力度很大。"]


def synthetic_lines(n: int, days: float, relevant: float, seed: int = 11) -> list[dict]:
    """``n`` backtest records over ``days`` days, about ``relevant`` of them naming the bank's units."""
    from yuqing.org import load_org

    rng = random.Random(seed)
    org = load_org(ROOT / "config" / "org.yaml")
    units = [u.name for u in org.units if u.kind in ("sub_branch", "outlet")] or [org.root().name]
    stories = [(rng.choice(units), rng.choice(COMPLAINTS), START + timedelta(seconds=rng.uniform(0, days * 86400)))
               for _ in range(STORIES)]
    out = []
    for i in range(n):
        if rng.random() < relevant:
            k = 0 if rng.random() < 0.3 else rng.randrange(STORIES)  # story 0 is the crisis
            unit, template, at = stories[k]
            at = at + timedelta(minutes=rng.expovariate(1 / 180))
            kind = rng.choice(("weibo", "weibo", "forum", "complaint", "news"))
            text = template.format(unit=unit) + rng.choice(("", "太气人了", "希望尽快处理", "大家评评理")) + f"（{i}）"
            rec = {"id": f"b{i}", "published_at": at.isoformat(), "source_type": kind, "text": text}
            if kind == "weibo":
                rec.update(reposts=int(rng.expovariate(1 / (300 if k == 0 else 20))), comments=rng.randrange(50))
        else:
            at = START + timedelta(seconds=rng.uniform(0, days * 86400))
            rec = {"id": f"o{i}", "published_at": at.isoformat(), "source_type": rng.choice(("news", "weibo")),
                   "text": rng.choice(OTHER).format(n=rng.randrange(1, 99)) + f"（{i}）"}
        out.append(rec)
    return out


def store_only(lines: list, workdir: Path) -> float:
    """Seconds to store every line with the crawler's ``store_safely`` on a fresh database (no rounds)."""
    from crawlers.pipelines import store_safely
    from runner.backtest.replay import open_database, prepare_settings, record_item
    from yuqing.db import make_sessionmaker

    settings = prepare_settings(workdir, config_dir=None, db_url=None)
    engine = open_database(settings, throwaway=True)  # as the replay's own temporary database
    factory = make_sessionmaker(engine)
    t0 = time.perf_counter()
    for ln in lines:
        store_safely(factory, record_item(ln), ln.item.at)
    seconds = time.perf_counter() - t0
    engine.dispose()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench backtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="synthetic lines to replay (default 100,000)")
    parser.add_argument("--per-day", type=int, default=14_000, help="items a day (default 14,000)")
    parser.add_argument("--relevant", type=float, default=0.1, help="share naming the bank (default 0.1)")
    parser.add_argument("--step", type=float, default=5.0, help="minutes per tick (default 5)")
    parser.add_argument("--rules", action="store_true", help="rule-based classifier instead of the model")
    args = parser.parse_args(argv)

    import logging

    from runner.backtest.input import read_lines
    from runner.backtest.replay import ReplayOptions, run_backtest

    logging.disable(logging.INFO)
    days = args.items / args.per_day
    say(f"generating {args.items} items over {days:.2f} days …")
    records = synthetic_lines(args.items, days, args.relevant)
    lines, _ = read_lines(json.dumps(r, ensure_ascii=False) for r in records)
    if args.rules:
        from sentiment.rules import RuleBasedClassifier

        classifier = RuleBasedClassifier()
    else:
        from sentiment.batch import choose_classifier

        classifier = choose_classifier()
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        say("store only …")
        stored_s = store_only(lines, Path(tmp))
    say("replay …")
    t0 = time.perf_counter()
    result = run_backtest(lines, options=ReplayOptions(step=timedelta(minutes=args.step)), classifier=classifier)
    replay_s = time.perf_counter() - t0
    summary = result["summary"]
    rate = args.items / replay_s
    report = {
        "items": args.items, "days": round(days, 2), "relevant_share": args.relevant, "step_minutes": args.step,
        "classifier": getattr(classifier, "name", type(classifier).__name__),
        "store_only_seconds": round(stored_s, 1), "store_only_items_per_s": round(args.items / stored_s, 1),
        "replay_seconds": round(replay_s, 1), "replay_items_per_s": round(rate, 1),
        "projected_minutes_for_100k": round(PROJECT_TO / rate / 60, 1),
        "rounds": summary["replay"]["rounds"],
        "mean_round_seconds": round((replay_s - stored_s) / max(1, summary["replay"]["rounds"]), 3),
        "mentions": summary["mentions"], "alerts": summary["alerts"],
        "incidents": len(summary["incidents"]), "decisions": len(result["decisions"]),
        "cpu": cpu_model(), "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"backtest replay — {args.items:,} items over {days:.2f} days, {args.relevant:.0%} about the bank, "
          f"tick {args.step:g} min, classifier {report['classifier']}")
    print(f"  store only (baseline)  {report['store_only_items_per_s']:>9,.1f} items/s  "
          f"({report['store_only_seconds']} s)")
    print(f"  full replay            {report['replay_items_per_s']:>9,.1f} items/s  ({report['replay_seconds']} s, "
          f"{report['rounds']} rounds)")
    print(f"  projected for 100,000 items: {report['projected_minutes_for_100k']} min (at this density; a lower "
          f"bound from a smaller run)")
    print(f"  rounds: mean {report['mean_round_seconds']} s beside storing (replay − store-only time, per round)")
    print(f"  mentions {report['mentions']}, alerts {report['alerts']}, incidents {report['incidents']}, "
          f"decisions {report['decisions']}")
    print(f"  cpu {report['cpu']}, load average {report['load_average']}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "backtest.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
