"""A linear model over hashed character n-grams (1–3), TF-IDF weighted: the classic strong baseline for short
Chinese texts with little data, trained in seconds. It is one member of the blend (``sentiment.blend``): it
remembers exact phrasings the small transformer blurs, and costs almost nothing at inference.
"""

from __future__ import annotations

import json
import math
import random
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from sentiment.classifier import LABELS
from sentiment.textnorm import normalise_text

NGRAM_WEIGHTS = "ngram.pt"
NGRAM_CONFIG = "ngram.json"
BUCKETS = 1 << 18


def ngrams(text: str, n_max: int = 3) -> Counter[int]:
    t = normalise_text(text).lower()
    grams: Counter[int] = Counter()
    for n in range(1, n_max + 1):
        for i in range(len(t) - n + 1):
            g = t[i:i + n]
            if not g.isspace():
                grams[zlib.crc32(g.encode("utf-8")) % BUCKETS] += 1
    return grams


class NgramClassifier(nn.Module):
    def __init__(self, idf: torch.Tensor):
        super().__init__()
        self.register_buffer("idf", idf)
        self.weight = nn.EmbeddingBag(BUCKETS, 3, mode="sum")
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(3))

    def featurize(self, text: str) -> tuple[list[int], list[float]]:
        """Hashed n-gram ids and their L2-normalised TF-IDF weights."""
        grams = ngrams(text)
        ids = list(grams)
        vals = [(1 + math.log(grams[g])) * float(self.idf[g]) for g in ids]
        norm = math.sqrt(sum(v * v for v in vals)) or 1.0
        return ids, [v / norm for v in vals]

    def forward_features(self, feats: Sequence[tuple[list[int], list[float]]]) -> torch.Tensor:
        ids, weights, offsets = [], [], []
        for gram_ids, gram_weights in feats:
            offsets.append(len(ids))
            ids.extend(gram_ids)
            weights.extend(gram_weights)
        return self.weight(torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long),
                           per_sample_weights=torch.tensor(weights)) + self.bias

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        return self.forward_features([self.featurize(t) for t in texts])

    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        with torch.inference_mode():
            return self(texts).softmax(-1) if texts else torch.zeros(0, 3)


def train_ngram(texts: Sequence[str], labels: Sequence[str], *, epochs: int = 12, seed: int = 7,
                weight_decay: float = 1e-5) -> NgramClassifier:
    df = torch.zeros(BUCKETS)
    for t in texts:
        for g in ngrams(t):
            df[g] += 1
    idf = torch.log((1 + len(texts)) / (1 + df)) + 1
    model = NgramClassifier(idf)
    feats = [model.featurize(t) for t in texts]  # once, not every epoch
    opt = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=weight_decay)
    y = [LABELS.index(v) for v in labels]
    rng = random.Random(seed)
    order = list(range(len(texts)))
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            loss = nn.functional.cross_entropy(model.forward_features([feats[i] for i in idx]),
                                               torch.tensor([y[i] for i in idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model


def save_ngram(model: NgramClassifier, model_dir: Path) -> None:
    # Store only the used rows: the table is sparse, and the repo should carry megabytes, not tens of them.
    w = model.weight.weight.detach()
    used = (w.abs().sum(1) > 0) | (model.idf != model.idf.max())
    rows = used.nonzero().squeeze(1)
    torch.save({"rows": rows, "weight": w[rows].half(), "idf": model.idf[rows].half(), "bias": model.bias.detach(),
                "idf_default": float(model.idf.max())}, model_dir / NGRAM_WEIGHTS)
    (model_dir / NGRAM_CONFIG).write_text(json.dumps({"buckets": BUCKETS, "n_max": 3}), encoding="utf-8")


def load_ngram(model_dir: Path) -> NgramClassifier | None:
    path = model_dir / NGRAM_WEIGHTS
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    idf = torch.full((BUCKETS,), state["idf_default"])
    idf[state["rows"]] = state["idf"].float()
    model = NgramClassifier(idf)
    with torch.no_grad():
        model.weight.weight[state["rows"]] = state["weight"].float()
        model.bias.copy_(state["bias"])
    model.eval()
    return model
