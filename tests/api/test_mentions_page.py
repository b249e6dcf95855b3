"""舆情信息 (/mentions): search, filters, sorting, keyset pages, scoping, escaping, bad input and the charts,
driven through the page as a signed-in user would (the index is built by the pipeline's own indexing step)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from crawlers.models import ArticleMetricSample
from crawlers.search_index import index_pending

ROW_RE = re.compile(r'<tr id="article-(\d+)">')


def ids_on(html: str) -> list[int]:
    return [int(i) for i in ROW_RE.findall(html)]


def charts_of(html: str) -> str:
    section = html.split('class="card charts"')[1]
    return section[:section.index("</section>")]


@pytest.fixture
def corpus(make, session, clock):
    """A handful of articles in the monitor's scope, one story at level I, then indexed."""
    now = clock.now()
    story = make.story(title="新华路网点挤兑传闻")
    make.story_risk(story=story, score=85.0, level="I")
    a = {
        "run": make.article(story=story, title="示例银行新华路网点疑似挤兑", text="储户排队取现，有人说银行要跑路。",
                            at=now - timedelta(hours=5)),
        "repost": make.article(story=story, title="转发", text="转发微博：新华路网点的情况已经核实", label="neutral",
                               negative_prob=0.1, category="other", channel="social", source_id="weibo",
                               at=now - timedelta(hours=4)),
        "xinhua_only": make.article(title="新华书店开业", text="新华社报道，新华书店今日开业。", label="positive",
                                    negative_prob=0.05, category="other", at=now - timedelta(hours=3)),
        "cash": make.article(title="ATM 取现故障", text="自助设备暂停服务，稍后恢复。", label="neutral",
                             negative_prob=0.2, category="system_failure", source_id="tousu",
                             channel="complaint", at=now - timedelta(days=4)),
    }
    session.add(ArticleMetricSample(article_id=a["repost"].id, observed_at=now, reposts=900, comments=50, likes=10))
    session.add(ArticleMetricSample(article_id=a["cash"].id, observed_at=now, reposts=5, comments=1, likes=0))
    session.commit()
    assert index_pending(session, clock=clock) == 4
    return a


def test_search_finds_two_character_words_and_never_a_shorter_name(login_as, corpus):
    c = login_as("wangmin")
    assert ids_on(c.get("/mentions", params={"q": "挤兑"}).text) == [corpus["run"].id]
    assert ids_on(c.get("/mentions", params={"q": "取现"}).text) == [corpus["run"].id, corpus["cash"].id]
    assert ids_on(c.get("/mentions", params={"q": "跑路"}).text) == [corpus["run"].id]
    xinhualu = ids_on(c.get("/mentions", params={"q": "新华路"}).text)
    assert corpus["xinhua_only"].id not in xinhualu
    assert set(xinhualu) == {corpus["run"].id, corpus["repost"].id}
    assert corpus["xinhua_only"].id in ids_on(c.get("/mentions", params={"q": "新华"}).text)
    both = ids_on(c.get("/mentions", params={"q": "新华路 取现"}).text)  # every term must match
    assert both == [corpus["run"].id]
    assert ids_on(c.get("/mentions", params={"q": "atm"}).text) == [corpus["cash"].id]  # Latin, case-folded


def test_each_row_shows_its_own_tone_apart_from_its_storys_level(login_as, corpus):
    html = login_as("wangmin").get("/mentions", params={"q": "核实"}).text
    row = html[html.index(f'id="article-{corpus["repost"].id}"'):]
    row = row[:row.index("</tr>")]
    own = row[row.index('class="own-tone"'):]
    own = own[:own.index("</td>")]
    level = row[row.index('class="story-level"'):]
    level = level[:level.index("</td>")]
    assert "中性" in own and "级" not in own
    assert "I级" in level and "话题风险分 85.0" in level
    assert f'href="/stories/{corpus["run"].story_id}"' in row


