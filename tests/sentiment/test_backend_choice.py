"""YUQING_SENTIMENT_BACKEND=onnx gives the same predictions as torch through the classifier the pipeline uses."""

from __future__ import annotations

import io

from sentiment.batch import choose_classifier
from sentiment.onnx_runtime import OnnxSentimentModel

TEXTS = ["示例银行新华路网点拒绝取款，太过分了", "请问信用卡年费怎么免？", "柜员很耐心，点赞👍", "", "銀行服務很好"]


def test_onnx_backend_matches_torch(tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("YUQING_SENTIMENT_BACKEND", raising=False)
    torch_clf = choose_classifier(tiny_model_dir, errors=io.StringIO())
    monkeypatch.setenv("YUQING_SENTIMENT_BACKEND", "onnx")
    onnx_clf = choose_classifier(tiny_model_dir, errors=io.StringIO())
    assert isinstance(onnx_clf.model, OnnxSentimentModel)
    assert (tmp_path / "onnx").is_dir()  # the export goes under var/, not into the weights directory
    for a, b in zip(torch_clf.predict(TEXTS), onnx_clf.predict(TEXTS), strict=True):
        assert a.label == b.label and a.category == b.category
        assert abs(a.negative_prob - b.negative_prob) < 1e-4
