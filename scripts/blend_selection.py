"""Score candidate blends by figures that are not held out, for choosing one before any held-out set is read.

Used for the 2026-12-07 afternoon runs in docs/model-card.md ("aft"), whose rule it implements: for each model
directory (a transformer with the shipped build's n-gram models beside it) and each corpus weight, fit the blend
the shipped way on corpus dev + public dev and report

  (1) negative-F1 over corpus test (blend fitted on all dev) and corpus dev out of fold, pooled;
  (2) bank & finance dev out of fold; (3) the review sources' dev out of fold, pooled.

Five folds over all dev rows, fixed by seed 0. Neither held-out set (the authored one, the public held-out split)
is read or featurised here. Features are cached per model directory under var/cache/blend-selection/ so that
weights and folds can be re-scored in seconds.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/blend_selection.py --data-dir DATA_DIR DIR [DIR ...] \\
        --weights 12 24 48
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

BANK_FINANCE = ("bdci2021", "ccf2019")
REVIEWS = ("chnsenticorp", "chnsenticorp_htl_all", "online_shopping_10_cats", "waimai_10k")
CACHE = Path("var/cache/blend-selection")


def _rows(data_dir: Path, limit: int) -> tuple[list, list]:
    """Dev rows (corpus dev + public dev, at most ``limit`` per source) and corpus test, as ``yuqing train`` fits."""
    from sentiment.corpus import load_corpus, split
    from sentiment.public_data import load_public, split_public, subsample_per_source

    parts = split(load_corpus())
    public = split_public(load_public(data_dir))
    dev = list(parts["dev"]) + [i for i in subsample_per_source(public["dev"], limit) if not i.aux_labels]
    return dev, list(parts["test"])


def _features(model_dir: Path, texts: list[str]) -> np.ndarray:
    from sentiment.blend import BANK_NGRAM_FEATURES, BlendedClassifier, feature_names
    from sentiment.model import SentimentModel

    key = hashlib.sha256(("\n".join(texts) + str(model_dir.resolve())).encode()).hexdigest()[:16]
    for f in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.npz")):
        key += f"-{f.stat().st_size}"
    path = CACHE / f"{model_dir.name}-{key}.npy"
    if path.exists():
        return np.load(path)
    names = list(feature_names(16))
    # snownlp is not part of the deployed blend: leave it out of "used" so it is not computed
    weights = {"features": names, "used": [n for n in names if n != "snownlp_negative"]}
    assert BANK_NGRAM_FEATURES[0] in names
    clf = BlendedClassifier(SentimentModel(model_dir), weights=weights)
    x = np.concatenate([clf.features(texts[i:i + 256], context=True)[0] for i in range(0, len(texts), 256)])
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, x)
    return x


def _neg_f1(gold: list[str], probs: np.ndarray) -> float:
    from sentiment.blend import LABELS
    from sentiment.metrics import polarity_metrics

    pred = [LABELS[int(k)] for k in probs.argmax(-1)]
    return polarity_metrics(gold, probs[:, 0].tolist(), pred)["negative_f1"]


def score(model_dir: Path, dev: list, test: list, weights: list[float], folds: int = 5) -> list[dict]:
    texts = [i.text for i in dev] + [i.text for i in test]
    x = _features(model_dir, texts)
    xd, xt = x[:len(dev)], x[len(dev):]
    return [{"model": model_dir.name, "corpus_weight": w} | figures
            for w in weights for figures, _ in [blend_figures(xd, xd, xt, dev, test, w, folds=folds)]]


def blend_figures(x_fit: np.ndarray, x_dev: np.ndarray, x_test: np.ndarray, dev: list, test: list, weight: float,
                  *, folds: int = 5) -> tuple[dict, dict]:
    """The rule's figures for the blend fitted the shipped way at corpus weight ``weight``, and that blend fitted on
    all dev. Fitted on ``x_fit`` (dev rows), scored on ``x_dev`` (the same rows, out of fold) and ``x_test``; the
    two dev matrices differ only when the blend is fitted on one kind of features and judged on another (round 3)."""
    from sentiment.blend import blend_probabilities, feature_names, fit_blend

    cols = [k for k, n in enumerate(feature_names(x_fit.shape[1])) if n != "snownlp_negative"]
    groups = [i.source if i.source in BANK_FINANCE + REVIEWS else "corpus" for i in dev]
    gold_d = [i.polarity for i in dev]
    gold_t = [i.polarity for i in test]
    neg_only = [i.negative_only for i in dev]
    fold = np.random.default_rng(0).permutation(len(dev)) % folds

    def fit(mask: np.ndarray) -> dict:
        idx = np.flatnonzero(mask)
        return fit_blend(x_fit[idx], [gold_d[k] for k in idx], features=cols,
                         negative_only=[neg_only[k] for k in idx], groups=[groups[k] for k in idx],
                         group_weights={"corpus": weight})

    full = fit(np.ones(len(dev), dtype=bool))
    p_test = blend_probabilities(x_test, full)
    p_in = blend_probabilities(x_dev, full)
    p_oof = np.empty_like(p_in)
    for f in range(folds):
        p_oof[fold == f] = blend_probabilities(x_dev[fold == f], fit(fold != f))

    def sel(probs: np.ndarray, which) -> float:
        idx = [k for k, g in enumerate(groups) if which(g)]
        return _neg_f1([gold_d[k] for k in idx], probs[idx])

    corpus_idx = [k for k, g in enumerate(groups) if g == "corpus"]
    figures = {
        "corpus_pooled": _neg_f1(gold_t + [gold_d[k] for k in corpus_idx],
                                 np.concatenate([p_test, p_oof[corpus_idx]])),
        "corpus_test": _neg_f1(gold_t, p_test),
        "corpus_dev_oof": sel(p_oof, lambda g: g == "corpus"),
        "bank_finance_dev_oof": sel(p_oof, lambda g: g in BANK_FINANCE),
        "reviews_dev_oof": sel(p_oof, lambda g: g in REVIEWS),
        "bank_finance_dev_in_sample": sel(p_in, lambda g: g in BANK_FINANCE),
        "reviews_dev_in_sample": sel(p_in, lambda g: g in REVIEWS),
    }
    return figures, full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dirs", nargs="+", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--weights", nargs="+", type=float, default=[12, 24, 48])
    ap.add_argument("--public-limit-per-source", type=int, default=6000)
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    dev, test = _rows(args.data_dir, args.public_limit_per_source)
    print(f"dev {len(dev)} rows, corpus test {len(test)}")
    rows = []
    for d in args.model_dirs:
        for r in score(d, dev, test, args.weights):
            rows.append(r)
            print(json.dumps(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
