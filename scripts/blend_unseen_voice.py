"""Round 3 of the 2026-12-07 "aft" runs (docs/model-card.md): the blend fitted on unseen-voice features.

Corpus dev and test share their 11 batches (platform and writer voice) with corpus train, so the corpus-trained
n-gram models look better on them than on a new writer. Here every corpus dev/test row gets the corpus n-gram
and bank n-gram columns from models trained without its batch (the shipped recipes, seed 20261123), and blends
are fitted and scored on those features; the transformer and the main n-gram model stay as they are. Neither
held-out set is read. Writes the fitted candidate blends as JSON for building a model directory.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/blend_unseen_voice.py --data-dir DATA_DIR MODEL_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blend_selection as bs

SEED = 20261123
CORPUS_COLS = slice(8, 11)
BANK_COLS = slice(11, 14)


def _batch_models(args: tuple[str, Path, int]) -> tuple[str, dict]:
    """The corpus and bank n-gram models' log-probabilities for batch ``b``'s dev and test rows, trained without it."""
    import torch

    from sentiment.corpus import load_corpus, split
    from sentiment.ngram import NgramScorer
    from sentiment.ngram_train import train_ngram
    from sentiment.public_data import SOURCES, load_public, split_public, subsample_per_source

    b, data_dir, limit = args
    torch.set_num_threads(1)
    parts = split(load_corpus())
    corpus_train = [i for i in parts["train"] if i.source != b]
    public = subsample_per_source(split_public(load_public(data_dir))["train"], limit)
    bank_public = [i for i in public if SOURCES[i.source].domain == "bank_finance"]
    rows = {name: [i for i in parts[name] if i.source == b] for name in ("dev", "test")}
    out: dict = {}
    for stem, train in (("corpus", corpus_train), ("bank", corpus_train + bank_public)):
        m = train_ngram([i.text for i in train], [i.polarity for i in train], seed=SEED,
                        negative_only=[i.negative_only for i in train])
        # stored as the shipped files are: float16 weights
        w = m.weight.weight.detach().numpy().astype(np.float16).astype(np.float32)
        scorer = NgramScorer(w, m.bias.detach().numpy(), m.idf)
        for name, items in rows.items():
            p = scorer.probabilities([i.text for i in items]) if items else np.zeros((0, 3))
            out[f"{stem}:{name}"] = {"ids": [i.id for i in items], "logp": np.log(np.clip(p, 1e-6, None)).tolist()}
    return b, out


def unseen_features(x_dev: np.ndarray, x_test: np.ndarray, dev: list, test: list, data_dir: Path, limit: int,
                    workers: int) -> tuple[np.ndarray, np.ndarray]:
    cache = bs.CACHE / "unseen-voice.json"
    if cache.exists():
        per_batch = json.loads(cache.read_text())
    else:
        batches = sorted({i.source for i in test})
        with ProcessPoolExecutor(workers) as pool:
            per_batch = dict(pool.map(_batch_models, [(b, data_dir, limit) for b in batches]))
        bs.CACHE.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(per_batch))
    xd, xt = x_dev.copy(), x_test.copy()
    where = {("dev", i.id): k for k, i in enumerate(dev)} | {("test", i.id): k for k, i in enumerate(test)}
    replaced = 0
    for out in per_batch.values():
        for key, val in out.items():
            stem, name = key.split(":")
            target = xd if name == "dev" else xt
            cols = CORPUS_COLS if stem == "corpus" else BANK_COLS
            for id_, lp in zip(val["ids"], val["logp"], strict=True):
                target[where[(name, id_)], cols] = lp
                replaced += 1
    n_corpus = sum(1 for i in dev if i.source not in bs.BANK_FINANCE + bs.REVIEWS) + len(test)
    assert replaced == 2 * n_corpus, (replaced, n_corpus)
    return xd, xt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--weights", nargs="+", type=float, default=[12, 24])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("var/log/unseen-voice-blends.json"))
    args = ap.parse_args()
    dev, test = bs._rows(args.data_dir, 6000)
    x = bs._features(args.model_dir, [i.text for i in dev] + [i.text for i in test])
    xd_std, xt_std = x[:len(dev)], x[len(dev):]
    xd, xt = unseen_features(xd_std, xt_std, dev, test, args.data_dir, 6000, args.workers)

    def report(label: str, x_fit: np.ndarray, w: float) -> dict:
        figures, full = bs.blend_figures(x_fit, xd, xt, dev, test, w)
        # every corpus figure here is on unseen-voice features; the in-sample rows are not part of the rule
        row = {"candidate": label, "corpus_weight": w, "corpus_pooled_unseen": figures["corpus_pooled"],
               "corpus_test_unseen": figures["corpus_test"],
               "bank_finance_dev_oof": figures["bank_finance_dev_oof"], "reviews_dev_oof": figures["reviews_dev_oof"]}
        print(json.dumps(row), flush=True)
        return full

    report("(d): blend fitted on in-batch features", xd_std, 12)
    blends = {str(w): report("fitted on unseen-voice features", xd, w) for w in args.weights}
    args.out.write_text(json.dumps(blends), encoding="utf-8")


if __name__ == "__main__":
    main()
