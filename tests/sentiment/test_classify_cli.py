"""``yuqing classify`` and ``yuqing evaluate`` end to end on a tiny model: the model is used by default, the rules
only when asked or when there is no model (and then stderr says so), hostile input never stops a run."""

from __future__ import annotations

import io
import json
import logging

import pytest
from typer.testing import CliRunner

from runner.cli import app
from sentiment.batch import BANK_TERMS, LONG_TEXT_CHARS, MAX_TEXT_CHARS, choose_classifier, text_for_model
from sentiment.blend import FEATURES
from sentiment.corpus import load_second_heldout

runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_MODEL_DIR", raising=False)
    # the CLI configures logging onto CliRunner's temporary stderr; put the previous handlers back afterwards
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)

N = len(FEATURES)


def _lines(rows: list) -> bytes:
    return ("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n").encode()


def test_classify_with_the_model_processes_hard_texts_and_reports_bad_lines(tiny_model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    bank_late = "今天天气很差，暴雨导致多条道路拥堵。" * 40_000 + "示例银行新华路网点拒绝取款，太过分了。"
    good = [
        {"id": 1, "text": "示例银行新华路网点拒绝取款，柜员态度恶劣，太过分了！"},
        {"id": 2, "text": ""},
        {"id": 3, "text": "   \t "},
        {"id": 4, "text": "😀😡🙏💰"},
        {"id": 5, "text": "示例銀行ATM吞卡了!!! so angry，客服电话 95588 打不通 😡"},
        {"id": 6, "text": "长" * MAX_TEXT_CHARS},
        {"id": "seven", "text": bank_late},
    ]
    src.write_bytes(_lines([good[0], "{not json", good[1], {"id": 9}, good[2], {"id": 10, "text": ["x"]}, good[3],
                            {"id": 11, "text": "长" * (MAX_TEXT_CHARS + 1)}, good[4], good[5], good[6]])
                    + b"\xff\xfe broken\n" + _lines(["[1, 2]"]))
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["classify", "--input", str(src), "--output", str(out),
                                 "--model", str(tiny_model_dir)])
    assert result.exit_code == 1, result.output  # some lines failed: every good one written, and the status says so
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5, 6, "seven"]
    for r in rows:
        assert list(r) == ["id", "label", "negative_prob", "category", "risk"]
        assert r["label"] in ("negative", "neutral", "positive") and 0.0 <= r["negative_prob"] <= 1.0
        assert 0 <= r["risk"] <= 100 and isinstance(r["category"], str)
    stats = json.loads(result.stderr.strip().splitlines()[-1])
    assert stats == {"ok": 7, "errors": 6, "model": f"transformer:{tiny_model_dir.name}"}
    reported = {int(line.split("in.jsonl:")[1].split(":")[0]): line for line in result.stderr.splitlines()
                if "in.jsonl:" in line}
    assert sorted(reported) == [2, 4, 6, 8, 12, 13]
    for lineno, reason in [(2, "invalid JSON"), (4, '"id" and "text"'), (6, "must be a string"),
                           (8, "longer than"), (12, "not valid UTF-8"), (13, '"id" and "text"')]:
        assert reason in reported[lineno]
    assert "rules" not in result.stderr  # the model was used, no fallback


