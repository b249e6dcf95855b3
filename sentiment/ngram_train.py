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


def polarity_loss(logits: torch.Tensor, target: torch.Tensor, negative_only: torch.Tensor | None = None,
                  weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy over (negative, neutral, positive); rows flagged ``negative_only`` whose gold is not
    negative (a source whose "neutral" means only *not negative*, e.g. ccf2019) are scored as negative vs the
    rest: −log(p_neutral + p_positive), so a positive reading of them is not punished. ``weight``: per row."""
    log_p = torch.log_softmax(logits, -1)
    loss = -log_p.gather(1, target[:, None]).squeeze(1)
    if negative_only is not None:
        partial = negative_only & (target != 0)
        if bool(partial.any()):
            loss = torch.where(partial, -torch.logsumexp(log_p[:, 1:], -1), loss)
    if weight is not None:
        return (loss * weight).sum() / weight.sum().clamp_min(1e-12)
    return loss.mean()


def train_ngram(texts: Sequence[str], labels: Sequence[str], *, epochs: int = 12, seed: int = 7,
                weight_decay: float = 1e-5, negative_only: Sequence[bool] | None = None,
                seeds: int = 1) -> NgramTrainer:
    """``negative_only``: per text, whether its label says only negative vs not negative (``polarity_loss``).

    ``seeds``: train this many models (seeds ``seed``, ``seed + 1``, …; each its own data order) and average their
    weights. Adam's last step without decay leaves the weights where the last batches pushed them: removing one
    training text of 11,000 reshuffles every epoch and moved a short text like "银行很差" from 0.88 to 0.56
    negative. For a linear model the averaged weights give exactly the mean of the models' logits — an ensemble
    at the cost of one model at inference.
    """
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, not {seeds}")
    grams = [ngrams(t) for t in texts]
    df = np.zeros(BUCKETS, dtype=np.float32)
    for g in grams:
        df[list(g)] += 1
    idf = np.log((1 + len(texts)) / (1 + df)) + 1
    model = NgramTrainer(idf)
    feats = [tfidf(g, model.idf) for g in grams]  # once, not every epoch
    y = [LABELS.index(v) for v in labels]
    weight = torch.zeros_like(model.weight.weight)
    bias = torch.zeros_like(model.bias)
    for k in range(seeds):
        one = NgramTrainer(idf)
        _fit(one, feats, y, negative_only, epochs=epochs, seed=seed + k, weight_decay=weight_decay)
        weight += one.weight.weight.detach()
        bias += one.bias.detach()
    with torch.no_grad():
        model.weight.weight.copy_(weight / seeds)
        model.bias.copy_(bias / seeds)
    model.eval()
    return model


def _fit(model: NgramTrainer, feats: Sequence[tuple[np.ndarray, np.ndarray]], y: Sequence[int],
         negative_only: Sequence[bool] | None, *, epochs: int, seed: int, weight_decay: float) -> None:
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=weight_decay)
    rng = random.Random(seed)
    order = list(range(len(feats)))
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            mask = None if negative_only is None else torch.tensor([bool(negative_only[i]) for i in idx])
            loss = polarity_loss(model([feats[i] for i in idx]), torch.tensor([y[i] for i in idx]), mask)
            opt.zero_grad()
            loss.backward()
            opt.step()


def save_ngram(model: NgramTrainer, model_dir: Path) -> None:
    save_arrays(model_dir, model.weight.weight.detach().numpy(), model.bias.detach().numpy(), model.idf)
