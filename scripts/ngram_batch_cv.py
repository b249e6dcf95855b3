"""Tune the corpus n-gram model's epochs and weight decay without reading dev, test or any held-out text.

Leave-one-batch-out cross-validation over the corpus *train* split: each corpus batch (a platform and writer
voice) is scored by a model trained on the other batches, so the figure rewards what carries over to a voice the
model has not seen — the situation of the authored held-out set. Prints negative-F1 over all out-of-fold
predictions pooled, per setting. Used for round 2 of the 2026-12-07 "aft" runs (docs/model-card.md).

    .venv/bin/python scripts/ngram_batch_cv.py --epochs 2 3 4 6 8 12 --weight-decay 0 1e-5 1e-4
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    import torch

    from sentiment.blend import LABELS
    from sentiment.corpus import load_corpus, split
    from sentiment.metrics import polarity_metrics
    from sentiment.ngram import NgramScorer
    from sentiment.ngram_train import train_ngram

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", nargs="+", type=int, default=[2, 3, 4, 6, 8, 12])
    ap.add_argument("--weight-decay", nargs="+", type=float, default=[0.0, 1e-5, 1e-4])
    ap.add_argument("--seed", type=int, default=20261123)
    args = ap.parse_args()
    torch.set_num_threads(1)
    train = split(load_corpus())["train"]
    batches = sorted({i.source for i in train})
    print(f"{len(train)} train texts in {len(batches)} batches", flush=True)
    for wd in args.weight_decay:
        for ep in args.epochs:
            gold: list[str] = []
            probs: list[np.ndarray] = []
            for b in batches:
                fit = [i for i in train if i.source != b]
                held = [i for i in train if i.source == b]
                model = train_ngram([i.text for i in fit], [i.polarity for i in fit], epochs=ep, seed=args.seed,
                                    weight_decay=wd)
                scorer = NgramScorer(model.weight.weight.detach().numpy(), model.bias.detach().numpy(), model.idf)
                probs.append(scorer.probabilities([i.text for i in held]))
                gold += [i.polarity for i in held]
            p = np.concatenate(probs)
            pred = [LABELS[int(k)] for k in p.argmax(-1)]
            m = polarity_metrics(gold, p[:, 0].tolist(), pred)
            print(json.dumps({"epochs": ep, "weight_decay": wd, "negative_f1": m["negative_f1"],
                              "roc_auc": m["roc_auc"], "accuracy": m["accuracy"]}), flush=True)


if __name__ == "__main__":
    main()
