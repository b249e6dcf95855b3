"""The model shipped in the repository: it loads offline from its directory, and on the independent held-out set
it beats the best baseline's negative-F1 by a wide margin (the issue's bar), measured here, not quoted."""

from __future__ import annotations

import os

from sentiment.baselines import baseline_classifiers
from sentiment.batch import choose_classifier
from sentiment.blend import BlendedClassifier
from sentiment.corpus import load_heldout
from sentiment.evaluate import evaluate
from sentiment.model import DEFAULT_MODEL_DIR


def test_shipped_blend_beats_the_baselines_on_the_heldout_set(monkeypatch):
    assert (DEFAULT_MODEL_DIR / "config.json").exists(), "the repository must ship its model"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("YUQING_MODEL_DIR", raising=False)
    monkeypatch.delenv("YUQING_SENTIMENT_BACKEND", raising=False)
    clf = choose_classifier()
    assert isinstance(clf, BlendedClassifier)
    items = load_heldout()
    result = evaluate(items, {clf.name: clf, **baseline_classifiers()})
    best_baseline = max(result[name]["negative_f1"] for name in baseline_classifiers())
    model_f1 = result[clf.name]["negative_f1"]
    assert model_f1 >= best_baseline + 0.15, (model_f1, best_baseline)
    # The floor for the authored set ("no worse than" the first build's 0.876); the shipped build measures
    # 0.889 (docs/model-card.md, run `plain`).
    assert model_f1 >= 0.876, model_f1
    assert result[clf.name]["roc_auc"] >= 0.90
    assert os.environ["HF_HUB_OFFLINE"] == "1"


# Texts per source of the public held-out split measured here (chosen by a hash of the id; the full split is
# measured by `yuqing evaluate --data public --split heldout`, figures in docs/model-card.md).
PUBLIC_SAMPLE_PER_SOURCE = 200


def test_shipped_blend_on_the_real_public_heldout_split_beside_the_baselines(monkeypatch, public_data_dir,
                                                                            public_split):
    """Measured on real posts, per domain, in one run with both baselines: the shipped blend (fine-tuned on the
    public data's train split 2026-12-06, bank n-gram model and context features 2026-12-07, n-gram models
    retrained over the 23-batch corpus with five seeds late on 2026-12-07) must reach negative-F1 ≥ 0.75 on bank
    and finance text and beat both lexicon baselines on the reviews — on this fixed sample it measures 0.832
    (ROC-AUC 0.956) and 0.850 (0.943), the best lexicon baseline on the reviews 0.671 (the build before it 0.809
    and 0.841, the 2026-12-06 build 0.796 and 0.845; the full split's figures are in docs/model-card.md).
    Measured with ``HF_HUB_OFFLINE=1 YUQING_SENTIMENT_DATA_DIR=DATA_DIR pytest -q -n 0 -s
    tests/sentiment/test_shipped_model.py`` (the printed line).

    ``public_split`` puts this run's freshly computed split in the split cache, so ``load_public_split`` below
    reads it instead of grouping the 85,000 texts a second time."""
    from sentiment.public_data import load_public_split, subsample_per_source

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("YUQING_MODEL_DIR", raising=False)
    monkeypatch.delenv("YUQING_SENTIMENT_BACKEND", raising=False)
    clf = choose_classifier()
    items = subsample_per_source(load_public_split("heldout", public_data_dir), PUBLIC_SAMPLE_PER_SOURCE)
    result = evaluate(items, {clf.name: clf, **baseline_classifiers()}, by_source=True)
    domain = {name: m["by_domain"] for name, m in result.items()}
    print({name: {d: (m["negative_f1"], m["roc_auc"]) for d, m in dm.items()} for name, dm in domain.items()})
    blend = domain[clf.name]
    assert blend["bank_finance"]["negative_f1"] >= 0.75 and blend["bank_finance"]["roc_auc"] >= 0.90
    best_lexicon = max(domain[name]["reviews"]["negative_f1"] for name in baseline_classifiers())
    assert blend["reviews"]["negative_f1"] >= best_lexicon + 0.10, (blend["reviews"], best_lexicon)
    assert blend["reviews"]["roc_auc"] >= 0.90
