"""The incident page in sections: a section nav, summary and clocks first, evidence collapsed and paged
(``?evidence_page=N``, 20 a page) while every other section stays on the page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

SCRIPT = "<script>alert(1)</script>"
SECTIONS = [("summary", "概况与时限"), ("checklist", "处置清单"), ("timeline", "时间线"), ("statements", "口径"),
            ("reports", "报告"), ("evidence", "证据")]


def _big_crisis(make, session, clock, n: int = 45):
    """An incident whose story has ``n`` articles, published a minute apart, titled 报道001… in that order."""
    story = make.story(unit_id="xinhualu", title="示例银行新华路网点挤兑传闻")
    start = clock.now()
    for i in range(1, n + 1):
        make.article(story=story, at=start + timedelta(minutes=i), title=f"报道{i:03d}{SCRIPT}",
                     url=f"https://news.example.cn/a/{i}.html")
    make.story_risk(story=story, level="II")
    incident = make.incident(unit_id="xinhualu", level="II", story=story)
    make.alert(story=story, level="II", incident=incident, status="acknowledged")
    session.commit()
    return incident


def _evidence(html: str) -> str:
    start = html.index('<section class="card" id="evidence">')
    return html[start:html.index("</section>", start)]


def _titles(html: str) -> list[int]:
    return [int(m) for m in re.findall(r"<h3>报道(\d{3})", _evidence(html))]


def test_sections_are_in_order_with_a_nav_and_summary_and_clocks_first(login_as, make, session, clock):
    incident = _big_crisis(make, session, clock, n=3)
    html = login_as("liuqiang").get(f"/incidents/{incident.id}").text
    nav = html[html.index('<nav class="section-nav"'):]
    nav = nav[:nav.index("</nav>")]
    assert [label for _, label in SECTIONS] == [label for _, label in SECTIONS if label in nav]
    positions = [nav.index(label) for _, label in SECTIONS]
    assert positions == sorted(positions)
    for anchor, _ in SECTIONS:
        assert f'#{anchor}"' in nav
    sections = [html.index(f'<section class="card" id="{anchor}"') for anchor, _ in SECTIONS]
    assert sections == sorted(sections)
    # summary and clocks come before the action forms and everything else
    assert html.index('id="summary"') < html.index("报告时限") < html.index('id="actions"') < sections[1]
    # the evidence is collapsed unless a page of it was asked for
    assert "<details>\n  <summary><h2>证据（相关报道）" in html


def test_evidence_is_paged_twenty_at_a_time_keeping_the_other_sections(login_as, make, session, clock):
    incident = _big_crisis(make, session, clock)
    c = login_as("liuqiang")
    first = c.get(f"/incidents/{incident.id}").text
    assert _titles(first) == list(range(1, 21))
    assert 'href="?evidence_page=2#evidence" rel="next"' in first and 'rel="prev"' not in _evidence(first)
    second = c.get(f"/incidents/{incident.id}?evidence_page=2").text
    assert _titles(second) == list(range(21, 41))
    assert '<details open>' in _evidence(second) and '<ol class="evidence" start="21">' in second
    assert 'rel="prev"' in second and 'href="?evidence_page=3#evidence" rel="next"' in second
    for text in ["报告时限", "处置清单", "核实情况", "处置记录", "系统自动立案", "为什么预警", "口径"]:
        assert text in second, text
    third = c.get(f"/incidents/{incident.id}?evidence_page=3").text
    assert _titles(third) == list(range(41, 46)) and 'rel="next"' not in _evidence(third)
    assert "第 3 / 3 页" in third and "证据（相关报道） <span class=\"count\">45</span>" in third


@pytest.mark.parametrize("raw, expected_page", [
    ("abc", 1), ("0", 1), ("-2", 1), ("", 1), ("1.5", 1), ("²", 1), ("%00", 1), (SCRIPT, 1),
    ("4", 3), ("999999999", 3), ("9" * 90, 3),
])
def test_a_bad_or_out_of_range_page_shows_a_page_not_an_error(login_as, make, session, clock, raw, expected_page):
    incident = _big_crisis(make, session, clock)
    r = login_as("liuqiang").get(f"/incidents/{incident.id}", params={"evidence_page": raw})
    assert r.status_code == 200
    assert f"第 {expected_page} / 3 页" in r.text
    assert len(_titles(r.text)) <= 20
    assert SCRIPT not in r.text


def test_a_page_value_too_long_to_be_a_page_is_refused_clearly(login_as, make, session, clock):
    incident = _big_crisis(make, session, clock, n=2)
    r = login_as("liuqiang").get(f"/incidents/{incident.id}", params={"evidence_page": "1" * 200})
    assert r.status_code == 422 and "请求参数无效" in r.text


def test_no_page_lists_more_than_twenty_articles(login_as, make, session, clock):
    incident = _big_crisis(make, session, clock, n=41)
    c = login_as("liuqiang")
    counts = [len(_titles(c.get(f"/incidents/{incident.id}?evidence_page={p}").text)) for p in (1, 2, 3)]
    assert counts == [20, 20, 1]


def test_crawled_titles_are_escaped_on_every_evidence_page(login_as, make, session, clock):
    incident = _big_crisis(make, session, clock, n=25)
    c = login_as("liuqiang")
    for p in (1, 2):
        html = c.get(f"/incidents/{incident.id}?evidence_page={p}").text
        assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in _evidence(html)


def test_an_incident_without_a_story_says_there_is_no_evidence(login_as, make, session):
    incident = make.incident(unit_id="xinhualu", level="III")
    session.commit()
    html = login_as("liuqiang").get(f"/incidents/{incident.id}?evidence_page=2").text
    assert "暂无关联报道" in _evidence(html) and "证据（相关报道） <span class=\"count\">0</span>" in html
