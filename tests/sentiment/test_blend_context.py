"""The blend's context features (about-a-bank head, text length) and `yuqing train --ngram-only --blend-only`,
which refits only the blend over parts that are already trained."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from runner.cli import app

runner = CliRunner()
TEXTS = ["银行态度太差了", "请问怎么开户", "柜员很耐心点赞，下次还来这个网点办业务"]


def _two_ngram_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "two-ngrams"))
    for ext in (".npz", ".json"):
        shutil.copy2(model_dir / f"ngram{ext}", model_dir / f"ngram_corpus{ext}")
    return model_dir


def test_context_features_are_the_about_head_logit_and_the_log_length(tiny_model_dir, tmp_path):
    from sentiment.blend import (
        ALL_FEATURES,
        CONTEXT_FEATURES,
        BlendedClassifier,
        blend_probabilities,
        feature_names,
        fit_blend,
    )
    from sentiment.model import SentimentModel

    model = SentimentModel(_two_ngram_dir(tiny_model_dir, tmp_path))
    clf = BlendedClassifier(model, weights={})
    x_all = clf.features(TEXTS, all_features=True)[0]
    x_ctx = clf.features(TEXTS, all_features=True, context=True)[0]
    assert x_ctx.shape == (3, len(ALL_FEATURES) + 2)
    assert np.array_equal(x_ctx[:, :len(ALL_FEATURES)], x_all)  # the first eleven columns do not move
    about = model.encode(TEXTS).about.numpy()
    assert np.allclose(x_ctx[:, 11], np.log(about / (1 - about)), atol=1e-4)
    assert np.allclose(x_ctx[:, 12], np.log1p([7, 6, 19]))
    # a blend fitted over them names them, and predicting with it reads them again
    weights = fit_blend(np.tile(x_ctx, (4, 1)), ["negative", "neutral", "positive"] * 4)
    assert weights["features"] == list(ALL_FEATURES + CONTEXT_FEATURES)
    clf = BlendedClassifier(model, weights=weights)
    x = clf.features(TEXTS)[0]
    assert np.array_equal(x, x_ctx)
    assert blend_probabilities(x, weights).shape == (3, 3)
    assert [p.label for p in clf.predict(TEXTS)] == [
        ["negative", "neutral", "positive"][int(k)] for k in blend_probabilities(x, weights).argmax(-1)]
    # a blend without them never computes them
    eleven = fit_blend(np.tile(x_all, (4, 1)), ["negative", "neutral", "positive"] * 4)
    assert BlendedClassifier(model, weights=eleven).features(TEXTS)[0].shape == (3, len(ALL_FEATURES))
    with pytest.raises(ValueError, match="9 columns"):
        feature_names(9)


def test_context_features_without_an_about_head_carry_nothing(tiny_model_dir, tmp_path):
    from sentiment.blend import BlendedClassifier
    from sentiment.model import SentimentModel

    model_dir = _two_ngram_dir(tiny_model_dir, tmp_path)
    for name in ("aux_heads.pt", "aux_heads.json"):
        (model_dir / name).unlink(missing_ok=True)
    x = BlendedClassifier(SentimentModel(model_dir), weights={}).features(TEXTS, all_features=True, context=True)[0]
    assert np.array_equal(x[:, 11], np.zeros(3, dtype=np.float32))  # p = 0.5 for every text


def test_fit_model_blend_with_context_refuses_a_directory_without_the_corpus_ngram(tiny_model_dir):
    from sentiment.blend import fit_model_blend

    with pytest.raises(ValueError, match="ngram_corpus"):
        fit_model_blend(tiny_model_dir, context=True)


def test_train_cli_blend_only_keeps_every_part_and_refits_the_blend(synthetic_public_dir, tiny_model_dir, tmp_path,
                                                                     monkeypatch):
    from sentiment import blend, ngram_train

    def no_training(*args, **kw):
        raise AssertionError("--blend-only must not train an n-gram model")

    monkeypatch.setattr(ngram_train, "train_ngram", no_training)
    calls: list[tuple[float, bool]] = []
    monkeypatch.setattr(blend, "fit_model_blend", lambda out, extra_dev, corpus_weight, context:
                        calls.append((corpus_weight, context)) or {})
    source = _two_ngram_dir(tiny_model_dir, tmp_path)
    out = tmp_path / "m"
    result = runner.invoke(app, ["train", "--ngram-only", "--blend-only", "--keep-corpus-ngram", "--blend-context",
                                 "--data-dir", str(synthetic_public_dir), "--transformer-from", str(source),
                                 "--out", str(out), "--blend-corpus-weight", "12"])
    assert result.exit_code == 0, result.output
    assert calls == [(12.0, True)]
    for name in ("ngram.npz", "ngram_corpus.npz", "model.safetensors", "aux_heads.pt"):
        assert (out / name).read_bytes() == (source / name).read_bytes()
    config = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["config"]
    assert config["mode"] == "blend" and config["blend_context"] is True


def test_train_cli_blend_only_goes_with_ngram_only(tiny_model_dir, tmp_path):
    result = runner.invoke(app, ["train", "--no-public-data", "--blend-only", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "--blend-only goes with --ngram-only" in result.stderr
