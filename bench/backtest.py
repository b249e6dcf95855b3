"""Backtest benchmark: how fast ``yuqing backtest`` replays 100,000 items, beside the store-only rate in the same run.

Generates ``--items`` synthetic lines (default 100,000) at ``--per-day`` items a day (default 14,000: 100,000 span
about a week): about ``--relevant`` (default 10 %) name the bank or one of its units, spread over 60 stories (one
of them a crisis with reposts and re-polls), the rest are about other banks and other things (what most of a real
crawl is). Then it times, on fresh SQLite files:

- *store only* (the baseline): the first ``--baseline-items`` lines (default 20,000) through the crawler's
  ``store_safely``, one transaction per item, no pipeline round — what storing alone costs per item on this
  machine right now;
- *store in polls*: the same lines as the replay stores them, each tick's items in one ``store_many`` transaction;
- *replay*: the whole backtest of all ``--items`` lines (``runner.backtest.replay.run_backtest``: store, then every
  stage per tick, the decisions read back), with the configured classifier (``--rules`` for the rule-based
  baseline).

Prints items/s for both and the replay's total minutes, with the CPU seconds each took (``time.process_time``:
on a shared machine the wall time depends on the other work, the CPU time much less), the rounds and their mean
time beside storing, the decisions found and the load average before and after, and writes
``bench/results/backtest.json`` and ``bench/results/backtest.md``. A run of fewer than 100,000 items also prints
the time 100,000 would take at its rate (a lower bound: a round's cost grows with what is open). Nothing is
asserted. ``python -m bench backtest --help`` for options.
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
OUT_DIR = ROOT / "bench" / "results"
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


def store_only(lines: list, workdir: Path) -> tuple[float, float]:
    """Wall and CPU seconds to store every line with the crawler's ``store_safely`` on a fresh database (no
    rounds)."""
    from crawlers.pipelines import store_safely
    from runner.backtest.replay import open_database, prepare_settings, record_item
    from yuqing.db import make_sessionmaker

    settings = prepare_settings(workdir, config_dir=None, db_url=None)
    engine = open_database(settings, throwaway=True)  # as the replay's own temporary database
    factory = make_sessionmaker(engine)
    t0, c0 = time.perf_counter(), time.process_time()
    for ln in lines:
        store_safely(factory, record_item(ln), ln.item.at)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    engine.dispose()
    return seconds, cpu


def store_polled(lines: list, workdir: Path, step: timedelta) -> tuple[float, float]:
    """Wall and CPU seconds to store the same lines as the replay stores them: each tick's items (``step``) in one
    ``store_many`` call (one transaction), on a fresh database (no rounds)."""
    from crawlers.pipelines import store_many
    from runner.backtest.replay import open_database, prepare_settings, record_item
    from yuqing.db import make_sessionmaker

    settings = prepare_settings(workdir, config_dir=None, db_url=None)
    engine = open_database(settings, throwaway=True)
    factory = make_sessionmaker(engine)
    ordered = sorted(lines, key=lambda ln: ln.item.at)
    t0, c0 = time.perf_counter(), time.process_time()
    i = 0
    while i < len(ordered):
        tick = START + step * -(-(ordered[i].item.at - START) // step)  # the first tick at or after the item
        j = i
        while j < len(ordered) and ordered[j].item.at <= tick:
            j += 1
        store_many(factory, [record_item(ln) for ln in ordered[i:j]], tick)
        i = j
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    engine.dispose()
    return seconds, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench backtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="synthetic lines to replay (default 100,000)")
    parser.add_argument("--per-day", type=int, default=14_000, help="items a day (default 14,000)")
    parser.add_argument("--baseline-items", type=int, default=20_000,
                        help="lines the store-only baseline stores (default 20,000; at most --items)")
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
    load_before = [round(x, 2) for x in os.getloadavg()]
    baseline_n = max(1, min(args.baseline_items, len(lines)))
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        say(f"store only, {baseline_n} items …")
        stored_s, stored_cpu = store_only(lines[:baseline_n], Path(tmp) / "one")
        say(f"store in polls, {baseline_n} items …")
        polled_s, polled_cpu = store_polled(lines[:baseline_n], Path(tmp) / "polls", timedelta(minutes=args.step))
    say(f"replay, {args.items} items …")
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_backtest(lines, options=ReplayOptions(step=timedelta(minutes=args.step)), classifier=classifier)
    replay_s, replay_cpu = time.perf_counter() - t0, time.process_time() - c0
    summary = result["summary"]
    rate = args.items / replay_s
    store_rate = baseline_n / stored_s
    rounds = summary["replay"]["rounds"]
    report = {
        "items": args.items, "days": round(days, 2), "relevant_share": args.relevant, "step_minutes": args.step,
        "classifier": getattr(classifier, "name", type(classifier).__name__),
        "store_only_items": baseline_n, "store_only_seconds": round(stored_s, 1),
        "store_only_items_per_s": round(store_rate, 1),
        "store_only_cpu_seconds": round(stored_cpu, 1),
        "store_only_items_per_cpu_s": round(baseline_n / max(stored_cpu, 1e-9), 1),
        "store_polled_seconds": round(polled_s, 1), "store_polled_cpu_seconds": round(polled_cpu, 1),
        "store_polled_items_per_s": round(baseline_n / polled_s, 1),
        "store_polled_items_per_cpu_s": round(baseline_n / max(polled_cpu, 1e-9), 1),
        "replay_seconds": round(replay_s, 1), "replay_minutes": round(replay_s / 60, 1),
        "replay_items_per_s": round(rate, 1),
        "replay_cpu_seconds": round(replay_cpu, 1), "replay_cpu_minutes": round(replay_cpu / 60, 1),
        "replay_items_per_cpu_s": round(args.items / max(replay_cpu, 1e-9), 1),
        "rounds": rounds,
        # the replay's time beyond storing its items at the baseline rate, per round
        "mean_round_seconds_beside_storing": round(max(0.0, replay_s - args.items / store_rate) / max(1, rounds), 3),
        "mentions": summary["mentions"], "alerts": summary["alerts"],
        "incidents": len(summary["incidents"]), "decisions": len(result["decisions"]),
        "round_errors": len(summary["replay"]["round_errors"]),
        "cpu": cpu_model(), "cores": os.cpu_count(), "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if args.items < PROJECT_TO:
        report["projected_minutes_for_100k"] = round(PROJECT_TO / rate / 60, 1)
        report["projected_cpu_minutes_for_100k"] = round(PROJECT_TO / report["replay_items_per_cpu_s"] / 60, 1)
    print(render_text(report))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "backtest.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (OUT_DIR / "backtest.md").write_text(render_markdown(report), encoding="utf-8")
    return 0


def render_text(r: dict) -> str:
    """The report as the terminal shows it."""
    out = [f"backtest replay — {r['items']:,} items over {r['days']} days, {r['relevant_share']:.0%} about the bank, "
           f"tick {r['step_minutes']:g} min, classifier {r['classifier']}",
           f"  store only (baseline)  {r['store_only_items_per_s']:>9,.1f} items/s  ({r['store_only_items']:,} items "
           f"in {r['store_only_seconds']} s; {r['store_only_items_per_cpu_s']:,.1f} items per CPU second)",
           f"  store in polls         {r['store_polled_items_per_s']:>9,.1f} items/s  ({r['store_only_items']:,} items "
           f"in {r['store_polled_seconds']} s; {r['store_polled_items_per_cpu_s']:,.1f} items per CPU second)",
           f"  full replay            {r['replay_items_per_s']:>9,.1f} items/s  ({r['items']:,} items in "
           f"{r['replay_minutes']} min, {r['rounds']} rounds; {r['replay_cpu_minutes']} CPU min, "
           f"{r['replay_items_per_cpu_s']:,.1f} items per CPU second)",
           f"  rounds: mean {r['mean_round_seconds_beside_storing']} s beside storing",
           f"  mentions {r['mentions']}, alerts {r['alerts']}, incidents {r['incidents']}, decisions "
           f"{r['decisions']}, round errors {r['round_errors']}",
           f"  cpu {r['cpu']} ({r['cores']} cores), load average before {r['load_average_before']}, after "
           f"{r['load_average_after']}"]
    if "projected_minutes_for_100k" in r:
        out.append(f"  100,000 items at this rate: {r['projected_minutes_for_100k']} min, "
                   f"{r['projected_cpu_minutes_for_100k']} CPU min (lower bounds)")
    return "\n".join(out)


def render_markdown(r: dict) -> str:
    """bench/results/backtest.md: the same figures as a table."""
    lines = [f"# Backtest replay benchmark ({r['items']:,} items)", "",
             f"`python -m bench backtest` — {r['items']:,} synthetic items over {r['days']} days "
             f"({r['relevant_share']:.0%} about the bank, 60 stories), tick {r['step_minutes']:g} min, classifier "
             f"{r['classifier']}. CPU: {r['cpu']} ({r['cores']} cores, shared); load average before "
             f"{r['load_average_before']}, after {r['load_average_after']}; measured {r['measured_at']}.", "",
             "| run | items | wall s | items/s | wall min | CPU s | items per CPU s |", "|---|---|---|---|---|---|---|",
             f"| store only (baseline) | {r['store_only_items']:,} | {r['store_only_seconds']} | "
             f"{r['store_only_items_per_s']} | {round(r['store_only_seconds'] / 60, 1)} | "
             f"{r['store_only_cpu_seconds']} | {r['store_only_items_per_cpu_s']} |",
             f"| store in polls (one transaction per tick) | {r['store_only_items']:,} | {r['store_polled_seconds']} | "
             f"{r['store_polled_items_per_s']} | {round(r['store_polled_seconds'] / 60, 1)} | "
             f"{r['store_polled_cpu_seconds']} | {r['store_polled_items_per_cpu_s']} |",
             f"| full replay | {r['items']:,} | {r['replay_seconds']} | {r['replay_items_per_s']} | "
             f"{r['replay_minutes']} | {r['replay_cpu_seconds']} | {r['replay_items_per_cpu_s']} |", "",
             f"{r['rounds']} rounds, {r['mean_round_seconds_beside_storing']} s each beside storing; "
             f"{r['mentions']} mentions, {r['alerts']} alerts, {r['incidents']} incidents, {r['decisions']} "
             f"decisions, {r['round_errors']} round errors."]
    if "projected_minutes_for_100k" in r:
        lines += ["", f"100,000 items at this rate: {r['projected_minutes_for_100k']} min, "
                      f"{r['projected_cpu_minutes_for_100k']} CPU min (lower bounds)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
