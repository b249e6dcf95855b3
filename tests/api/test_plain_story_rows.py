"""A story's evidence is read as plain rows, not ``Article`` / ``Classification`` objects (``views.story_detail``,
docs/benchmarks.md, API throughput, fifth round): ``/api/v1/stories/{id}`` and the incident page's story must be
exactly what the object form (``views.story_read`` over ``Story.articles``) builds — every fallback included (no
classification, no title, a mention without a snippet and a text longer than the snippet, a second mention of
another unit, an author, a duplicate, articles with the same time and with none) — on both databases."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from api import queries, views
from crawlers.models import Mention

BOTH_DATABASES = pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                         indirect=True)
LONG_TEXT = "储户反映示例银行新华路网点暂停大额取现，" * 20  # 200 characters: the snippet is its first 160


def object_form(session, org, story_id: int) -> dict:
    """The story as the object form builds it (``Story.articles`` loaded, ``story_read``), on a fresh session."""
    session.expire_all()
    story = queries.get_story(session, story_id=story_id)
    return views.story_read(session, org, story).model_dump(mode="json")


@BOTH_DATABASES
def test_a_story_from_plain_rows_is_what_the_objects_gave(client, make, session, org, users, token_for, clock):
    now = clock.now()
    story = make.story(unit_id="xinhualu", title="挤兑传言")
    make.story_risk(story=story, score=81.0, level="I", at=now - timedelta(hours=1))
    same_time = now - timedelta(minutes=30)
    make.article(story=story, title="新华路网点挤兑", at=same_time)
    make.article(story=story, title="新华路网点挤兑（转载）", at=same_time, source_id="weibo", channel="social")
    make.article(story=story, title="", text=LONG_TEXT, snippet="", at=now - timedelta(minutes=40))  # no title
    make.article(story=story, title="未分类", label=None, at=now - timedelta(minutes=20))
    other_unit = make.article(story=story, title="光明路也有", unit_id="guangminglu", primary=False,
                              at=now - timedelta(minutes=10))
    session.add(Mention(article_id=other_unit.id, unit_id="xinhualu", is_primary=True, terms=["新华路"],
                        snippet="新华路网点的说法"))  # the primary mention is the one shown
    author = make.article(story=story, title="作者署名", at=now - timedelta(minutes=5))
    author.author, author.is_duplicate = "某博主", True
    tokyo = make.article(story=story, title="东京时间", at=now - timedelta(minutes=3))  # a page that gave +09:00
    tokyo.meta = {**(tokyo.meta or {}),
                  "published_local": tokyo.published_at.astimezone(timezone(timedelta(hours=9))).isoformat()}
    undated = [make.article(story=story, title=f"无发布时间{n}", at=now - timedelta(minutes=n)) for n in (1, 2)]
    for article in undated:
        article.published_at = None
    make.session.commit()

    got = client.get(f"/api/v1/stories/{story.id}", headers=token_for("wangmin"))
    assert got.status_code == 200, got.text
    expected = object_form(session, org, story.id)
    assert got.json() == expected
    assert len(expected["articles"]) == 9
    shown = {a["title"]: a for a in expected["articles"]}
    assert shown["（无标题）"]["snippet"] == LONG_TEXT[:160]  # the mention had none: the text's first 160 characters
    assert shown["未分类"]["label"] is None and shown["未分类"]["category_name"] is None
    assert shown["光明路也有"]["snippet"] == "新华路网点的说法"
    assert shown["作者署名"]["author"] == "某博主" and shown["作者署名"]["is_duplicate"] is True
    # the page's own zone beside the UTC instant; Beijing time when the page named none; nothing when undated
    assert shown["东京时间"]["published_local"].endswith("+09:00")
    assert shown["东京时间"]["published_at"].endswith(("Z", "+00:00"))
    assert shown["作者署名"]["published_local"].endswith("+08:00")
    assert shown["无发布时间1"]["published_local"] is None


@BOTH_DATABASES
def test_the_incident_page_s_story_is_the_object_form_s(client, make, session, org, users, token_for, clock):
    story, _, incident = make.crisis()
    make.article(story=story, title="", text=LONG_TEXT, snippet="", label=None, at=clock.now())
    make.session.commit()
    got = client.get(f"/api/v1/incidents/{incident.id}", headers=token_for("wangmin"))
    assert got.status_code == 200, got.text
    assert got.json()["story"] == object_form(session, org, story.id)
    assert len(got.json()["story"]["articles"]) == 3
