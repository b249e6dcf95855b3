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


def test_bank_ngram_items_are_the_corpus_and_the_bank_finance_sources_in_order():
    from sentiment.corpus import LabelledText
    from sentiment.train import bank_ngram_items

    def item(k: int, source: str) -> LabelledText:
        return LabelledText(id=f"t{k}", text=f"文本{k}", polarity="neutral", about_bank=True, category="other",
                            platform="forum", source=source)

    items = [item(0, "corpus-batch-01"), item(1, "waimai_10k"), item(2, "ccf2019"), item(3, "bdci2021"),
             item(4, "online_shopping_10_cats"), item(5, "weibo")]
    assert [i.id for i in bank_ngram_items(items)] == ["t0", "t2", "t3", "t5"]


def test_the_bank_ngram_is_blended_beside_the_corpus_ngram(tiny_model_dir, tmp_path):
    from sentiment.blend import (
        ALL_FEATURES,
        BANK_NGRAM_FEATURES,
        CONTEXT_FEATURES,
        BlendedClassifier,
        feature_names,
        fit_blend,
    )
    from sentiment.model import SentimentModel
    from sentiment.ngram import load_ngram

    model_dir = _two_ngram_dir(tiny_model_dir, tmp_path)
    for ext in (".npz", ".json"):
        shutil.copy2(model_dir / f"ngram{ext}", model_dir / f"ngram_bank{ext}")
    model = SentimentModel(model_dir)
    x = BlendedClassifier(model, weights={}).features(TEXTS, all_features=True, context=True)[0]
    assert x.shape == (3, 16)
    assert feature_names(16) == ALL_FEATURES + BANK_NGRAM_FEATURES + CONTEXT_FEATURES
    bank = load_ngram(model_dir, stem="ngram_bank")
    assert bank is not None
    assert np.allclose(x[:, 11:14], np.log(np.clip(bank.probabilities(TEXTS), 1e-6, None)))
    assert np.allclose(x[:, 15], np.log1p([7, 6, 19]))
    weights = fit_blend(np.tile(x, (4, 1)), ["negative", "neutral", "positive"] * 4)
    assert np.array_equal(BlendedClassifier(model, weights=weights).features(TEXTS)[0], x)
    # a blend that names it in a directory without it is refused
    (model_dir / "ngram_bank.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"ngram_bank\.npz"):
        BlendedClassifier(SentimentModel(model_dir), weights=weights)


def test_train_cli_bank_ngram_trains_it_on_corpus_and_bank_finance_rows(synthetic_public_dir, tiny_model_dir,
                                                                         tmp_path, monkeypatch):
    from sentiment import blend, ngram_train
    from sentiment.public_data import load_public, split_public

    seen: list[list[str]] = []
    real = ngram_train.train_ngram

    def spy(texts, labels, **kw):
        seen.append(list(texts))
        assert kw["seeds"] == 3  # --ngram-seeds reaches the bank model
        return real(texts[:50], labels[:50], epochs=1, seed=kw["seed"], negative_only=kw["negative_only"][:50])

    monkeypatch.setattr(ngram_train, "train_ngram", spy)
    monkeypatch.setattr(blend, "fit_model_blend", lambda out, extra_dev, corpus_weight, context: {})
    out = tmp_path / "m"
    result = runner.invoke(app, ["train", "--ngram-only", "--blend-only", "--keep-corpus-ngram", "--bank-ngram",
                                 "--ngram-seeds", "3", "--data-dir", str(synthetic_public_dir), "--transformer-from",
                                 str(_two_ngram_dir(tiny_model_dir, tmp_path)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(seen) == 1 and (out / "ngram_bank.npz").exists()  # --blend-only: only the bank model is trained
    public = split_public(load_public(synthetic_public_dir))
    bank_train = {i.text for i in public["train"] if i.source in ("bdci2021", "ccf2019")}
    assert bank_train <= set(seen[0])
    assert not {i.text for i in public["train"] if i.source == "waimai_10k"} & set(seen[0])
    assert not {i.text for i in public["heldout"] + public["dev"]} & set(seen[0])
    rows = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["bank_ngram_train_rows"]
    assert rows == len(seen[0])
    refused = runner.invoke(app, ["train", "--ngram-only", "--bank-ngram", "--data-dir", str(synthetic_public_dir),
                                  "--out", str(tmp_path / "n")])
    assert refused.exit_code == 2 and "--keep-corpus-ngram" in refused.stderr


def test_fit_model_blend_never_reads_the_authored_heldout_set(tiny_model_dir, tmp_path, monkeypatch):
    """Training measures each part on corpus test only: a per-part held-out figure printed by every training run
    would invite choosing parts by it. The held-out set is read by ``yuqing evaluate`` alone."""
    from sentiment import corpus
    from sentiment.blend import fit_model_blend

    def forbidden(*args, **kw):
        raise AssertionError("training read the authored held-out set")

    monkeypatch.setattr(corpus, "load_heldout", forbidden)
    monkeypatch.setattr(corpus, "load_dir", _only_corpus(corpus.load_dir, corpus.HELDOUT_DIR))
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "m"))
    report = fit_model_blend(model_dir)
    assert report and all(set(splits) == {"test"} for splits in report.values())
    assert (model_dir / "blend.json").exists()


def _only_corpus(load_dir, heldout_dir):
    def guarded(directory, *args, **kw):
        assert Path(directory).resolve() != Path(heldout_dir).resolve(), "training read the authored held-out set"
        return load_dir(directory, *args, **kw)
    return guarded
