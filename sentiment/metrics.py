"""Evaluation metrics, computed by hand so the numbers are exactly what the docs say they are."""

from __future__ import annotations

from collections.abc import Sequence

from sentiment.classifier import LABELS


def polarity_metrics(gold: Sequence[str], negative_prob: Sequence[float], predicted: Sequence[str]) -> dict:
    """Accuracy, negative-class precision/recall/F1, macro-F1, ROC-AUC of negative_prob, confusion matrix."""
    n = len(gold)
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    tp = sum(g == "negative" and p == "negative" for g, p in zip(gold, predicted, strict=True))
    fp = sum(g != "negative" and p == "negative" for g, p in zip(gold, predicted, strict=True))
    fn = sum(g == "negative" and p != "negative" for g, p in zip(gold, predicted, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per_class = []
    for label in LABELS:
        t = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        pp = sum(p == label for p in predicted)
        gg = sum(g == label for g in gold)
        pr, rc = (t / pp if pp else 0.0), (t / gg if gg else 0.0)
        per_class.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    confusion = [[sum(g == a and p == b for g, p in zip(gold, predicted, strict=True)) for b in LABELS]
                 for a in LABELS]
    return {
        "n": n, "accuracy": round(correct / n, 4) if n else 0.0,
        "negative_precision": round(precision, 4), "negative_recall": round(recall, 4),
        "negative_f1": round(f1, 4), "macro_f1": round(sum(per_class) / 3, 4),
        "roc_auc": round(roc_auc([g == "negative" for g in gold], negative_prob), 4),
        "confusion": confusion,
    }


def roc_auc(positive: Sequence[bool], scores: Sequence[float]) -> float:
    """Probability a random positive outscores a random negative (ties count half): Mann–Whitney U."""
    pairs = sorted(zip(scores, positive, strict=True), key=lambda x: x[0])
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2
        rank_sum += avg_rank * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
