"""Evaluation: metrics checked against numbers worked out by hand, the result's shape with the model and both
baselines, the printed report, and which classifiers an evaluation run picks up."""

from __future__ import annotations

import io
import json
import math
import shutil
from collections.abc import Sequence

import pytest

from sentiment.baselines import SNOWNLP_NEGATIVE_BELOW, SnowNLPClassifier, baseline_classifiers
from sentiment.blend import FEATURES
from sentiment.calibration import reliability, reliability_svg
from sentiment.classifier import Prediction
from sentiment.corpus import LabelledText
from sentiment.evaluate import (
    evaluate,
    evaluation_classifiers,
    format_report,
    json_safe,
    load_items,
    margin_over_baselines,
)
from sentiment.metrics import polarity_metrics, roc_auc
from sentiment.model import SentimentModel, TransformerClassifier
from sentiment.rules import RuleBasedClassifier


class Fixed:
    """A classifier that answers from a table, so every metric can be computed by hand."""

    def __init__(self, name: str, answers: dict[str, tuple[str, float]]):
        self.name = name
        self.answers = answers

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return [Prediction(self.answers[t][0], self.answers[t][1], "other") for t in texts]

N = len(FEATURES)


def item(i: int, polarity: str, about: bool = True) -> LabelledText:
    return LabelledText(f"t{i}", f"text {i}", polarity, about, "other", "weibo", "test")


# gold:      neg  neg  neg  neu  neu  pos   (t5 is not about a bank)
# predicted: neg  neu  neg  neg  neu  pos
ITEMS = [item(0, "negative"), item(1, "negative"), item(2, "negative"), item(3, "neutral"), item(4, "neutral"),
         item(5, "positive", about=False)]
MODEL = Fixed("model", {"text 0": ("negative", 0.9), "text 1": ("neutral", 0.4), "text 2": ("negative", 0.8),
                        "text 3": ("negative", 0.8), "text 4": ("neutral", 0.2), "text 5": ("positive", 0.1)})
BASE = Fixed("rules-v0", {f"text {i}": ("neutral", 0.5) for i in range(6)})


