"""The rule-based baseline and ``yuqing classify``: what it gets right, and bad input handled line by line."""

from __future__ import annotations

import io
import json

import pytest

from sentiment.batch import classify_jsonl
from sentiment.passages import passages_about
from sentiment.rules import RuleBasedClassifier, calming_and_risk_words, is_calming, risk_word_categories
from sentiment.textnorm import normalise_text


@pytest.mark.parametrize(("text", "label", "category"), [
    ("示例银行新华路网点拒绝取款，柜员态度恶劣，太过分了！", "negative", "withdrawal_bank_run"),
    ("听说示例银行要倒闭了？赶紧去取钱", "negative", "withdrawal_bank_run"),
    ("示例银行信用卡莫名扣了年费，打客服一直踢皮球", "negative", "opaque_fees"),
    ("给示例银行光明路支行的大堂经理点赞，耐心又专业，帮我挽回了损失", "positive", "service_attitude"),
    ("示例银行郑重声明：网传倒闭消息不实，本行经营正常", "neutral", "withdrawal_bank_run"),
    ("请问示例银行的手机银行怎么修改预留手机号？", "neutral", "other"),
    ("示例银行江城分行今日召开年度工作会议", "neutral", "other"),
])
def test_baseline_reads_clear_cases(text, label, category):
    pred = RuleBasedClassifier().predict([text])[0]
    assert pred.label == label, pred
    assert pred.category == category
    assert 0.0 <= pred.negative_prob <= 1.0


def test_negation_flips_a_positive_cue():
    clf = RuleBasedClassifier()
    plain, negated = clf.predict(["服务很满意", "服务很不满意"])
    assert plain.negative_prob < negated.negative_prob
    assert "否定:满意" in negated.cues


def test_empty_and_emoji_only_texts_are_neutral():
    for pred in RuleBasedClassifier().predict(["", "   ", "😀😀😀"]):
        assert pred.label == "neutral"


@pytest.mark.parametrize(("text", "label"), [
    ("示例银行又排了两个小时😡😡", "negative"),
    ("[怒][怒]示例银行的柜员爱理不理", "negative"),
    ("(╯‵□′)╯︵┻━┻ 示例银行取个钱这么难", "negative"),
    ("示例银行很差", "negative"),
    ("示例银行新华路网点的服务👍👍", "positive"),
    ("示例银行大堂经理帮我办好了[赞][赞]", "positive"),
])
def test_emoji_kaomoji_and_weibo_emoticons_carry_tone(text, label):
    # The classifiers read normalised text (full-width and some kaomoji strokes change under NFKC).
    pred = RuleBasedClassifier().predict([normalise_text(text)])[0]
    assert pred.label == label, pred


def test_passages_about_the_bank_skip_unrelated_paragraphs():
    text = ("今天天气很差，暴雨导致多条道路拥堵，市民怨声载道。" * 20
            + "另据报道，示例银行新华路网点今日正常营业。" + "交通部门提醒注意安全。" * 20)
    passage = passages_about("本地新闻", text, ["新华路网点"], context=0)
    assert "示例银行新华路网点今日正常营业" in passage
    assert "暴雨" not in passage
    pred = RuleBasedClassifier().predict([passage])[0]
    assert pred.label == "neutral"


def test_classify_jsonl_processes_good_lines_and_reports_bad_ones(tmp_path):
    src = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": 1, "text": "示例银行新华路网点拒绝取款，太过分了"}, ensure_ascii=False),
        "this is not json",
        json.dumps({"id": 2, "text": ""}),
        json.dumps({"id": 3}),
        json.dumps({"id": 4, "text": 42}),
        json.dumps({"id": 5, "text": "😀" * 10 + " Hello 示例银行 ATM 吞卡了!!!"}, ensure_ascii=False),
        json.dumps({"id": 6, "text": "长" * 1_000_001}, ensure_ascii=False),
        json.dumps({"id": 7, "text": "示例银行" + "很好。" * 200_000}, ensure_ascii=False),
    ]
    src.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + b"\xff\xfe broken\n")
    out = tmp_path / "out.jsonl"
    errors = io.StringIO()
    stats = classify_jsonl(src, out, errors=errors)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 5, 7]
    assert stats == {"ok": 4, "errors": 5, "model": "rules-v0"}
    assert rows[0]["label"] == "negative" and rows[0]["risk"] > rows[1]["risk"]
    assert set(rows[0]) == {"id", "label", "negative_prob", "category", "risk"}
    report = errors.getvalue()
    for lineno, reason in [(2, "invalid JSON"), (4, '"id" and "text"'), (5, "must be a string"),
                           (7, "longer than"), (9, "not valid UTF-8")]:
        assert f"in.jsonl:{lineno}: " in report and reason in report


@pytest.mark.parametrize(("text", "topics"), [
    ("内部消息：现金已经不够了，各网点都限制取现", {"withdrawal_bank_run"}),
    ("示例银行是不是要倒闭了？", {"withdrawal_bank_run", "liquidity_risk"}),
    ("网点门口好多人在取钱，我妈让我也去", {"withdrawal_bank_run"}),
    ("老人在新华路网点取款被拒的视频", {"withdrawal_bank_run"}),
    ("示例银行江城分行被处以罚款50万元", {"regulatory_penalty"}),
    ("內部消息：現金已經不夠了，各網點都限制取現", {"withdrawal_bank_run"}),  # traditional characters
    ("网点门口在挤\u200b兑", {"withdrawal_bank_run"}),  # a zero-width character inside the word
    ("储户", set()),
    ("取款", set()),
    ("我在ATM取钱，挺快的", set()),
    ("大额取现需提前一天预约", set()),
])
def test_risk_words_name_a_topic_only_when_the_text_says_something_is_wrong(text, topics):
    # what lets a calmly worded item count as negative for a run, liquidity or penalty story (sentiment.risk)
    assert risk_word_categories(text) == topics
    calming, found, terms = calming_and_risk_words(text)  # the one-pass form risk scoring uses
    assert (calming, found) == (is_calming(text), topics)
    assert bool(terms) == bool(topics)  # the words themselves, for "why this alert"


@pytest.mark.parametrize(("text", "calming"), [
    ("关于网传我行限制取现的辟谣声明：我行经营正常", True),
    ("關於網傳我行限制取現的闢謠聲明：我行經營正常", True),  # traditional characters
    ("网传示例银行限制取现，是真的吗", False),
])
def test_clarifications_are_recognised_in_either_script(text, calming):
    assert is_calming(text) is calming
    assert calming_and_risk_words(text)[:2] == (calming, risk_word_categories(text))


@pytest.mark.parametrize(("text", "terms"), [
    ("内部消息：现金已经不够了，各网点都限制取现", ("限制取",)),
    ("网点现金不够，都在限制取现，限制取现！", ("限制取", "现金不够")),
    ("網點現金不夠，都在限制取現", ("限制取", "现金不够")),  # named in simplified characters
    ("示例银行是不是要倒闭了？", ("倒闭",)),
    ("大额取现需提前一天预约", ()),
])
def test_the_risk_words_found_are_named_once_each(text, terms):
    assert calming_and_risk_words(text)[2] == terms