def test_classify_falls_back_to_the_rules_loudly_and_uses_them_when_asked(tiny_model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(_lines([{"id": 1, "text": "示例银行新华路网点拒绝取款，太过分了"}]))
    out = tmp_path / "out.jsonl"

    missing = runner.invoke(app, ["classify", "--input", str(src), "--output", str(out),
                                  "--model", str(tmp_path / "no-model")])
    assert missing.exit_code == 0
    assert "no model at" in missing.stderr and "falling back to the rule-based baseline" in missing.stderr
    assert json.loads(missing.stderr.strip().splitlines()[-1])["model"] == "rules-v0"
    assert json.loads(out.read_text(encoding="utf-8"))["label"] == "negative"

    asked = runner.invoke(app, ["classify", "--input", str(src), "--output", str(out), "--rules",
                                "--model", str(tiny_model_dir)])
    assert asked.exit_code == 0 and "--rules" in asked.stderr
    assert json.loads(asked.stderr.strip().splitlines()[-1])["model"] == "rules-v0"


def test_classify_lines_takes_one_plain_text_per_line_with_line_numbers_as_ids(tiny_model_dir, tmp_path):
    src = tmp_path / "in.txt"
    # a BOM and CRLF line ends as a Windows editor writes them; a blank line; a text that looks like JSON stays text
    src.write_bytes("\ufeff示例银行新华路网点拒绝取款，太过分了\r\n\r\n{\"id\": 1}\r\n".encode()
                    + b"\xff\xfe broken\n" + ("长" * (MAX_TEXT_CHARS + 1) + "\n给光明路支行点赞\n").encode())
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["classify", "--lines", "--input", str(src), "--output", str(out),
                                 "--model", str(tiny_model_dir)])
    assert result.exit_code == 1, result.output  # two bad lines: reported, the rest written
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [1, 3, 6]
    assert json.loads(result.stderr.strip().splitlines()[-1])["errors"] == 2
    assert "in.txt:4: line is not valid UTF-8" in result.stderr and "in.txt:5: line longer than" in result.stderr

    # the same first line as JSONL would be malformed; with the BOM it is still read as JSON
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes("\ufeff".encode() + _lines([{"id": "a", "text": "很好"}]))
    ok = runner.invoke(app, ["classify", "--input", str(jsonl), "--output", str(out), "--model", str(tiny_model_dir)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(out.read_text(encoding="utf-8"))["id"] == "a"


def test_classify_repairs_lone_surrogates_reports_malformed_lines_and_exits_1(tiny_model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    # JSON escapes are valid UTF-8 on disk, but decode to lone surrogates / NUL in Python
    src.write_bytes(b"\n".join([
        '{"id": 1, "text": "示例银行\\ud800 ATM \\udcff"}'.encode(),
        '{"id": "\\ud800编号", "text": "给光明路支行点赞"}'.encode(),
        '{"id": 3, "text": "含\\u0000空字符\\u001b与\\ud83d\\ude00"}'.encode(),
        b'{"id": null, "text": "x"}',
        b'{"id": true, "text": "x"}',
        b'{"id": [1], "text": "x"}',
        b'{"text": "no id"}',
        b'{"id": 8, "text": null}',
        '{"id": 9, "text": "很好"}'.encode(),
        b'{"id": 10, "text": "cut',
    ]) + b"\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["classify", "--input", str(src), "--output", str(out),
                                 "--model", str(tiny_model_dir)])
    assert result.exit_code == 1, result.output
    raw = out.read_bytes()
    raw.decode("utf-8")  # strictly valid UTF-8
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert [r["id"] for r in rows] == [1, "\ud800编号", 3, 9]  # the id comes back exactly as it was read
    assert b"\\ud800" in raw.splitlines()[1]
    for r in rows:
        assert r["label"] in ("negative", "neutral", "positive") and 0.0 <= r["negative_prob"] <= 1.0
    stats = json.loads(result.stderr.strip().splitlines()[-1])
    assert stats == {"ok": 4, "errors": 6, "model": f"transformer:{tiny_model_dir.name}"}
    reported = {int(line.split("in.jsonl:")[1].split(":")[0]): line for line in result.stderr.splitlines()
                if "in.jsonl:" in line}
    assert sorted(reported) == [1, 3, 4, 5, 6, 7, 8, 10]
    for lineno in (1, 3):
        assert "repaired invalid characters" in reported[lineno]
    for lineno, reason in [(4, '"id" must be a string or an integer, not null'), (5, "not a boolean"),
                           (6, "not an array"), (7, '"id" and "text"'), (8, "must be a string"),
                           (10, "invalid JSON")]:
        assert reason in reported[lineno], reported[lineno]


def test_classify_exits_0_when_every_line_is_good(tiny_model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(_lines([{"id": 1, "text": "示例银行新华路网点拒绝取款"}, {"id": "b", "text": "点赞"}]))
    result = runner.invoke(app, ["classify", "--input", str(src), "--output", str(tmp_path / "o.jsonl"),
                                 "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stderr.strip().splitlines()[-1])["ok"] == 2


def test_a_text_the_classifier_fails_on_loses_only_its_own_line(tmp_path):
    """A model directory is the bank's own (``YUQING_MODEL_DIR``): if it raises on one text, the chunk is split
    until that line is found; it is reported, and every other line of the chunk is written."""
    from sentiment.batch import classify_jsonl
    from sentiment.rules import RuleBasedClassifier

    class Picky(RuleBasedClassifier):
        def predict(self, texts):
            if any("炸" in t for t in texts):
                raise RuntimeError("model cannot take this text")
            return super().predict(texts)

    src = tmp_path / "in.jsonl"
    src.write_bytes(_lines([{"id": i, "text": "炸" if i == 5 else f"示例银行第{i}条"} for i in range(1, 9)]))
    out = tmp_path / "out.jsonl"
    errors = io.StringIO()
    stats = classify_jsonl(src, out, classifier=Picky(), errors=errors)
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert ids == [1, 2, 3, 4, 6, 7, 8]
    assert stats["ok"] == 7 and stats["errors"] == 1
    assert "in.jsonl:5: could not classify this text (RuntimeError: model cannot take this text)" in errors.getvalue()


def test_classify_exits_1_when_every_line_is_bad(tiny_model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"nope\n{}\n")
    result = runner.invoke(app, ["classify", "--input", str(src), "--output", str(tmp_path / "o.jsonl"),
                                 "--model", str(tiny_model_dir)])
    assert result.exit_code == 1 and "in.jsonl:1: invalid JSON" in result.stderr


def test_classify_refuses_a_broken_model_directory(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}", encoding="utf-8")
    src = tmp_path / "in.jsonl"
    src.write_bytes(_lines([{"id": 1, "text": "你好"}]))
    result = runner.invoke(app, ["classify", "--input", str(src), "--output", str(tmp_path / "o.jsonl"),
                                 "--model", str(broken)])
    assert result.exit_code == 2 and "cannot load the model" in result.stderr


def test_choose_classifier_prefers_the_blend(tiny_model_dir, tmp_path):
    import shutil

    errors = io.StringIO()
    assert choose_classifier(tiny_model_dir, errors=errors).name == f"transformer:{tiny_model_dir.name}"
    assert errors.getvalue() == ""
    blended = tmp_path / "blended"
    shutil.copytree(tiny_model_dir, blended)
    (blended / "blend.json").write_text(json.dumps(
        {"mean": [0.0] * N, "std": [1.0] * N, "coef": [[0.0] * N] * 3, "intercept": [2.0, 0.0, 0.0]}),
        encoding="utf-8")
    clf = choose_classifier(blended)
    assert clf.name == "blend:blended"
    # the intercept decides; a text with nothing to read (punctuation only) is neutral whatever the weights say,
    # while an emoji or a kaomoji is something to read
    assert [p.label for p in clf.predict(["示例银行", "……", "？？？", "😀", "(╯°□°）╯"])] == [
        "negative", "neutral", "neutral", "negative", "negative"]


def test_a_long_text_is_read_by_its_passages_about_a_bank():
    weather = "今天天气很差，暴雨导致多条道路拥堵。" * 50_000
    text = weather + "另据报道，示例银行新华路网点今日拒绝取款。" + "交通部门提醒注意安全。" * 1000
    passage = text_for_model(text)
    assert "示例银行新华路网点今日拒绝取款" in passage and len(passage) <= LONG_TEXT_CHARS
    assert text_for_model("短文本") == "短文本"
    no_bank = "无关内容。" * 1000
    assert text_for_model(no_bank) == no_bank[:LONG_TEXT_CHARS]
    assert "银行" in BANK_TERMS


def test_evaluate_cli_prints_the_model_beside_both_baselines(tiny_model_dir, tmp_path):
    data = tmp_path / "set.jsonl"
    rows = [("示例银行新华路网点拒绝取款，柜员态度恶劣，太过分了！", "negative", True),
            ("给光明路支行的大堂经理点赞，耐心又专业", "positive", True),
            ("请问手机银行怎么修改预留手机号？", "neutral", True),
            ("信用卡莫名扣了年费，打客服一直踢皮球", "negative", True),
            ("今天天气真好", "neutral", False)]
    data.write_text("\n".join(json.dumps({"id": f"e{i}", "text": t, "polarity": p, "about_bank": a,
                                          "category": "other"}, ensure_ascii=False)
                              for i, (t, p, a) in enumerate(rows)), encoding="utf-8")
    out = tmp_path / "eval.json"
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--model", str(tiny_model_dir), "--json", str(out)])
    assert result.exit_code == 0, result.output
    model = f"transformer:{tiny_model_dir.name}"
    table = result.stdout.split("与银行相关的文本")[0]
    assert table.index(model) < table.index("snownlp (基线)") < table.index("rules-v0 (基线)")
    assert "混淆矩阵" in result.stdout
    assert f"best baseline negative-F1 vs model negative-F1): rules-v0 1.000 vs {model}" in result.stdout
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["data"] == str(data)
    assert list(saved["results"]) == [model, "snownlp", "rules-v0"]
    assert saved["results"]["rules-v0"]["negative_f1"] == 1.0
    assert saved["results"][model]["about_bank"]["n"] == 4


def test_evaluate_cli_names_a_bad_data_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "x", "polarity": "angry", "about_bank": true, "category": "other"}\n',
                   encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--data", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl:1" in result.stderr and "polarity" in result.stderr
    missing = runner.invoke(app, ["evaluate", "--data", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_evaluate_cli_reads_the_second_heldout_set_by_name(tmp_path, tiny_model_dir):
    out = tmp_path / "eval.json"
    result = runner.invoke(app, ["evaluate", "--data", "heldout2", "--model", str(tiny_model_dir), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "second held-out set" in result.stdout
    saved = json.loads(out.read_text(encoding="utf-8"))
    n = len(load_second_heldout())
    assert n >= 800 and {r["n"] for r in saved["results"].values()} == {n}