def test_roc_auc_counts_ties_as_half():
    # positives score 0.8 and 0.3, negatives 0.8 and 0.1: pairs (0.8, 0.8) tie = ½, (0.8, 0.1) = 1,
    # (0.3, 0.8) = 0, (0.3, 0.1) = 1  →  2.5 / 4
    assert roc_auc([True, False, True, False], [0.8, 0.8, 0.3, 0.1]) == pytest.approx(0.625)
    assert roc_auc([True, False], [0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc([True, True, False], [0.9, 0.7, 0.1]) == pytest.approx(1.0)
    assert math.isnan(roc_auc([True, True], [0.1, 0.2]))


def test_evaluate_metrics_match_hand_computation():
    result = evaluate(ITEMS, {"model": MODEL, "rules-v0": BASE})
    m = result["model"]
    assert m["n"] == 6
    assert m["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]  # rows gold, cols predicted: neg, neu, pos
    assert m["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert m["negative_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["negative_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["negative_f1"] == pytest.approx(2 / 3, abs=1e-4)
    # per-class F1: negative 2/3, neutral (P ½, R ½) ½, positive 1  →  macro (2/3 + ½ + 1) / 3
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 1) / 3, abs=1e-4)
    # negatives 0.9, 0.4, 0.8 vs rest 0.8, 0.2, 0.1: 9 pairs, wins 3 + 2 + (2 + ½) = 7.5
    assert m["roc_auc"] == pytest.approx(7.5 / 9, abs=1e-4)
    assert m["baseline"] is False and result["rules-v0"]["baseline"] is True
    assert m["texts_per_second"] > 0 and m["seconds"] >= 0

    about = m["about_bank"]  # t5 dropped
    assert about["n"] == 5
    assert about["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 0, 0]]
    assert about["accuracy"] == pytest.approx(3 / 5, abs=1e-4)

    base = result["rules-v0"]
    assert base["confusion"] == [[0, 3, 0], [0, 2, 0], [0, 1, 0]]
    assert base["negative_f1"] == 0.0 and base["roc_auc"] == pytest.approx(0.5)


def test_margin_and_report_show_the_model_beside_the_best_baseline():
    result = evaluate(ITEMS, {"model": MODEL, "rules-v0": BASE})
    margin = margin_over_baselines(result)
    assert margin == {"model": {"best_baseline": "rules-v0", "baseline_negative_f1": 0.0,
                                "negative_f1": pytest.approx(0.6667, abs=1e-4),
                                "delta": pytest.approx(0.6667, abs=1e-4)}}
    report = format_report(result, title="评估 evaluation: test")
    lines = report.splitlines()
    assert lines[0] == "评估 evaluation: test"
    model_row = next(line for line in lines if line.startswith("model "))
    assert "0.667" in model_row and "0.833" in model_row  # negative F1, ROC-AUC
    assert any(line.startswith("rules-v0 (基线)") for line in lines)
    assert "混淆矩阵" in report and "标注负面" in report and "预测正面" in report
    assert "best baseline negative-F1 vs model negative-F1): rules-v0 0.000 vs model 0.667: +0.667" in report


def test_baselines_only_report_says_no_model():
    result = evaluate(ITEMS, {"rules-v0": BASE})
    assert margin_over_baselines(result) == {}
    assert "baselines only" in format_report(result)


def test_evaluate_with_the_model_and_both_baselines(tiny_model_dir):
    rows = [("示例银行新华路网点拒绝取款，柜员态度恶劣，太过分了！", "negative", True),
            ("给光明路支行的大堂经理点赞，耐心又专业", "positive", True),
            ("请问手机银行怎么修改预留手机号？", "neutral", True),
            ("今天天气真好", "neutral", False)]
    items = [LabelledText(f"i{k}", t, p, a, "other", "weibo", "t") for k, (t, p, a) in enumerate(rows)]
    classifiers = {"transformer": TransformerClassifier(SentimentModel(tiny_model_dir)), **baseline_classifiers()}
    result = evaluate(items, classifiers)
    assert list(result) == ["transformer", "snownlp", "rules-v0"]
    keys = {"n", "accuracy", "negative_precision", "negative_recall", "negative_f1", "macro_f1", "roc_auc",
            "confusion", "texts_per_second", "seconds", "baseline", "about_bank", "calibration"}
    for name, m in result.items():
        assert set(m) == keys, name
        assert m["baseline"] == (name != "transformer")
        assert sum(map(sum, m["confusion"])) == 4 and [sum(r) for r in m["confusion"]] == [1, 2, 1]
        assert m["about_bank"]["n"] == 3
        assert 0.0 <= m["roc_auc"] <= 1.0 and 0.0 <= m["negative_f1"] <= 1.0
        assert sum(b["n"] for b in m["calibration"]["bins"]) == 4 and 0.0 <= m["calibration"]["ece"] <= 1.0
    # the rule lexicon reads these clear cases right
    assert result["rules-v0"]["confusion"] == [[1, 0, 0], [0, 2, 0], [0, 0, 1]]
    json.dumps(json_safe(result), allow_nan=False)


def test_snownlp_baseline_thresholds_and_empty_text():
    clf = SnowNLPClassifier()
    empty, blank, angry, happy = clf.predict(["", "   ", "太坑了，垃圾银行，再也不来了", "服务很好，非常满意，谢谢"])
    assert empty.label == blank.label == "neutral" and empty.negative_prob == 0.5
    assert angry.negative_prob > 1 - SNOWNLP_NEGATIVE_BELOW and angry.label == "negative"
    assert happy.label == "positive" and happy.negative_prob < 0.5
    with pytest.raises(ValueError):
        SnowNLPClassifier(negative_below=0.8, positive_above=0.2)
    assert isinstance(baseline_classifiers()["rules-v0"], RuleBasedClassifier)


def test_reliability_bins_and_ece_by_hand():
    # Two texts at 0.95 (one negative), two at 0.15 (none negative), one at exactly 1.0 (negative: last bin).
    cal = reliability([True, False, False, False, True], [0.95, 0.95, 0.15, 0.15, 1.0])
    assert cal["bins"] == [
        {"lo": 0.1, "hi": 0.2, "n": 2, "predicted": 0.15, "observed": 0.0},
        {"lo": 0.9, "hi": 1.0, "n": 3, "predicted": round((0.95 + 0.95 + 1.0) / 3, 4),
         "observed": round(2 / 3, 4)}]
    expected = 2 / 5 * 0.15 + 3 / 5 * abs((0.95 + 0.95 + 1.0) / 3 - 2 / 3)
    assert cal["ece"] == pytest.approx(expected, abs=1e-4)
    assert reliability([True, False], [1.0, 0.0])["ece"] == 0.0
    svg = reliability_svg({"模型 <b>": cal, "rules-v0": reliability([True], [0.7])}, title="可靠性 & 校准")
    assert svg.startswith("<svg") and svg.count("<circle") == 3
    assert "模型 &lt;b&gt; ECE" in svg and "可靠性 &amp; 校准" in svg  # names are escaped


def test_json_safe_replaces_nan():
    assert json_safe({"a": [float("nan"), 1.0], "b": {"c": float("inf")}, "d": (1, 2)}) == {
        "a": [None, 1.0], "b": {"c": None}, "d": [1, 2]}


def test_load_items_from_a_file_with_and_without_a_split(tmp_path):
    path = tmp_path / "set.jsonl"
    rows = [{"id": f"x{i}", "text": f"第{i}条：示例银行网点排队{i}小时" + "啊" * i, "polarity": "negative",
             "about_bank": True, "category": "other"} for i in range(40)]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    items, what = load_items(str(path))
    assert len(items) == 40 and what == str(path)
    test_items, what = load_items(str(path), "test")
    assert what.endswith("test split") and len(test_items) < 40
    with pytest.raises(ValueError, match="unknown split"):
        load_items(str(path), "validation")
    with pytest.raises(FileNotFoundError):
        load_items(str(tmp_path / "missing.jsonl"))


def test_evaluation_classifiers_put_the_blend_first_and_say_when_there_is_no_model(tiny_model_dir, tmp_path):
    names = list(evaluation_classifiers(tiny_model_dir))
    assert names == [f"transformer:{tiny_model_dir.name}", "snownlp", "rules-v0"]

    with_blend = tmp_path / "with-blend"
    shutil.copytree(tiny_model_dir, with_blend)
    (with_blend / "blend.json").write_text(json.dumps(
        {"mean": [0.0] * N, "std": [1.0] * N, "coef": [[float(i == k) for i in range(N)] for k in range(3)],
         "intercept": [0.0, 0.0, 0.0]}), encoding="utf-8")
    assert list(evaluation_classifiers(with_blend)) == ["blend:with-blend", "transformer:with-blend", "snownlp",
                                                        "rules-v0"]

    errors = io.StringIO()
    assert list(evaluation_classifiers(tmp_path / "nothing", errors=errors)) == ["snownlp", "rules-v0"]
    assert "no model at" in errors.getvalue() and "baselines only" in errors.getvalue()


def test_polarity_metrics_handle_an_empty_subset():
    m = polarity_metrics([], [], [])
    assert m["n"] == 0 and m["confusion"] == [[0, 0, 0]] * 3 and math.isnan(m["roc_auc"])
