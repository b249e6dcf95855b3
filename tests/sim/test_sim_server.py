"""The simulated internet over real HTTP: visibility follows the clock, feeds and charsets are what crawlers will
meet in the wild, the Weibo API guards itself, and the story spreads and ends as scripted."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
from starlette.testclient import TestClient

from sim.model import INCIDENT
from sim.scenario import DEFAULT_START, build_scenario
from sim.server import create_app
from yuqing.clock import FrozenClock

TOKEN = {"Authorization": "Bearer sim-weibo-token"}
S0 = DEFAULT_START


def at(sim, **kw) -> None:
    sim.clock.set(S0 + timedelta(**kw))


def search(client: httpx.Client, **params) -> dict:
    r = client.get("/weibo/api/statuses/search", params=params, headers=TOKEN)
    assert r.status_code == 200, r.text
    return r.json()


def test_health_and_status(sim, client):
    assert client.get("/__sim/health").status_code == 200
    at(sim, hours=6)
    st = client.get("/__sim/status").json()
    assert st["finished"] is False and st["progress"] == pytest.approx(0.5)
    assert st["visible"]["news"] > 0 and st["visible"]["weibo"] > 0
    at(sim, hours=12)
    st = client.get("/__sim/status").json()
    assert st["finished"] is True and st["progress"] == 1.0
    assert sim.scenario.finished(S0 + timedelta(hours=12))
    assert not sim.scenario.finished(S0 + timedelta(hours=11, minutes=59))


def test_complaint_visibility_follows_clock(sim, client):
    first = sim.scenario.find("c-xinhua-1")
    at(sim, minutes=-1)
    ids = [c["id"] for c in client.get("/complaints/api/list", params={"page_size": 50}).json()["data"]]
    assert first.id not in ids
    assert client.get(first.path).status_code == 404
    at(sim, minutes=1)
    data = client.get("/complaints/api/list", params={"page": 1, "page_size": 5}).json()
    top = data["data"][0]
    assert top["id"] == first.id and "新华路网点" in top["title"]
    assert top["status"] == "处理中" and top["target"] == "示例银行" and top["amount"] == "50000元"
    assert datetime.fromisoformat(top["created_at"]).utcoffset() == timedelta(hours=8)
    assert data["has_more"] is True and data["page"] == 1
    page = client.get(first.path)
    assert page.status_code == 200 and "不让取自己的钱" in page.text
    # status evolves with time
    at(sim, hours=3, minutes=30)
    assert client.get(first.path).text.count("已回复") >= 1
    at(sim, hours=10)
    by_id = {c["id"]: c for c in client.get("/complaints/api/list", params={"page_size": 50}).json()["data"]}
    assert by_id[first.id]["status"] == "已完成"


def test_provincial_article_only_after_four_hours(sim, client):
    art = sim.scenario.find("p-xinhua-1")
    at(sim, hours=3, minutes=59)
    assert art.path not in client.get("/province/rss.xml").text
    assert client.get(art.path).status_code == 404
    at(sim, hours=4, minutes=1)
    assert art.path in client.get("/province/rss.xml").text
    page = client.get(art.path)
    assert page.status_code == 200 and "新华路网点" in page.text and 'id="artibody"' in page.text


def test_news_list_paginates_and_hides_future(sim, client):
    article = sim.scenario.find("n-xinhua-1")
    at(sim, hours=1, minutes=59)
    assert article.path not in client.get("/news/list_1.html").text
    assert client.get(article.path).status_code == 404
    at(sim, hours=2, minutes=1)
    first = client.get("/news/list_1.html").text
    assert article.path in first and "list_2.html" in first
    assert len(re.findall(r'href="/news/a/\d+\.html"', first)) == 15
    assert client.get("/news/list_99.html").status_code == 404


def test_repost_counters_grow_monotonically(sim, client):
    root = sim.scenario.post_by_key("w-root")
    seen = []
    for minutes in (21, 40, 90, 130, 200, 260, 330, 420, 600, 719):
        at(sim, minutes=minutes)
        statuses = search(client, q="新华路网点取他自己的5万块钱", count=100)["statuses"]
        original = next(s for s in statuses if s["id"] == str(root.id))
        seen.append((original["reposts_count"], original["comments_count"], original["attitudes_count"]))
    for earlier, later in itertools.pairwise(seen):
        assert all(b >= a for a, b in zip(earlier, later, strict=True))
    assert seen[-1][0] > 20 * max(1, seen[0][0])
    # growth plateaus at the end: the last two samples are within 2 %
    assert seen[-1][0] - seen[-2][0] <= 0.02 * seen[-1][0]


def test_weibo_story_spreads_with_repost_chains(sim, client):
    at(sim, minutes=19)
    assert search(client, q="新华路网点取")["total_number"] == 0
    at(sim, hours=1)
    early = search(client, q="新华路网点", count=100)["total_number"]
    at(sim, hours=6, minutes=30)
    data = search(client, q="新华路网点", count=100)
    assert data["total_number"] > early > 0
    reposts = [s for s in data["statuses"] if "retweeted_status" in s]
    assert reposts, "reposts carry the original"
    assert any("//@" in s["text"] for s in reposts)
    assert all("新华路网点" in s["retweeted_status"]["text"] or "新华路网点" in s["text"] for s in reposts)
    official = [s for s in search(client, q="郑重声明 经营一切正常")["statuses"] if "retweeted_status" not in s]
    assert official and official[0]["user"]["verified"] is True and official[0]["user"]["verified_type"] == 2
    created = official[0]["created_at"]
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \+0800 \d{4}", created)
    rumour = search(client, q="要倒闭")["statuses"]
    assert rumour


def test_weibo_since_id_and_max_id_pagination(sim, client):
    at(sim, hours=5)
    first = search(client, count=20)
    assert len(first["statuses"]) == 20 and first["has_more"] is True
    ids = [int(s["id"]) for s in first["statuses"]]
    assert ids == sorted(ids, reverse=True)
    second = search(client, count=20, max_id=first["max_id"])
    assert max(int(s["id"]) for s in second["statuses"]) < min(ids)
    newest = first["since_id"]
    assert search(client, since_id=newest)["statuses"] == []
    at(sim, hours=5, minutes=30)
    newer = search(client, since_id=newest, count=100)["statuses"]
    assert newer and all(int(s["id"]) > int(newest) for s in newer)
    timeline = client.get("/weibo/api/statuses/public_timeline", params={"access_token": "sim-weibo-token"})
    assert timeline.status_code == 200 and timeline.json()["statuses"]


def test_weibo_requires_token(sim, client):
    assert client.get("/weibo/api/statuses/search", params={"q": "银行"}).status_code == 401
    r = client.get("/weibo/api/statuses/search", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error_code"] == 21332
    assert client.get("/weibo/api/statuses/public_timeline", params={"access_token": "nope"}).status_code == 401
    assert client.get("/weibo/api/statuses/search", params={"access_token": "sim-weibo-token"}).status_code == 200


def test_weibo_rate_limit():
    sc = build_scenario(S0)
    app = create_app(FrozenClock(S0 + timedelta(hours=1)), sc, weibo_token="t", weibo_rate_limit=3)
    with TestClient(app) as c:
        codes = [c.get("/weibo/api/statuses/public_timeline", params={"access_token": "t"}).status_code
                 for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]


def test_gbk_pages(sim, client):
    at(sim, hours=2, minutes=1)
    # header and meta both say gbk (the crisis article)
    r = client.get(sim.scenario.find("n-xinhua-1").path)
    assert "charset=gbk" in r.headers["content-type"].lower()
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    text = r.content.decode("gb18030")
    assert '<meta charset="gbk">' in text and "示例银行江城分行新华路网点" in text
    # only the meta declares gb2312; the header has no charset
    r = client.get(sim.scenario.find("n-bg-03").path)
    assert "charset" not in r.headers["content-type"].lower()
    text = r.content.decode("gb18030")
    assert "charset=gb2312" in text and "金融知识进社区" in text
    # only the header declares it
    r = client.get(sim.scenario.find("n-bg-05").path)
    assert "charset=gbk" in r.headers["content-type"].lower()
    text = r.content.decode("gb18030")
    assert "charset" not in text.split("</head>")[0] and "研究生考试" in text


def test_rss_parses_with_rfc822_dates(sim, client):
    at(sim, hours=6, minutes=30)
    for path in ("/news/rss.xml", "/province/rss.xml"):
        r = client.get(path)
        assert r.status_code == 200 and "xml" in r.headers["content-type"]
        items = ET.fromstring(r.content).findall("./channel/item")
        assert 0 < len(items) <= 30
        dates = []
        for item in items:
            raw = item.findtext("pubDate")
            assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0800", raw), raw
            dates.append(parsedate_to_datetime(raw))
            assert item.findtext("link").startswith(sim.base_url)
        assert dates == sorted(dates, reverse=True)
        assert max(dates) <= sim.clock.now()
    titles = [i.findtext("title") for i in ET.fromstring(client.get("/news/rss.xml").content).iter("item")]
    assert any("回应" in t for t in titles)


def test_news_sitemap(sim, client):
    at(sim, hours=6, minutes=30)
    root = ET.fromstring(client.get("/news/sitemap-news.xml").content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "news": "http://www.google.com/schemas/sitemap-news/0.9"}
    urls = root.findall("s:url", ns)
    assert urls
    for url in urls:
        raw = url.find("news:news/news:publication_date", ns).text
        when = datetime.fromisoformat(raw)
        assert raw.endswith("+08:00")
        assert sim.clock.now() - timedelta(days=2) <= when <= sim.clock.now()
    locs = [u.find("s:loc", ns).text for u in urls]
    assert any(loc.endswith(sim.scenario.find("n-xinhua-2").path) for loc in locs)


@pytest.mark.parametrize("path", ["/news/rss.xml", "/news/sitemap-news.xml", "/province/rss.xml"])
def test_conditional_get(sim, client, path):
    at(sim, hours=2, minutes=30)
    r = client.get(path)
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    at(sim, hours=7)
    fresh = client.get(path, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 200


def test_hostile_pages(sim, client):
    sc = sim.scenario
    at(sim, hours=1)
    listed = "".join(client.get(f"/news/list_{n}.html").text for n in range(1, 5))
    for key in ("h-xss", "h-malformed", "h-flaky", "h-missing", "h-huge", "h-slow"):
        assert sc.find(key).path in listed, key
    xss = client.get(sc.find("h-xss").path).text
    assert "<script>alert(1)</script>" in xss
    assert client.get(sc.find("h-missing").path).status_code == 404
    codes = {client.get(sc.find("h-flaky").path).status_code for _ in range(4)}
    assert codes == {200, 500}
    broken = client.get(sc.find("h-malformed").path).text
    assert not broken.rstrip().endswith("</html>")
    huge = client.get(sc.find("h-huge").path)
    assert 2_500_000 < len(huge.content) < 4_500_000
    assert client.get(sc.find("h-slow").path).status_code == 200


def test_regulator(sim, client):
    at(sim, minutes=1)
    page = client.get("/regulator/list.html").text
    links = re.findall(r'href="(/regulator/detail/\d+\.html)"', page)
    assert len(links) >= 7
    own = sim.scenario.find("r-01")
    assert own.path in links
    detail = client.get(own.path).text
    for label in ("当事人名称", "主要违法违规事实", "行政处罚内容", "作出决定机关", "作出决定日期"):
        assert label in detail
    assert "示例银行" in detail
    assert sum("示例银行" in client.get(link).text for link in links) == 1


def test_distractors_exist(sim, client):
    sc = sim.scenario
    at(sim, hours=12)
    truths = sc.ground_truth()
    share = sum(1 for t in truths.values() if t != INCIDENT) / len(truths)
    assert share >= 0.75
    # 新华路 without the bank: road works, other banks' 新华路营业厅, food...
    posts = search(client, q="新华路", count=100)["statuses"]
    assert any("示例" not in s["text"] and "示例" not in s.get("retweeted_status", {}).get("text", "")
               for s in posts)
    assert any("招商银行江城新华路营业厅" in s["text"] for s in search(client, q="招商银行", count=100)["statuses"])
    news_titles = client.get("/news/list_2.html").text + client.get("/news/list_3.html").text
    assert "新华路雨污分流" in news_titles or "新华路施工" in news_titles
    assert any("示例代码" in s["text"] for s in search(client, q="示例代码")["statuses"])
