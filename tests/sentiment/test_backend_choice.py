"""The default backend (ONNX Runtime) gives the same predictions as torch through the classifier the pipeline uses;
its export is cached by content, shared, and a failing export falls back to torch with a warning."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from sentiment.batch import choose_classifier, onnx_cache_path
from sentiment.model import SentimentModel
from sentiment.onnx_runtime import OnnxSentimentModel
from yuqing.errors import ConfigError

TEXTS = ["示例银行新华路网点拒绝取款，太过分了", "请问信用卡年费怎么免？", "柜员很耐心，点赞👍", "", "銀行服務很好"]


def test_onnx_backend_matches_torch(tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("YUQING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("YUQING_SENTIMENT_BACKEND", "torch")
    torch_clf = choose_classifier(tiny_model_dir, errors=io.StringIO())
    assert isinstance(torch_clf.model, SentimentModel)
    monkeypatch.delenv("YUQING_SENTIMENT_BACKEND")  # the default
    onnx_clf = choose_classifier(tiny_model_dir, errors=io.StringIO())
    assert isinstance(onnx_clf.model, OnnxSentimentModel)
    exports = list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert len(exports) == 1  # under the cache dir, not in the weights directory
    assert not list(tiny_model_dir.glob("*.onnx"))
    for a, b in zip(torch_clf.predict(TEXTS), onnx_clf.predict(TEXTS), strict=True):
        assert a.label == b.label and a.category == b.category
        assert abs(a.negative_prob - b.negative_prob) < 1e-4


def test_export_is_named_by_content_and_reused(tiny_model_dir, tmp_path):
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny-bert"))
    cache = tmp_path / "cache"
    assert onnx_cache_path(copy, cache) == onnx_cache_path(tiny_model_dir, cache)  # same bytes, same export
    first = onnx_cache_path(copy, cache)
    OnnxSentimentModel(copy, first)
    built = first.stat().st_mtime_ns
    OnnxSentimentModel(copy, onnx_cache_path(copy, cache))  # a second process: reused, not re-exported
    assert first.stat().st_mtime_ns == built
    (copy / "aux_heads.pt").write_bytes((copy / "aux_heads.pt").read_bytes() + b"\0")  # retrained weights
    assert onnx_cache_path(copy, cache) != first
    assert not list(cache.glob("onnx/.*.tmp"))  # exports are renamed into place, no leftovers


def test_failing_export_falls_back_to_torch_and_says_so(tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("YUQING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("YUQING_SENTIMENT_BACKEND", raising=False)

    def broken(*args, **kwargs):
        raise RuntimeError("exporter cannot trace this architecture")

    monkeypatch.setattr("sentiment.onnx_export.export_onnx", broken)
    errors = io.StringIO()
    clf = choose_classifier(tiny_model_dir, errors=errors)
    assert isinstance(clf.model, SentimentModel)
    assert "falling back to torch" in errors.getvalue() and "cannot trace" in errors.getvalue()


def test_unknown_backend_is_a_config_error(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("YUQING_SENTIMENT_BACKEND", "tensorflow")
    with pytest.raises(ConfigError, match="YUQING_SENTIMENT_BACKEND"):
        choose_classifier(tiny_model_dir, errors=io.StringIO())
