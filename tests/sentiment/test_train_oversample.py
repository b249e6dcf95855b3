"""``yuqing train --oversample SOURCE=K`` and ``--transformer-only``: per-source weights of the transformer's
training rows (deterministic, dev never resampled) and a transformer-only save for the fine-tune recipe."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from runner.cli import app
from sentiment.corpus import CORPUS_DIR, LabelledText, load_jsonl
from sentiment.train import OversampleError, TrainConfig, oversample, parse_oversample, train

runner = CliRunner()


def _rows(source: str, n: int, *, corpus: bool = False) -> list[LabelledText]:
    return [LabelledText(id=f"{source}-{k}", text=f"{source}第{k}条", polarity="neutral", about_bank=False,
                         category="none", platform="x", source=source, aux_labels=corpus) for k in range(n)]


def test_parse_oversample_reads_weights_and_refuses_bad_specs():
    assert parse_oversample(["corpus=3", " waimai_10k = 0.25", "ccf2019=0"]) == {
        "corpus": 3.0, "waimai_10k": 0.25, "ccf2019": 0.0}
    assert parse_oversample([]) == {}
    for bad in (["corpus"], ["corpus=x"], ["=2"], ["corpus=-1"], ["corpus=nan"], ["corpus=inf"],
                ["corpus=2", "corpus=3"]):
        with pytest.raises(OversampleError):
            parse_oversample(bad)


def test_oversample_repeats_keeps_a_fixed_fraction_and_drops_per_source():
    # corpus rows (annotated) count as "corpus" whatever their batch file is
    items = _rows("weibo", 100, corpus=True) + _rows("bdci2021", 50) + _rows("waimai_10k", 400) + _rows("ccf2019", 30)
    out = oversample(items, {"corpus": 3, "waimai_10k": 0.25, "ccf2019": 0}, seed=1)
    counts = Counter(i.id for i in out)
    assert all(counts[f"weibo-{k}"] == 3 for k in range(100))
    assert all(counts[f"bdci2021-{k}"] == 1 for k in range(50))  # not named: weight 1
    assert not any(i.source == "ccf2019" for i in out)
    kept = [k for k in range(400) if counts[f"waimai_10k-{k}"]]
    assert all(counts[f"waimai_10k-{k}"] == 1 for k in kept)
    assert 70 <= len(kept) <= 130  # a quarter of 400, by a hash of the id
    # deterministic for a seed, a different fixed subset for another seed; order of first appearance kept
    assert oversample(items, {"waimai_10k": 0.25}, seed=1) == oversample(items, {"waimai_10k": 0.25}, seed=1)
    assert oversample(items, {"waimai_10k": 0.25}, seed=1) != oversample(items, {"waimai_10k": 0.25}, seed=2)
    assert list(dict.fromkeys(i.id for i in out)) == [i.id for i in items if counts[i.id]]
    # 1.5: every row once, about half twice
    twice = sum(c == 2 for c in Counter(i.id for i in oversample(items, {"waimai_10k": 1.5}, seed=1)).values())
    assert 160 <= twice <= 240


def test_oversample_refuses_a_source_with_no_training_rows():
    with pytest.raises(OversampleError, match="chnsenticorp"):
        oversample(_rows("waimai_10k", 5), {"chnsenticorp": 2}, seed=1)


def test_training_weighs_sources_and_transformer_only_saves_no_ngram_or_blend(synthetic_public_dir, tmp_path,
                                                                              monkeypatch):
    from sentiment import train as train_module

    seen: list[str] = []
    evaluated: list[str] = []
    augment, evaluate_fn = train_module._augment, train_module._evaluate
    monkeypatch.setattr(train_module, "_augment", lambda text, rng, p: seen.append(text) or augment(text, rng, p))

    def spy_evaluate(model, aux, tokenizer, items, *args):
        evaluated.extend(i.id for i in items)
        return evaluate_fn(model, aux, tokenizer, items, *args)

    monkeypatch.setattr(train_module, "_evaluate", spy_evaluate)
    corpus = load_jsonl(CORPUS_DIR / "weibo.jsonl")[:40]
    cfg = TrainConfig(hidden=32, layers=1, heads=2, intermediate=64, max_length=64, epochs=1, batch_size=16,
                      threads=1, use_public=True, data_dir=str(synthetic_public_dir), transformer_only=True,
                      oversample={"corpus": 2, "waimai_10k": 0})
    metrics = train(tmp_path / "model", cfg, items=corpus)
    by_source = metrics["sizes"]["train_used_by_source"]
    assert "waimai_10k" not in by_source and by_source["corpus"] == 2 * metrics["sizes"]["train"]
    assert len(seen) == metrics["sizes"]["train_used"] == sum(by_source.values())
    assert any(i.startswith("waimai_10k") for i in evaluated)  # dev keeps every source
    out = tmp_path / "model"
    assert (out / "model.safetensors").exists() and (out / "aux_heads.pt").exists()
    assert not (out / "ngram.npz").exists() and not (out / "blend.json").exists()
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved["config"]["oversample"] == {"corpus": 2, "waimai_10k": 0} and "blend" not in saved


def test_train_cli_refuses_bad_oversample_specs(tmp_path):
    result = runner.invoke(app, ["train", "--no-public-data", "--oversample", "corpus=lots", "--out",
                                 str(tmp_path / "m")])
    assert result.exit_code == 2 and "expected SOURCE=K" in result.stderr
    result = runner.invoke(app, ["train", "--no-public-data", "--ngram-only", "--oversample", "corpus=2",
                                 "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "do not go with --ngram-only" in result.stderr
    assert not (tmp_path / "m").exists()
