"""A linear model over hashed character n-grams (1–3), TF-IDF weighted: the classic strong baseline for short
Chinese texts with little data, trained in seconds. It is one member of the blend (``sentiment.blend``): it
remembers exact phrasings the small transformer blurs, and costs almost nothing at inference.

Inference here is NumPy only, so the deployed blend on ONNX Runtime runs without torch in the process;
training (``sentiment.ngram_train``) uses torch.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sentiment.arrays import softmax
from sentiment.textnorm import normalise_text

NGRAM_WEIGHTS = "ngram.npz"
NGRAM_CONFIG = "ngram.json"
# A second n-gram model a directory may carry beside the main one: trained on the project's own corpus only, kept
# when the main one is retrained on public data, so the blend can trust each where it measures better.
CORPUS_NGRAM_STEM = "ngram_corpus"
# A third, beside those two: trained on the corpus and the public bank & finance sources (``sentiment.train``).
BANK_NGRAM_STEM = "ngram_bank"
BUCKETS = 1 << 18


def ngrams(text: str, n_max: int = 3) -> Counter[int]:
    """Counts of the text's hashed character 1- to ``n_max``-grams (normalised, lower-cased, no pure spaces)."""
    t = normalise_text(text).lower()
    grams: Counter[int] = Counter()
    for n in range(1, n_max + 1):
        for i in range(len(t) - n + 1):
            g = t[i:i + n]
            if not g.isspace():
                grams[zlib.crc32(g.encode("utf-8")) % BUCKETS] += 1
    return grams


def tfidf(grams: Counter[int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bucket ids and their L2-normalised sublinear TF-IDF weights (float32)."""
    ids = np.fromiter(grams.keys(), dtype=np.int64, count=len(grams))
    counts = np.fromiter(grams.values(), dtype=np.float32, count=len(grams))
    vals = (1.0 + np.log(counts)) * idf[ids]
    norm = float(np.sqrt((vals * vals).sum())) or 1.0
    return ids, (vals / norm).astype(np.float32)


class NgramScorer:
    """Inference: softmax(Σ tfidf(g) · W[g] + b) over a text's hashed n-grams."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, idf: np.ndarray):
        if weight.shape != (BUCKETS, 3) or idf.shape != (BUCKETS,) or bias.shape != (3,):
            raise ValueError(f"n-gram arrays have shapes {weight.shape}, {bias.shape}, {idf.shape}; "
                             f"expected ({BUCKETS}, 3), (3,), ({BUCKETS},)")
        self.weight = weight.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.idf = idf.astype(np.float32)

    def logits(self, texts: Sequence[str], grams: Sequence[Counter[int]] | None = None) -> np.ndarray:
        """``grams``: the texts' :func:`ngrams` when the caller has them (the blend scores the same texts with up to
        three n-gram models, and counting the n-grams was most of each model's time); they are only read."""
        out = np.tile(self.bias, (len(texts), 1))
        for i, text in enumerate(texts):
            ids, vals = tfidf(grams[i] if grams is not None else ngrams(text), self.idf)
            if len(ids):
                out[i] += vals @ self.weight[ids]
        return out

    def probabilities(self, texts: Sequence[str], grams: Sequence[Counter[int]] | None = None) -> np.ndarray:
        """[n, 3] probabilities in ``LABELS`` order (``grams`` as for :meth:`logits`)."""
        if not texts:
            return np.zeros((0, 3), dtype=np.float32)
        return softmax(self.logits(texts, grams))


def save_arrays(model_dir: Path, weight: np.ndarray, bias: np.ndarray, idf: np.ndarray, *,
                stem: str = "ngram") -> None:
    """Store only the rows in use (the table is sparse): the repo should carry megabytes, not tens of them."""
    idf_default = float(idf.max())
    used = (np.abs(weight).sum(axis=1) > 0) | (idf != idf_default)
    rows = np.nonzero(used)[0].astype(np.int32)
    np.savez_compressed(model_dir / f"{stem}.npz", rows=rows, weight=weight[rows].astype(np.float16),
                        idf=idf[rows].astype(np.float16), bias=bias.astype(np.float32),
                        idf_default=np.float32(idf_default))
    (model_dir / f"{stem}.json").write_text(json.dumps({"buckets": BUCKETS, "n_max": 3}), encoding="utf-8")


def load_ngram(model_dir: Path, *, stem: str = "ngram") -> NgramScorer | None:
    """The model directory's n-gram scorer, or None when it has none (e.g. a bank's own RoBERTa directory).
    ``stem="ngram_corpus"`` loads the corpus-only model kept beside a retrained one."""
    path = model_dir / f"{stem}.npz"
    if not path.exists():
        return None
    with np.load(path) as state:
        rows = state["rows"]
        weight = np.zeros((BUCKETS, 3), dtype=np.float32)
        weight[rows] = state["weight"].astype(np.float32)
        idf = np.full(BUCKETS, float(state["idf_default"]), dtype=np.float32)
        idf[rows] = state["idf"].astype(np.float32)
        return NgramScorer(weight, state["bias"], idf)
