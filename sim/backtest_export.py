"""The scripted crisis as a backtest file (``yuqing backtest --export-sim OUT.jsonl``).

Every item the simulated internet would serve, as the JSON lines ``yuqing backtest`` reads, so the same crisis
can be replayed without the sim and the crawler: what the demo crawls, it would have seen. How the sim's content
becomes lines:

* news and provincial articles → ``news`` (provincial ones with authority ``provincial_media``), title and body
  paragraphs as the page shows them (the page's chrome, related links and reader comments are left out);
* posts → ``weibo`` with the author, the author's followers and, for a repost, the original it forwards
  (``retweeted_*``); a post is observed again every ``poll_minutes`` while its counters rise (one line per
  observation whose counts changed: the re-polls that make the spread curve);
* complaints → ``complaint``; penalty notices → ``regulator``;
* hostile test pages are left out when the sim serves them as missing (404).

An item published before the scenario starts is observed at the start (the demo's first crawl finds it then).
``expect`` is ``noise`` for the sim's distractors and hostile pages (not about the bank), ``bank`` for the
incident's own items, absent otherwise. Ids are the sim's stable keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sim.model import DISTRACTOR, HOSTILE, INCIDENT
from sim.render import REGULATOR_NAME
from sim.scenario import DEFAULT_START, PlacedPost, Scenario, build_scenario, fill

BASE = "https://sim.invalid"
DEFAULT_POLL_MINUTES = 10


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _expect(truth: str) -> dict[str, str]:
    if truth in (DISTRACTOR, HOSTILE):
        return {"expect": "noise"}
    if truth == INCIDENT:
        return {"expect": "bank"}
    return {}


def _observed(published: datetime, start: datetime) -> dict[str, str]:
    return {"observed_at": _iso(start)} if published < start else {}


def _post_text(pp: PlacedPost, sc: Scenario) -> str:
    text = fill(pp.text, pp.published, sc.start)
    return text + " 视频" if pp.post.video else text


def backtest_lines(sc: Scenario, *, poll_minutes: int = DEFAULT_POLL_MINUTES) -> Iterator[dict[str, Any]]:
    """The scenario's items as backtest records, each observation once, in time order."""
    out: list[dict[str, Any]] = []
    for group, authority in ((sc.news, "local_media"), (sc.province, "provincial_media")):
        for pa in group:
            art = pa.article
            if art.kind == "missing":
                continue
            out.append({"id": art.key, "published_at": _iso(pa.published), **_observed(pa.published, sc.start),
                        "source_type": "news", "source": art.source, "authority": authority,
                        "url": f"{BASE}{pa.path}", "title": art.title,
                        "text": "\n".join(fill(p, pa.published, sc.start) for p in art.body),
                        **_expect(art.truth)})
    for pc in sc.complaints:
        c = pc.complaint
        out.append({"id": c.key, "published_at": _iso(pc.published), **_observed(pc.published, sc.start),
                    "source_type": "complaint", "source": "消费投诉平台", "url": f"{BASE}{pc.path}",
                    "title": c.title, "text": fill(c.content, pc.published, sc.start), "author": c.author,
                    **_expect(c.truth)})
    for pp in sc.penalties:
        p = pp.penalty
        text = (f"行政处罚决定书文号：{p.doc_no}\n被处罚当事人：{p.party}\n主要违法违规事实：{p.facts}\n"
                f"行政处罚内容：{p.punishment}\n作出处罚决定的机关：{p.authority}")
        out.append({"id": p.key, "published_at": _iso(pp.published), **_observed(pp.published, sc.start),
                    "source_type": "regulator", "source": REGULATOR_NAME, "url": f"{BASE}{pp.path}",
                    "title": f"{REGULATOR_NAME}行政处罚信息公开表（{p.doc_no}）", "text": text, **_expect(p.truth)})
    step = timedelta(minutes=poll_minutes)
    for pp in sc.weibo:
        base: dict[str, Any] = {"id": pp.key, "published_at": _iso(pp.published), "source_type": "weibo",
                                "source": "微博", "url": f"{BASE}{pp.path}", "text": _post_text(pp, sc),
                                "author": pp.user.screen_name, "followers": pp.user.followers_count,
                                **_expect(pp.post.truth)}
        if pp.root_key is not None:
            root = sc.post_by_key(pp.root_key)
            base.update({"retweeted_id": root.key, "retweeted_text": _post_text(root, sc),
                         "retweeted_author": root.user.screen_name})
        seen = max(pp.published, sc.start)
        last: tuple[int, int, int] | None = None
        while seen <= sc.end:
            counts = pp.growth.at_age((seen - pp.published).total_seconds() / 60)
            if counts != last:
                line = dict(base, reposts=counts[0], comments=counts[1], likes=counts[2])
                if seen != pp.published:
                    line["observed_at"] = _iso(seen)
                out.append(line)
                last = counts
            seen += step
    out.sort(key=lambda r: (r.get("observed_at") or r["published_at"], r["id"]))
    yield from out


def write_backtest_file(path: Path, *, start: datetime = DEFAULT_START,
                        poll_minutes: int = DEFAULT_POLL_MINUTES) -> int:
    """Write the scenario (starting at ``start``) to ``path``; returns the number of lines."""
    sc = build_scenario(start)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for record in backtest_lines(sc, poll_minutes=poll_minutes):
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
