"""Monitors' actions become labels, export as corpus JSONL, and fine-tuning on them moves the model their way."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawlers.models import Article, Mention, Story
from incidents import service
from incidents.errors import IncidentError
from incidents.policy import Policy, load_policy
from sentiment import feedback
from sentiment.corpus import CORPUS_DIR, HELDOUT_DIR, load_jsonl
from sentiment.models import Classification, FeedbackLabel, StoryRisk
from sentiment.passages import passages_about
from sentiment.train import TrainConfig, train
from tests.helpers import created_sqlite_engine
from yuqing.clock import FrozenClock
from yuqing.db import make_engine, make_sessionmaker
from yuqing.org import OrgChart, load_org

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
HOSTILE = '网友爆料："<script>alert(1)</script>" 光明路支行\n{"polarity": "positive"} & 柜员态度差？'


@pytest.fixture(scope="module")
def org() -> OrgChart:
    return load_org(ROOT / "config" / "org.yaml")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(ROOT / "config" / "levels.yaml", ROOT / "config" / "checklists")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "feedback.db"
    created_sqlite_engine(path).dispose()
    return path


@pytest.fixture
def session(db_path: Path):
    engine = make_engine(f"sqlite:///{db_path}")
    s = make_sessionmaker(engine)()
    try:
        yield s
    finally:
        s.close()
        engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def _story(session, clock, articles: list[tuple[str, str, str]], *, title: str = "示例银行光明路支行被投诉") -> Story:
    """A story whose articles (title, text, classifier label) were classified by a (wrong) model."""
    now = clock.now()
    story = Story(title=title, unit_id="guangminglu", first_seen_at=now, last_seen_at=now,
                  article_count=len(articles))
    session.add(story)
    session.flush()
    for i, (a_title, text, label) in enumerate(articles):
        url = f"https://weibo.example/{story.id}/{i}"
        article = Article(source_id="weibo", channel="social", url=url, url_hash=_sha(url), title=a_title,
                          text=text, fetched_at=now, content_hash=_sha(text), story_id=story.id, stage="scored")
        session.add(article)
        session.flush()
        session.add(Mention(article_id=article.id, unit_id="guangminglu", is_primary=True, terms=["光明路支行"]))
        session.add(Classification(article_id=article.id, label=label,
                                   negative_prob=0.9 if label == "negative" else 0.1, category="service_attitude",
                                   model="transformer:test", classified_at=now, cues=[]))
    session.flush()
    return story


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _alert(session, story, *, level, org, policy, clock) -> int:
    risk = StoryRisk(story_id=story.id, computed_at=clock.now(), score=30.0, level=level, category="service_attitude",
                     factors={})
    session.add(risk)
    session.flush()
    return service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock).alert_id


def _labels(session) -> list[FeedbackLabel]:
    return list(session.scalars(select(FeedbackLabel).order_by(FeedbackLabel.article_id, FeedbackLabel.source)))


# --- recording ---------------------------------------------------------------------------------------------------

def test_dismissal_labels_the_negative_articles_neutral_once_even_after_a_restart(session, db_path, org, policy, clock):
    long_text = ("今天天气很好，路上车很多。" * 5 + "光明路支行的大堂经理耐心解释了理财赎回规则。"
                 + "随后去吃了午饭。" * 5)
    story = _story(session, clock, [("澄清：光明路支行并未限制取款", HOSTILE, "negative"),
                                     ("光明路支行办业务记", long_text, "negative"),
                                     ("光明路支行营业时间调整", "光明路支行周末正常营业。", "neutral")])
    alert_id = _alert(session, story, level="IV", org=org, policy=policy, clock=clock)
    service.dismiss_alert(session, alert_id=alert_id, user_login="wangmin", reason="辟谣信息，并非负面", clock=clock)
    session.commit()

    labels = _labels(session)
    assert [(lb.source, lb.label, lb.predicted_label, lb.labelled_by) for lb in labels] == [
        ("dismissal", "neutral", "negative", "wangmin")] * 2
    assert all(lb.about_bank and lb.reason == "辟谣信息，并非负面" and lb.alert_id == alert_id for lb in labels)
    assert labels[0].text == passages_about("澄清：光明路支行并未限制取款", HOSTILE, ["光明路支行"])
    assert '"<script>alert(1)</script>"' in labels[0].text and "&" in labels[0].text  # plain text, not escaped
    assert labels[1].text == passages_about("光明路支行办业务记", long_text, ["光明路支行"])  # what the model saw
    assert labels[1].text.count("天气") == 1 and labels[1].text.count("午饭") == 1  # one neighbour each side

    with pytest.raises(IncidentError):
        service.dismiss_alert(session, alert_id=alert_id, user_login="wangmin", reason="再点一次", clock=clock)
    session.rollback()
    # A restart replays the recording (a new engine on the same file): still one label per article and source.
    engine = make_engine(f"sqlite:///{db_path}")
    with make_sessionmaker(engine)() as again:
        feedback.record_dismissal(again, story_id=story.id, alert_id=alert_id, user_login="wangmin",
                                  reason="辟谣信息，并非负面", at=clock.now() + timedelta(hours=1))
        again.commit()
        assert again.scalar(select(func.count()).select_from(FeedbackLabel)) == 2
    engine.dispose()


def test_manual_open_and_raise_label_the_neutral_articles_negative_and_retract_a_dismissal(session, org, policy,
                                                                                          clock):
    story = _story(session, clock, [("光明路支行排队三小时", "光明路支行只开一个窗口，排了三个小时。", "neutral"),
                                     ("光明路支行服务“真好”", "光明路支行服务真是好啊，经理玩手机不理人。", "positive"),
                                     ("光明路支行柜员骂人", "光明路支行柜员当众骂老人。", "negative")])
    alert_id = _alert(session, story, level="IV", org=org, policy=policy, clock=clock)
    incident = service.open_incident_from_alert(session, alert_id=alert_id, user_login="wangmin", org=org,
                                                policy=policy, clock=clock)
    session.commit()
    labels = _labels(session)
    assert [(lb.source, lb.label, lb.predicted_label) for lb in labels] == [
        ("manual_raise", "negative", "neutral"), ("manual_raise", "negative", "positive")]
    assert labels[0].reason.startswith("人工立案") and labels[0].about_bank

    clock.advance(timedelta(minutes=5))
    service.change_level(session, incident_id=incident.id, new_level="III", reason="转发量快速上升",
                         user_login="liuqiang", org=org, policy=policy, clock=clock)
    session.commit()
    assert len(_labels(session)) == 2  # the raise after the opening adds nothing twice

    # Another story: dismissed by one monitor, then raised by hand after it spread; the later judgement wins.
    other = _story(session, clock, [("滨江支行被曝乱收费", "滨江支行乱收费，年费扣了两次。", "negative")],
                   title="滨江支行乱收费")
    other_alert = _alert(session, other, level="IV", org=org, policy=policy, clock=clock)
    service.dismiss_alert(session, alert_id=other_alert, user_login="wangmin", reason="信息不实", clock=clock)
    assert [lb.source for lb in _labels(session) if lb.story_id == other.id] == ["dismissal"]
    risk = StoryRisk(story_id=other.id, computed_at=clock.now(), score=70.0, level="II", category="opaque_fees",
                     factors={})
    session.add(risk)
    session.flush()
    out = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy, clock=clock)
    service.change_level(session, incident_id=out.incident_id, new_level="I", reason="媒体跟进报道",
                         user_login="liuqiang", org=org, policy=policy, clock=clock)
    session.commit()
    assert [lb.source for lb in _labels(session) if lb.story_id == other.id] == []


def test_a_dismissal_saying_not_a_bank_marks_the_text_not_about_a_bank():
    assert feedback.about_bank_from_reason("同名企业，非本行") is False
    assert feedback.about_bank_from_reason("新华路是路名，与银行无关") is False
    assert feedback.about_bank_from_reason("说的是他行，不是本行") is True  # still about a bank (label guide)
    assert feedback.about_bank_from_reason("辟谣信息") is True


def test_export_writes_corpus_jsonl_that_the_corpus_loader_reads_back_exactly(session, org, policy, clock, tmp_path):
    story = _story(session, clock, [("光明路支行爆料", HOSTILE, "negative"),
                                     ("转发：光明路支行爆料", HOSTILE, "negative")])  # a verbatim repost
    alert_id = _alert(session, story, level="IV", org=org, policy=policy, clock=clock)
    service.dismiss_alert(session, alert_id=alert_id, user_login="wangmin", reason="同名企业，非本行", clock=clock)
    session.commit()
    path = tmp_path / "fb" / "feedback.jsonl"
    assert feedback.export_feedback(session, path) == 2  # different titles, so two passages
    items = load_jsonl(path)
    first = _labels(session)[0]
    assert items[0].id == f"feedback-{first.article_id}-dismissal"
    assert (items[0].text, items[0].polarity, items[0].about_bank, items[0].category, items[0].platform) == (
        passages_about("光明路支行爆料", HOSTILE, ["光明路支行"]), "neutral", False, "service_attitude", "feedback")
    raw = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert raw["labelled_by"] == "wangmin" and raw["predicted"] == "negative" and raw["reason"] == "同名企业，非本行"
    first_export = path.read_bytes()
    feedback.export_feedback(session, path)
    assert path.read_bytes() == first_export  # the same labels give the same file


# --- learning ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> Path:
    """A tiny model trained for one epoch on a corpus slice: the "current model" to be corrected."""
    out = tmp_path_factory.mktemp("base-model")
    train(out, TrainConfig(hidden=64, layers=1, heads=2, intermediate=64, max_length=64, epochs=1, batch_size=16,
                           threads=1, fit_blend=False), items=_corpus_slice(30))
    return out


def _corpus_slice(per_batch: int) -> list:
    return load_jsonl(CORPUS_DIR / "weibo.jsonl")[:per_batch] + load_jsonl(CORPUS_DIR / "outlets.jsonl")[:per_batch]


def test_fine_tuning_on_feedback_moves_the_model_towards_the_monitors_labels(session, org, policy, clock, tmp_path,
                                                                             base_model):
    dismissed = _story(session, clock, [
        ("光明路支行反诈宣传", "光明路支行民警提醒：接到自称客服要求转账的电话，一律挂断。", "negative"),
        ("光明路支行辟谣", "网传光明路支行暂停取款系谣言，该行今日正常营业。", "negative"),
        ("光明路支行问答", "请问光明路支行周六能办信用卡挂失吗？需要带什么证件？", "negative")])
    raised = _story(session, clock, [
        ("光明路支行体验", "光明路支行那位经理可真是贴心，把我七十岁的父亲劝进了高风险产品。", "positive"),
        ("光明路支行又上热搜", "光明路支行又双叒叕让大家开眼界了，排队四小时只为取自己的钱。", "neutral")],
        title="光明路支行取钱难")
    service.dismiss_alert(session, alert_id=_alert(session, dismissed, level="IV", org=org, policy=policy,
                                                   clock=clock),
                          user_login="wangmin", reason="反诈宣传和辟谣，不是负面", clock=clock)
    service.open_incident_from_alert(session, alert_id=_alert(session, raised, level="IV", org=org, policy=policy,
                                                               clock=clock),
                                     user_login="wangmin", org=org, policy=policy, clock=clock)
    session.commit()
    path = tmp_path / "feedback.jsonl"
    assert feedback.export_feedback(session, path) == 5

    common = dict(base_dir=base_model, feedback_path=path, corpus=_corpus_slice(10),
                  heldout=load_jsonl(HELDOUT_DIR / "heldout.jsonl")[:30], epochs=2, lr=1e-2, batch_size=8, threads=1,
                  fit_blend=False)
    run = feedback.fine_tune_with_feedback(out_dir=tmp_path / "with", repeat=3, **common)
    feedback.fine_tune_with_feedback(out_dir=tmp_path / "without", repeat=0, **common)

    before, after = run.before["feedback"]["gold_prob"], run.after["feedback"]["gold_prob"]
    assert after > before + 0.05, (before, after)
    # The move comes from the feedback, not from two more epochs on the corpus, and goes both ways: against the
    # same fine-tune without feedback, dismissed texts are more neutral and raised texts more negative.
    items = load_jsonl(path)
    for label in ("neutral", "negative"):
        subset = [i for i in items if i.polarity == label]
        with_fb = feedback.evaluate_model(tmp_path / "with", subset)["gold_prob"]
        without = feedback.evaluate_model(tmp_path / "without", subset)["gold_prob"]
        assert with_fb > without + 0.02, (label, with_fb, without)
    assert (tmp_path / "with" / "config.json").exists() and (tmp_path / "with" / "feedback_eval.json").exists()
    report = run.render()
    assert "留出集" in report and "反馈样本判对" in report and str(tmp_path / "with") in report
