"""The spot checks that showed the first shipped model wrong, run through `yuqing classify` with the shipped model:
a plain complaint reads negative, a greeting and a bare "储户" are no risk, emoji and kaomoji alone carry tone,
and a calmly worded run rumour is a risk because of its words, not its tone."""

from __future__ import annotations

import json
import logging

import pytest
from typer.testing import CliRunner

from runner.cli import app

runner = CliRunner()

TEXTS = {
    "complaint": "银行很差",
    "greeting": "你好",
    "depositors": "储户",
    "depositor": "我是示例银行的储户",
    "withdraw": "取款",
    "angry_emoji": "😡😭",
    "kaomoji": "(╯°□°）╯︵ ┻━┻",
    "thumbs": "👍👍",
    "dots": "……",
    "question_rumour": "示例银行是不是要倒闭了？",
    "calm_rumour": "内部消息：现金已经不够了，各网点都限制取现",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("spot")
    src, out = tmp / "in.jsonl", tmp / "out.jsonl"
    src.write_text("".join(json.dumps({"id": k, "text": t}, ensure_ascii=False) + "\n" for k, t in TEXTS.items()),
                   encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("YUQING_DATA_DIR", str(tmp))
    mp.delenv("YUQING_MODEL_DIR", raising=False)
    mp.delenv("YUQING_SENTIMENT_BACKEND", raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        result = runner.invoke(app, ["classify", "--input", str(src), "--output", str(out)])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        mp.undo()
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert json.loads(result.stderr.strip().splitlines()[-1])["model"].startswith("blend:")
    return {r["id"]: r for r in rows}


def test_a_plain_complaint_reads_negative(results):
    assert results["complaint"]["label"] == "negative" and results["complaint"]["risk"] > 0


@pytest.mark.parametrize("key", ["greeting", "depositors", "depositor", "withdraw", "thumbs", "dots"])
def test_greetings_bare_bank_words_and_praise_are_no_risk(results, key):
    assert results[key]["risk"] == 0.0, results[key]
    assert results[key]["label"] != "negative" or results[key]["negative_prob"] < 0.5, results[key]


@pytest.mark.parametrize("key", ["angry_emoji", "kaomoji"])
def test_emoji_and_kaomoji_alone_carry_tone(results, key):
    assert results[key]["label"] == "negative" and results[key]["negative_prob"] >= 0.5, results[key]
    assert results["thumbs"]["label"] == "positive"


@pytest.mark.parametrize("key", ["question_rumour", "calm_rumour"])
def test_a_run_rumour_is_a_risk_by_its_words_whatever_its_tone(results, key):
    row = results[key]
    assert row["category"] in {"withdrawal_bank_run", "liquidity_risk"}, row
    assert row["risk"] > 5.0, row  # above the level-IV threshold as a lone post, before any spread
