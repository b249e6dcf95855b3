"""Report benchmark: how long a 舆情日报 and a 专报 take on a huge day, against a normal day in the same run.

Builds two fresh, migrated SQLite databases with synthetic but realistic data for one day (Asia/Shanghai): a
*baseline* day of ``--baseline`` mentions (default 100) and a *huge* day of ``--mentions`` (default 10,000). Both
days spread their mentions over 40 stories (one story carries a fifth of the day, as a crisis would) and the
org chart's units, with news / social / complaint channels, sentiment labels, Weibo counters, a story risk per
story and one incident on the big story. Then, for each day, it times:

- the daily report: gathering (``gather.period_material``), drafting (``periodic``), and rendering HTML, PDF
  (WeasyPrint) and DOCX;
- the 专报 (初报) of the big story's incident: gathering, drafting (extractive opinions over its mentions), HTML, PDF
  and DOCX.

Prints one table (seconds, and the huge day's time as a multiple of the baseline's) and writes it to
``var/bench/reports.json``. Nothing is asserted; the load average is printed because the machine is shared.
``python -m bench reports --help`` for options.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.common import cpu_model, say

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "var" / "bench"
DAY = date(2026, 11, 23)
STORIES = 40
SENTENCES = ["示例银行{unit}取钱要预约，排队两个小时还没办成。", "柜员态度很差，说规定就是规定。",
             "老人在柜台前急得直掉眼泪，这就是银行的服务？", "网点只开了两个窗口，大堂经理也不解释。",
             "听说{unit}要出事，大家赶紧去取钱吧。", "银行方面回应称，大额取现需提前一天预约。",
             "手机银行转账失败但扣了钱，客服一直打不通。", "理财产品亏了百分之十五，当初说是保本的。",
             "希望银行把规矩讲明白，别让老百姓白跑。", "我行已关注到相关情况，正在核实。"]


def build_day(url: str, mentions: int, seed: int = 7) -> int:
    """Fill a migrated database with ``mentions`` mentions on DAY; returns the big story's incident id."""
    from sqlalchemy import insert

    from crawlers.models import Article, Mention, Story
    from incidents.models import Incident
    from sentiment.models import Classification, StoryRisk
    from yuqing.db import make_engine, make_sessionmaker
    from yuqing.migrate import upgrade
    from yuqing.org import load_org

    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    org = load_org(ROOT / "config" / "org.yaml")
    units = [u for u in org.units if u.kind in ("sub_branch", "outlet")]
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) - timedelta(hours=8)  # local midnight
    with make_sessionmaker(engine)() as s:
        stories = []
        for k in range(STORIES):
            unit = units[k % len(units)]
            st = Story(title=f"示例银行{unit.short_name or unit.name}舆情{k}：取款排队与服务态度", unit_id=unit.id,
                       first_seen_at=start, last_seen_at=start + timedelta(hours=23), article_count=0)
            s.add(st)
            stories.append(st)
        s.flush()
        weights = [mentions // 5] + [max(1, (mentions - mentions // 5) // (STORIES - 1))] * (STORIES - 1)
        arts, cls, ments = [], [], []
        n = 0
        for st, count in zip(stories, weights, strict=True):
            unit = org.unit(st.unit_id)
            for _ in range(count):
                n += 1
                at = start + timedelta(seconds=rng.randint(0, 86399))
                channel = rng.choices(["social", "news", "complaint"], [80, 12, 8])[0]
                text = "".join(rng.sample(SENTENCES, 3)).format(unit=unit.short_name or unit.name)
                url_n = f"https://{channel}.example/{n}"
                arts.append({"id": n, "source_id": channel, "channel": channel, "url": url_n,
                             "url_hash": hashlib.sha256(url_n.encode()).hexdigest(), "title": "" if channel ==
                             "social" else text[:30], "text": text, "author": f"用户{n % 997}",
                             "published_at": at, "fetched_at": at + timedelta(minutes=2),
                             "content_hash": hashlib.sha256(f"{text}{n}".encode()).hexdigest(),
                             "metrics": {"reposts": rng.randint(0, 500), "comments": rng.randint(0, 200),
                                         "likes": rng.randint(0, 2000)} if channel == "social" else {},
                             "meta": {}, "stage": "scored", "story_id": st.id, "is_duplicate": rng.random() < 0.3})
                ments.append({"article_id": n, "unit_id": unit.id, "is_primary": True, "terms": [unit.name],
                              "snippet": text[:80], "score": 1.0})
                label = rng.choices(["negative", "neutral", "positive"], [45, 45, 10])[0]
                cls.append({"article_id": n, "label": label, "negative_prob": 0.8 if label == "negative" else 0.2,
                            "category": "service_attitude", "model": "bench", "classified_at": at, "cues": []})
            st.article_count = count
        for chunk in range(0, len(arts), 2000):
            s.execute(insert(Article), arts[chunk:chunk + 2000])
            s.execute(insert(Mention), ments[chunk:chunk + 2000])
            s.execute(insert(Classification), cls[chunk:chunk + 2000])
        for st in stories:
            s.add(StoryRisk(story_id=st.id, computed_at=start + timedelta(hours=12), score=rng.uniform(10, 80),
                            level="III", category="service_attitude",
                            factors={"velocity": {"value": 0.8, "reason": "近1小时新增较多"}}))
        big = stories[0]
        inc = Incident(number=f"YQ-{DAY:%Y%m%d}-001", title=big.title, unit_id=big.unit_id, level="II",
                       category="service_attitude", playbook="generic", status="responding", story_id=big.id,
                       opened_at=start + timedelta(hours=9), acknowledged_at=start + timedelta(hours=9, minutes=5))
        s.add(inc)
        s.commit()
        incident_id = inc.id
    engine.dispose()
    return incident_id


def time_day(url: str, incident_id: int) -> dict[str, float]:
    """Seconds for each step of the daily report and the incident's 初报 on the database at ``url``."""
    from incidents.briefings import gather, service
    from incidents.briefings.incident_briefing import draft_incident_briefing
    from incidents.briefings.periodic import day_window, draft_period_report
    from incidents.models import Incident
    from incidents.policy import load_policy
    from yuqing.db import make_engine, make_sessionmaker
    from yuqing.org import load_org

    org = load_org(ROOT / "config" / "org.yaml")
    policy = load_policy(ROOT / "config" / "levels.yaml", ROOT / "config" / "checklists")
    engine = make_engine(url)
    out: dict[str, float] = {}
    now = datetime(DAY.year, DAY.month, DAY.day, 16, tzinfo=UTC)  # the next local midnight
    with make_sessionmaker(engine)() as s:
        start, end = day_window(DAY)
        t = time.perf_counter()
        material = gather.period_material(s, start=start, end=end, previous_start=start - timedelta(days=1),
                                          policy=policy, now=now)
        out["daily: gather"] = time.perf_counter() - t
        t = time.perf_counter()
        daily = draft_period_report(material, kind="daily", org=org, number="RB-bench")
        out["daily: draft"] = time.perf_counter() - t
        for fmt in service.FORMATS:
            t = time.perf_counter()
            service.render(daily, fmt)
            out[f"daily: {fmt}"] = time.perf_counter() - t
        t = time.perf_counter()
        im = gather.incident_material(s, s.get(Incident, incident_id), policy=policy, now=now)
        out["初报: gather"] = time.perf_counter() - t
        t = time.perf_counter()
        brief = draft_incident_briefing(im, kind="initial", org=org)
        out["初报: draft"] = time.perf_counter() - t
        for fmt in service.FORMATS:
            t = time.perf_counter()
            service.render(brief, fmt)
            out[f"初报: {fmt}"] = time.perf_counter() - t
        out["items in daily"], out["items in 初报"] = len(material.items), len(im.items)
    engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench reports", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mentions", type=int, default=10_000, help="mentions on the huge day (default 10000)")
    ap.add_argument("--baseline", type=int, default=100, help="mentions on the baseline day (default 100)")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "reports.json")
    args = ap.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-reports-") as tmp:
        for name, count in (("baseline", args.baseline), ("huge", args.mentions)):
            url = f"sqlite:///{Path(tmp) / f'{name}.db'}"
            say(f"building the {name} day: {count} mentions …")
            t = time.perf_counter()
            incident_id = build_day(url, count)
            say(f"  built in {time.perf_counter() - t:.1f} s; timing the reports …")
            if name == "baseline":
                time_day(url, incident_id)  # warm-up: imports, fonts, WeasyPrint's first layout are not measured
            results[name] = time_day(url, incident_id)
    load = os.getloadavg()[0]
    steps = [k for k in results["baseline"] if not k.startswith("items")]
    print(f"Reports on a {args.mentions:,}-mention day vs a {args.baseline}-mention day "
          f"({cpu_model()}, load {load:.1f})")
    print(f"{'step':<16}{'baseline s':>12}{'huge s':>10}{'× baseline':>12}")
    for k in steps:
        b, h = results["baseline"][k], results["huge"][k]
        print(f"{k:<16}{b:>12.3f}{h:>10.3f}{h / b if b else float('nan'):>12.1f}")
    for part in ("daily", "初报"):
        b = sum(v for k, v in results["baseline"].items() if k.startswith(part + ":"))
        h = sum(v for k, v in results["huge"].items() if k.startswith(part + ":"))
        print(f"{part + ' total':<16}{b:>12.3f}{h:>10.3f}{h / b:>12.1f}")
    print(f"items: daily {results['baseline']['items in daily']:.0f} / {results['huge']['items in daily']:.0f}, "
          f"初报 {results['baseline']['items in 初报']:.0f} / {results['huge']['items in 初报']:.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"mentions": args.mentions, "baseline": args.baseline, "load": load,
                                    "cpu": cpu_model(), "seconds": results}, ensure_ascii=False, indent=2),
                        encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