def test_filters_narrow_the_list_and_stay_in_the_links(login_as, corpus, clock):
    c = login_as("wangmin")
    assert ids_on(c.get("/mentions", params={"sentiment": "neutral", "sort": "time"}).text) == [
        corpus["repost"].id, corpus["cash"].id]
    assert ids_on(c.get("/mentions", params={"channel": "social"}).text) == [corpus["repost"].id]
    assert ids_on(c.get("/mentions", params={"source": "tousu"}).text) == [corpus["cash"].id]
    assert set(ids_on(c.get("/mentions", params={"level": "I"}).text)) == {corpus["run"].id, corpus["repost"].id}
    assert ids_on(c.get("/mentions", params={"category": "system_failure"}).text) == [corpus["cash"].id]
    today = clock.now().astimezone(clock.now().tzinfo).date()
    recent = ids_on(c.get("/mentions", params={"since": (today - timedelta(days=1)).isoformat()}).text)
    assert corpus["cash"].id not in recent and corpus["run"].id in recent
    old = ids_on(c.get("/mentions", params={"until": (today - timedelta(days=2)).isoformat()}).text)
    assert old == [corpus["cash"].id]
    page = c.get("/mentions", params={"channel": "social", "q": "转发"}).text
    assert 'name="q" type="search" maxlength="100" value="转发"' in page
    assert '<option value="social" selected>' in page


def test_sorting_by_risk_time_and_reach(login_as, corpus):
    c = login_as("wangmin")
    by_time = ids_on(c.get("/mentions", params={"sort": "time"}).text)
    assert by_time == [corpus["xinhua_only"].id, corpus["repost"].id, corpus["run"].id, corpus["cash"].id]
    by_risk = ids_on(c.get("/mentions", params={"sort": "risk"}).text)
    assert by_risk[:2] == [corpus["run"].id, corpus["repost"].id]  # the level-I story first, more negative first
    by_reach = ids_on(c.get("/mentions", params={"sort": "reach"}).text)
    assert by_reach[:2] == [corpus["repost"].id, corpus["cash"].id]


def test_pages_of_fifty_by_keyset_without_gaps_or_repeats(login_as, make, session, clock):
    for i in range(120):
        make.article(title=f"第{i}条 储户反映取现排队", at=clock.now() - timedelta(minutes=i))
    session.commit()
    index_pending(session, clock=clock)
    c = login_as("wangmin")
    seen: list[int] = []
    url, params = "/mentions", {"q": "取现", "sort": "time"}
    pages = 0
    while url:
        html = c.get(url, params=params).text
        seen += ids_on(html)
        pages += 1
        assert "共 120 条" in html
        nxt = re.search(r'<a href="([^"]+)" rel="next">', html)
        url, params = (unescape(nxt.group(1)), None) if nxt else ("", None)
    assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120
    assert seen == sorted(seen)  # newest first: each article was made a minute older than the one before
    assert "回到第一页" in html


def test_a_sub_branch_user_never_sees_another_units_mentions(login_as, make, session, clock):
    own = make.article(title="光明路支行辖内新华路网点排队", unit_id="xinhualu")
    other = make.article(title="滨江花园网点排队取现", unit_id="binjianghuayuan")
    session.commit()
    index_pending(session, clock=clock)
    c = login_as("zhoufang")  # liaison of 光明路支行: its outlets, not 滨江
    listed = ids_on(c.get("/mentions").text)
    assert own.id in listed and other.id not in listed
    assert other.id not in ids_on(c.get("/mentions", params={"q": "排队"}).text)
    refused = c.get("/mentions", params={"unit": "binjianghuayuan"})
    assert refused.status_code == 403 and "滨江花园网点排队取现" not in refused.text
    assert other.id in ids_on(login_as("wangmin").get("/mentions", params={"unit": "binjianghuayuan"}).text)
    assert "滨江" not in charts_of(c.get("/mentions").text)


def test_crawled_text_is_escaped_and_hostile_links_are_not_links(login_as, make, session, clock):
    make.article(title='<script>alert("x")</script>挤兑', text="<img src=x onerror=alert(1)>",
                 url="javascript:alert(1)", snippet="<b>粗体</b>")
    session.commit()
    index_pending(session, clock=clock)
    html = login_as("wangmin").get("/mentions", params={"q": "挤兑"}).text
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<b>粗体</b>" not in html and "&lt;b&gt;粗体&lt;/b&gt;" in html
    assert 'href="javascript:' not in html


