"""The public-data path on a synthetic directory the tests write themselves (never rows of the real data): loading
with the label scheme of each source, errors naming file and line, the deterministic near-duplicate-aware split,
per-source evaluation, and a 1-epoch training smoke that proves the held-out split is never trained on."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app
from sentiment import public_data
from sentiment.classifier import Prediction
from sentiment.corpus import CORPUS_DIR, CorpusError, LabelledText, cross_duplicates, load_jsonl
from sentiment.evaluate import evaluate, format_report, load_items
from sentiment.public_data import (
    DATA_DIR_ENV,
    assign_splits,
    load_file,
    load_public,
    resolve_data_dir,
    split_public,
    split_sizes,
    subsample_per_source,
)

runner = CliRunner()


@pytest.fixture
def data_dir(synthetic_public_dir: Path) -> Path:
    return synthetic_public_dir


def test_every_file_is_read_with_its_sources_label_scheme(data_dir):
    items = load_public(data_dir)
    by_source = {s: [i for i in items if i.source == s] for s in ("bdci2021", "ccf2019", "waimai_10k")}
    assert {len(v) for v in by_source.values()} == {64}
    assert {i.polarity for i in by_source["bdci2021"]} == {"negative", "neutral", "positive"}
    assert {i.polarity for i in by_source["ccf2019"]} == {"negative", "neutral"}  # neutral = not negative
    assert {i.polarity for i in by_source["waimai_10k"]} == {"negative", "positive"}  # no neutral class
    assert all(i.negative_only for i in by_source["ccf2019"])
    assert not any(i.negative_only for i in by_source["bdci2021"] + by_source["waimai_10k"])
    assert not any(i.aux_labels for i in items) and {i.category for i in items} == {"other"}
    assert all(i.about_bank for i in by_source["bdci2021"]) and not any(i.about_bank for i in by_source["waimai_10k"])
    assert {i.about_bank for i in by_source["ccf2019"]} == {True, False}  # a bank among the entities or not
    assert all(i.platform == i.source for i in items)


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", r"ccf2019\.jsonl\.gz:2: invalid JSON"),
    ('{"id": "x", "text": "还行", "label": "positive", "source": "ccf2019"}',
     r"ccf2019\.jsonl\.gz:2: label 'positive' not in \['negative', 'neutral'\] for source 'ccf2019'"),
    ('{"id": "x", "text": "  ", "label": "negative"}', r"ccf2019\.jsonl\.gz:2: empty text"),
    ('{"id": "x", "label": "negative"}', r"ccf2019\.jsonl\.gz:2: missing \['text'\]"),
    ('{"id": "x", "text": "差", "label": "negative", "source": "waimai_10k"}',
     r"ccf2019\.jsonl\.gz:2: source 'waimai_10k' does not match"),
    ("[1, 2]", r"ccf2019\.jsonl\.gz:2: expected a JSON object"),
])
def test_a_malformed_row_is_named_by_file_and_line(tmp_path, line, message):
    path = tmp_path / "ccf2019.jsonl.gz"
    good = json.dumps({"id": "ccf2019-0", "text": "示例", "label": "negative", "source": "ccf2019", "meta": {}})
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(good + "\n" + line + "\n")
    with pytest.raises(CorpusError, match=message):
        load_file(path)


def test_a_broken_gzip_file_and_duplicate_ids_are_named(tmp_path):
    (tmp_path / "a.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(CorpusError, match=r"a\.jsonl\.gz: unreadable"):
        load_public(tmp_path)
    (tmp_path / "a.jsonl.gz").unlink()
    row = json.dumps({"id": "same", "text": "示例", "label": "neutral"})
    (tmp_path / "a.jsonl").write_text(row + "\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(row + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"duplicate ids \['same'\]"):
        load_public(tmp_path)


def test_the_data_directory_comes_from_the_option_the_environment_or_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert resolve_data_dir(tmp_path / "x", required=False) is None
    with pytest.raises(FileNotFoundError, match=r"x: no such data directory$"):
        resolve_data_dir(tmp_path / "x")
    monkeypatch.delenv(DATA_DIR_ENV)
    monkeypatch.setattr(public_data, "DEFAULT_DATA_DIR", tmp_path / "absent")
    assert resolve_data_dir(required=False) is None
    with pytest.raises(FileNotFoundError, match="pass --data-dir or set YUQING_SENTIMENT_DATA_DIR"):
        resolve_data_dir()


def test_split_keeps_near_duplicates_together_and_is_deterministic(data_dir, tmp_path):
    items = load_public(data_dir)
    parts = split_public(items, use_cache=False)
    assert sum(len(v) for v in parts.values()) == len(items)
    assert all(parts[name] for name in ("train", "dev", "heldout"))
    for a, b in (("train", "heldout"), ("dev", "heldout"), ("train", "dev")):
        assert cross_duplicates(parts[a], parts[b]) == [], (a, b)
    where = assign_splits(items, use_cache=False)
    assert len({where[f"{s}-dup{n}"] for s in ("bdci2021", "ccf2019", "waimai_10k") for n in range(4)}) == 1
    # the same assignment in any input order, and from the cache
    assert assign_splits(list(reversed(items)), use_cache=False) == where
    assert assign_splits(items) == where
    assert list((tmp_path / "cache" / "public-split").glob("*.json"))
    assert assign_splits(items) == where
    sizes = split_sizes(parts)
    assert set(sizes) == {"bdci2021", "ccf2019", "waimai_10k"}
    assert sum(s["heldout"]["n"] for s in sizes.values() if "heldout" in s) == len(parts["heldout"])


def test_subsample_per_source_is_deterministic_and_keeps_order(data_dir):
    items = load_public(data_dir)
    small = subsample_per_source(items, 5)
    assert len(small) == 15 and small == subsample_per_source(list(items), 5)
    assert [items.index(i) for i in small] == sorted(items.index(i) for i in small)
    assert subsample_per_source(items, None) == items


class Fixed:
    name = "model"

    def __init__(self, answers):
        self.answers = answers

    def predict(self, texts):
        return [Prediction(self.answers[t][0], self.answers[t][1], "other") for t in texts]


def test_per_source_metrics_score_negative_only_sources_as_negative_vs_rest():
    def item(i, polarity, source, negative_only=False):
        return LabelledText(f"i{i}", f"t{i}", polarity, False, "other", source, source, aux_labels=False,
                            negative_only=negative_only)

    items = [item(0, "negative", "ccf2019", True), item(1, "neutral", "ccf2019", True),
             item(2, "negative", "waimai_10k"), item(3, "positive", "waimai_10k")]
    model = Fixed({"t0": ("negative", 0.9), "t1": ("positive", 0.2), "t2": ("neutral", 0.4),
                   "t3": ("positive", 0.1)})
    result = evaluate(items, {"model": model}, baselines=(), by_source=True)["model"]
    ccf, waimai = result["by_source"]["ccf2019"], result["by_source"]["waimai_10k"]
    assert ccf["accuracy"] == 1.0 and ccf["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]  # positive = not neg
    assert waimai["accuracy"] == 0.5 and waimai["negative_recall"] == 0.0  # neutral on a polar review is wrong
    assert result["by_domain"]["bank_finance"]["n"] == 2 and result["by_domain"]["reviews"]["n"] == 2
    assert result["accuracy"] == 0.75 and result["roc_auc"] == 1.0
    report = format_report({"model": result})
    assert "来源 source: ccf2019 (n=2)" in report and "领域 domain: reviews (n=2)" in report


def test_load_items_reads_a_public_split_and_says_how_it_was_sampled(data_dir):
    items, what = load_items("public", data_dir=data_dir)
    assert what.startswith("public data, heldout split") and items
    assert {i.id for i in items} <= {i.id for i in split_public(load_public(data_dir))["heldout"]}
    few, what = load_items("public", "dev", data_dir=data_dir, limit_per_source=2)
    assert "at most 2 texts per source" in what and len(few) <= 6
    with pytest.raises(ValueError, match="unknown split 'test' of the public data"):
        load_items("public", "test", data_dir=data_dir)


def test_evaluate_cli_reports_split_sizes_and_each_source(data_dir, tiny_model_dir, tmp_path):
    out, svg = tmp_path / "eval.json", tmp_path / "reliability.svg"
    result = runner.invoke(app, ["evaluate", "--data", "public", "--data-dir", str(data_dir), "--model",
                                 str(tiny_model_dir), "--json", str(out), "--reliability-svg", str(svg)])
    assert result.exit_code == 0, result.output
    assert "校准 calibration" in result.stdout and "ECE" in result.stdout
    drawing = svg.read_text(encoding="utf-8")
    assert drawing.startswith("<svg") and "rules-v0 ECE" in drawing and "<circle" in drawing
    assert "public data split" in result.stdout and "waimai_10k                heldout" in result.stdout
    for source in ("bdci2021", "ccf2019", "waimai_10k"):
        assert f"来源 source: {source}" in result.stdout
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert set(saved["split_sizes"]) == {"bdci2021", "ccf2019", "waimai_10k"}
    assert set(saved["results"]["rules-v0"]["by_source"]) == {"bdci2021", "ccf2019", "waimai_10k"}
    missing = runner.invoke(app, ["evaluate", "--data", "public", "--data-dir", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "none: no such data directory" in missing.stderr


def test_train_cli_refuses_a_missing_data_directory(tmp_path):
    result = runner.invoke(app, ["train", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "none: no such data directory" in result.stderr
    assert not (tmp_path / "m").exists()


def test_one_epoch_training_smoke_uses_train_and_dev_and_never_the_heldout_split(data_dir, tmp_path, monkeypatch):
    from sentiment import train as train_module
    from sentiment.train import TrainConfig, train

    seen_train: list[str] = []
    seen_eval: list[str] = []
    augment, evaluate_fn = train_module._augment, train_module._evaluate

    def spy_augment(text, rng, p):
        seen_train.append(text)
        return augment(text, rng, p)

    def spy_evaluate(model, aux, tokenizer, items, *args):
        seen_eval.extend(i.text for i in items)
        return evaluate_fn(model, aux, tokenizer, items, *args)

    monkeypatch.setattr(train_module, "_augment", spy_augment)
    monkeypatch.setattr(train_module, "_evaluate", spy_evaluate)
    corpus = load_jsonl(CORPUS_DIR / "weibo.jsonl")[:30] + load_jsonl(CORPUS_DIR / "outlets.jsonl")[:30]
    cfg = TrainConfig(hidden=32, layers=1, heads=2, intermediate=64, max_length=64, epochs=1, batch_size=16,
                      threads=1, fit_blend=False, use_public=True, data_dir=str(data_dir))
    metrics = train(tmp_path / "model", cfg, items=corpus)

    parts = split_public(load_public(data_dir))
    normalised = {t for t in seen_train}
    from sentiment.textnorm import normalise_text

    assert all(normalise_text(i.text) in normalised for i in parts["train"])
    assert not any(normalise_text(i.text) in normalised for i in parts["heldout"] + parts["dev"])
    assert {i.text for i in parts["dev"]} <= set(seen_eval)
    assert not {i.text for i in parts["heldout"]} & set(seen_eval)
    assert metrics["sizes"]["train_used"] == metrics["sizes"]["train"] + len(parts["train"])
    assert set(metrics["public_split_sizes"]) == {"bdci2021", "ccf2019", "waimai_10k"}
    assert set(metrics["dev"]["negative_f1_by_source"]) == {"corpus", "bdci2021", "ccf2019", "waimai_10k"}
    assert (tmp_path / "model" / "config.json").exists() and (tmp_path / "model" / "ngram.npz").exists()


def test_ngram_only_retraining_keeps_the_transformer_and_never_reads_the_heldout_split(data_dir, tiny_model_dir,
                                                                                        tmp_path, monkeypatch):
    from sentiment import ngram_train
    from sentiment.textnorm import normalise_text
    from sentiment.train import TrainConfig

    seen: list[str] = []
    real = ngram_train.train_ngram

    def spy(texts, labels, **kw):
        seen.extend(texts)
        return real(texts[:200], labels[:200], epochs=1, seed=kw.get("seed", 7),
                    negative_only=kw["negative_only"][:200])

    monkeypatch.setattr(ngram_train, "train_ngram", spy)
    cfg = TrainConfig(threads=1, fit_blend=False, use_public=True, data_dir=str(data_dir))
    from sentiment.train import retrain_ngram_and_blend

    out = tmp_path / "model"
    metrics = retrain_ngram_and_blend(out, cfg, transformer_from=tiny_model_dir)
    parts = split_public(load_public(data_dir))
    texts = set(seen)
    assert all(i.text in texts for i in parts["train"])
    assert not any(i.text in texts or normalise_text(i.text) in texts for i in parts["heldout"] + parts["dev"])
    # the transformer is the one given, byte for byte; the n-gram model is new
    for name in ("config.json", "model.safetensors", "vocab.txt"):
        assert (out / name).read_bytes() == (tiny_model_dir / name).read_bytes()
    assert (out / "ngram.npz").exists() and metrics["config"]["mode"] == "ngram_and_blend"
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["sizes"]["train_used"] == len(seen)


def test_blend_fit_scores_negative_only_rows_as_negative_vs_rest():
    import numpy as np

    from sentiment.blend import FEATURES, blend_probabilities, fit_blend

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, len(FEATURES))).astype(np.float32)
    # rows 0-29: negative when feature 0 is high; "not negative" rows carry label neutral but look positive
    y = ["negative" if x[k, 0] > 0 else "neutral" for k in range(60)]
    x[:, 5] = np.where(np.array(y) == "neutral", 2.0, -2.0)
    weights = fit_blend(x, y, negative_only=[True] * 60)
    p = blend_probabilities(x, weights)
    assert ((p[:, 0] > 0.5) == (np.array(y) == "negative")).all()


def test_blend_fit_with_groups_weighs_every_source_the_same():
    import numpy as np

    from sentiment.blend import FEATURES, blend_probabilities, fit_blend

    # A feature that means nothing: 900 rows of a big source are 80 % negative, 100 rows of a small one 20 %.
    x = np.zeros((1000, len(FEATURES)), dtype=np.float32)
    x[:, 0] = np.random.default_rng(1).normal(size=1000)
    y = ["negative" if k % 10 < 8 else "neutral" for k in range(900)] + \
        ["negative" if k % 10 < 2 else "neutral" for k in range(100)]
    groups = ["big"] * 900 + ["small"] * 100
    pooled = blend_probabilities(x, fit_blend(x, y))[:, 0].mean()
    balanced = blend_probabilities(x, fit_blend(x, y, groups=groups))[:, 0].mean()
    assert pooled == pytest.approx(0.74, abs=0.03)  # the big source decides: 740 / 1000 negative
    assert balanced == pytest.approx(0.50, abs=0.03)  # each source counts half: (0.8 + 0.2) / 2
    # the small source weighing as three sources: (0.8 + 3 × 0.2) / 4
    weighted = blend_probabilities(x, fit_blend(x, y, groups=groups, group_weights={"small": 3}))[:, 0].mean()
    assert weighted == pytest.approx(0.35, abs=0.03)


def test_train_cli_ngram_only_writes_a_model_with_the_given_transformer(data_dir, tiny_model_dir, tmp_path,
                                                                        monkeypatch):
    from sentiment import blend, ngram_train

    real = ngram_train.train_ngram
    monkeypatch.setattr(ngram_train, "train_ngram", lambda texts, labels, **kw: real(
        texts[:200], labels[:200], epochs=1, seed=kw["seed"], negative_only=kw["negative_only"][:200]))
    fitted: list[int] = []
    # The blend fit is measured in its own tests; here it only has to be called with the public dev split.
    monkeypatch.setattr(blend, "fit_model_blend",
                        lambda out, extra_dev, corpus_weight, context: fitted.append(len(extra_dev)) or {})
    out = tmp_path / "m"
    result = runner.invoke(app, ["train", "--ngram-only", "--data-dir", str(data_dir), "--transformer-from",
                                 str(tiny_model_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["ngram_train_seconds"] >= 0 and set(printed["public_split_sizes"]) == {
        "bdci2021", "ccf2019", "waimai_10k"}
    assert fitted == [sum(v["dev"]["n"] for v in printed["public_split_sizes"].values())]
    assert (out / "model.safetensors").read_bytes() == (tiny_model_dir / "model.safetensors").read_bytes()
    assert (out / "ngram.npz").exists()


def test_train_cli_keep_corpus_ngram_keeps_the_old_ngram_beside_the_new(data_dir, tiny_model_dir, tmp_path,
                                                                        monkeypatch):
    from sentiment import blend, ngram_train

    real = ngram_train.train_ngram
    monkeypatch.setattr(ngram_train, "train_ngram", lambda texts, labels, **kw: real(
        texts[:200], labels[:200], epochs=1, seed=kw["seed"], negative_only=kw["negative_only"][:200]))
    weights: list[float] = []
    monkeypatch.setattr(blend, "fit_model_blend", lambda out, extra_dev, corpus_weight, context:
                        weights.append(corpus_weight) or {})
    out = tmp_path / "m"
    result = runner.invoke(app, ["train", "--ngram-only", "--keep-corpus-ngram", "--data-dir", str(data_dir),
                                 "--transformer-from", str(tiny_model_dir), "--out", str(out),
                                 "--blend-corpus-weight", "12"])
    assert result.exit_code == 0, result.output
    assert weights == [12.0]
    # the kept model is the transformer directory's n-gram model byte for byte; the main one was retrained
    assert (out / "ngram_corpus.npz").read_bytes() == (tiny_model_dir / "ngram.npz").read_bytes()
    assert (out / "ngram.npz").read_bytes() != (tiny_model_dir / "ngram.npz").read_bytes()
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["config"]["keep_corpus_ngram"] is True


def test_blend_reads_the_corpus_ngram_only_when_its_weights_name_it(tiny_model_dir, tmp_path):
    import shutil

    import numpy as np

    from sentiment.blend import ALL_FEATURES, FEATURES, BlendedClassifier, blend_probabilities, fit_blend
    from sentiment.model import SentimentModel
    from sentiment.ngram import load_ngram

    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "two-ngrams"))
    texts = ["银行态度太差了", "请问怎么开户", "柜员很耐心点赞"]
    for ext in (".npz", ".json"):
        shutil.copy2(model_dir / f"ngram{ext}", model_dir / f"ngram_corpus{ext}")
    model = SentimentModel(model_dir)
    clf = BlendedClassifier(model, weights={})
    x_all = clf.features(texts, all_features=True)[0]
    assert x_all.shape == (3, len(ALL_FEATURES))
    corpus = load_ngram(model_dir, stem="ngram_corpus")
    assert corpus is not None
    assert np.allclose(x_all[:, 8:11], np.log(np.clip(corpus.probabilities(texts), 1e-6, None)))
    # weights fitted over the eleven features name them, and predicting reads the corpus model again
    weights = fit_blend(np.tile(x_all, (4, 1)), ["negative", "neutral", "positive"] * 4)
    assert weights["features"] == list(ALL_FEATURES)
    clf = BlendedClassifier(model, weights=weights)
    x = clf.features(texts)[0]
    assert x.shape == (3, len(ALL_FEATURES))
    assert blend_probabilities(x, weights).shape == (3, 3)
    # an eight-feature blend (every model shipped so far) never reads it
    eight = fit_blend(np.tile(x_all[:, :8], (4, 1)), ["negative", "neutral", "positive"] * 4)
    assert eight["features"] == list(FEATURES)
    assert BlendedClassifier(model, weights=eight).features(texts)[0].shape == (3, len(FEATURES))
    # a blend that names the corpus model in a directory without it is refused, not silently mis-read
    (model_dir / "ngram_corpus.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"ngram_corpus\.npz"):
        BlendedClassifier(SentimentModel(model_dir), weights=weights)


def test_train_cli_init_from_and_lr_reach_the_trainer(tiny_model_dir, tmp_path, monkeypatch):
    from sentiment import train as train_module

    seen: dict = {}

    def fake_train(out, cfg, *, init_from=None):
        seen.update(out=out, lr=cfg.lr, epochs=cfg.epochs, init_from=init_from, use_public=cfg.use_public)
        return {"best_epoch": 1}

    monkeypatch.setattr(train_module, "train", fake_train)
    out = tmp_path / "ft"
    result = runner.invoke(app, ["train", "--no-public-data", "--init-from", str(tiny_model_dir), "--lr", "0.0002",
                                 "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert seen == {"out": out, "lr": 0.0002, "epochs": 2, "init_from": tiny_model_dir, "use_public": False}
    missing = runner.invoke(app, ["train", "--init-from", str(tmp_path / "absent"), "--out", str(out)])
    assert missing.exit_code != 0 and not out.exists()
