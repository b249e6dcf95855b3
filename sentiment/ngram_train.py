"""Training of the n-gram model (``sentiment.ngram``) with torch: Adam over a sparse ``EmbeddingBag``, a dozen
epochs over TF-IDF features computed once. Seconds on CPU for the whole corpus."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sentiment.classifier import LABELS
from sentiment.ngram import BUCKETS, ngrams, save_arrays, tfidf


class NgramTrainer(nn.Module):
    def __init__(self, idf: np.ndarray):
        super().__init__()
        self.idf = idf.astype(np.float32)
        self.weight = nn.EmbeddingBag(BUCKETS, 3, mode="sum")
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, feats: Sequence[tuple[np.ndarray, np.ndarray]]) -> torch.Tensor:
        offsets, total = [], 0
        for ids, _ in feats:
            offsets.append(total)
            total += len(ids)
        ids = torch.from_numpy(np.concatenate([f[0] for f in feats]) if total else np.zeros(0, np.int64))
        vals = torch.from_numpy(np.concatenate([f[1] for f in feats]) if total else np.zeros(0, np.float32))
        return self.weight(ids, torch.tensor(offsets, dtype=torch.long), per_sample_weights=vals) + self.bias


def train_ngram(texts: Sequence[str], labels: Sequence[str], *, epochs: int = 12, seed: int = 7,
                weight_decay: float = 1e-5) -> NgramTrainer:
    torch.manual_seed(seed)
    grams = [ngrams(t) for t in texts]
    df = np.zeros(BUCKETS, dtype=np.float32)
    for g in grams:
        df[list(g)] += 1
    idf = np.log((1 + len(texts)) / (1 + df)) + 1
    model = NgramTrainer(idf)
    feats = [tfidf(g, model.idf) for g in grams]  # once, not every epoch
    opt = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=weight_decay)
    y = [LABELS.index(v) for v in labels]
    rng = random.Random(seed)
    order = list(range(len(texts)))
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            loss = nn.functional.cross_entropy(model([feats[i] for i in idx]), torch.tensor([y[i] for i in idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model


def save_ngram(model: NgramTrainer, model_dir: Path) -> None:
    save_arrays(model_dir, model.weight.weight.detach().numpy(), model.bias.detach().numpy(), model.idf)