@pytest.mark.parametrize(("params", "message"), [
    ({"since": "2026-13-40"}, "起始日期格式无效"),
    ({"until": "yesterday"}, "截止日期格式无效"),
    ({"since": "2026-11-23", "until": "2026-11-01"}, "起始日期晚于截止日期"),
    ({"sentiment": "angry"}, "倾向无效"),
    ({"sort": "random"}, "排序方式无效"),
    ({"level": "V"}, "等级无效"),
    ({"channel": "tv"}, "渠道无效"),
    ({"source": "nope"}, "信息源无效"),
    ({"category": "x"}, "风险类别无效"),
    ({"unit": "nowhere"}, "单位无效"),
    ({"q": "钱"}, "中文搜索词至少两个字"),
    ({"q": "！！"}, "没有可搜索的文字"),
    ({"q": "x" * 101}, "过长"),
    ({"cursor": "not-a-cursor"}, "翻页游标"),
])
def test_bad_filter_values_get_a_400_page_in_chinese(login_as, corpus, params, message):
    r = login_as("wangmin").get("/mentions", params=params)
    assert r.status_code == 400
    assert message in r.text and "筛选条件有误" in r.text
    assert '<form class="card mention-filters"' in r.text  # the form is still there to fix the value


def test_a_cursor_of_another_filter_is_refused(login_as, make, session, clock):
    for i in range(60):
        make.article(title=f"第{i}条 取现", at=clock.now() - timedelta(minutes=i))
    session.commit()
    index_pending(session, clock=clock)
    c = login_as("wangmin")
    nxt = re.search(r'<a href="([^"]+)" rel="next">', c.get("/mentions", params={"sort": "time"}).text)
    cursor = re.search(r"cursor=([^&]+)", unescape(nxt.group(1))).group(1)
    r = c.get("/mentions", params={"sort": "risk", "cursor": cursor})
    assert r.status_code == 400 and "翻页游标" in r.text


def test_charts_describe_the_whole_filtered_set(login_as, corpus):
    charts = charts_of(login_as("wangmin").get("/mentions").text)
    assert charts.count("<svg") == 4
    assert "倾向分布：" in charts and "负面 1 条（25%）" in charts and "中性 2 条（50%）" in charts
    assert "来源分布：" in charts and "投诉平台 1 条" in charts and "微博 1 条" in charts
    assert "单位热度：新华路网点 4 条（负面 1）" in charts or "单位热度：新华路 4 条（负面 1）" in charts
    assert "信息量（按天）：共 4 条" in charts  # the articles span four days
    filtered = charts_of(login_as("wangmin").get("/mentions", params={"q": "新华路"}).text)
    assert "信息量（按小时）：共 2 条" in filtered
    assert "style=" not in charts  # the CSP forbids inline styles


def test_the_nav_links_the_page(login_as):
    html = login_as("huangwei").get("/").text
    assert '<a href="/mentions">舆情信息</a>' in html


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_search_on_both_databases(login_as, corpus):
    """The same page on PostgreSQL (bigram tsvector, GIN) as on SQLite (FTS5): same answers."""
    c = login_as("wangmin")
    assert ids_on(c.get("/mentions", params={"q": "挤兑"}).text) == [corpus["run"].id]
    got = set(ids_on(c.get("/mentions", params={"q": "新华路"}).text))
    assert got == {corpus["run"].id, corpus["repost"].id}
    assert corpus["xinhua_only"].id in ids_on(c.get("/mentions", params={"q": "新华"}).text)
    assert ids_on(c.get("/mentions", params={"q": "新华路 取现"}).text) == [corpus["run"].id]
    html = c.get("/mentions", params={"q": "新华路", "sort": "reach"}).text
    assert ids_on(html) == [corpus["repost"].id, corpus["run"].id]
    assert "信息量（按小时）：共 2 条" in html
