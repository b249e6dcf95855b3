"""``yuqing evaluate``: the model beside its baselines, on the same texts, in the same run.

Numbers from separate runs drift apart (different data versions, different thresholds), so every evaluation
scores the shipped classifier(s) *and* both baselines (snownlp, the rule lexicon) together. For each it reports
accuracy, negative-class precision/recall/F1, macro-F1, ROC-AUC of ``negative_prob`` (negative vs the rest), the
confusion matrix and throughput — on all texts and again on the texts that are about a bank (``about_bank``),
which is what the monitor actually reads. The held-out set (``sentiment/data/heldout``) is the honest test; the
corpus test split is an in-distribution check.
"""

from __future__ import annotations

import math
import sys
import time
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from sentiment.calibration import reliability
from sentiment.classifier import LABEL_NAMES, LABELS, Classifier
from sentiment.corpus import LabelledText
from sentiment.metrics import polarity_metrics

BASELINE_NAMES = frozenset({"snownlp", "rules-v0"})
WARMUP_TEXTS = 8  # predicted once before timing, so lazy loading (snownlp's model, torch kernels) is not timed


def evaluate(items: Sequence[LabelledText], classifiers: Mapping[str, Classifier], *,
             baselines: Collection[str] = BASELINE_NAMES, by_source: bool = False) -> dict:
    """Score every classifier on ``items``.

    Returns ``{name: {n, accuracy, negative_precision, negative_recall, negative_f1, macro_f1, roc_auc,
    confusion, texts_per_second, seconds, baseline, about_bank: {the same metrics on about_bank texts}}}`` in the
    order of ``classifiers``. ``confusion[g][p]`` counts gold ``LABELS[g]`` predicted as ``LABELS[p]``.
    ``roc_auc`` is NaN when the texts hold only one of negative / not negative.

    Items whose gold label says only negative vs not negative (``negative_only``, e.g. ccf2019, where
    ``neutral`` means "not negative") are scored on that distinction: a ``positive`` prediction counts as
    ``neutral`` for them, so accuracy and the confusion matrix do not punish a positive reading of a text that is
    merely not negative (negative P/R/F1 and ROC-AUC are unaffected).

    With ``by_source``, every classifier's entry also holds ``by_source: {source: metrics}`` and
    ``by_domain: {domain: metrics}`` (``sentiment.public_data.SOURCES``), from the same predictions.
    """
    texts = [i.text for i in items]
    gold = [i.polarity for i in items]
    about = [k for k, i in enumerate(items) if i.about_bank]
    result: dict[str, dict] = {}
    for name, clf in classifiers.items():
        clf.predict(texts[:WARMUP_TEXTS])
        start = time.perf_counter()
        preds = clf.predict(texts)
        seconds = time.perf_counter() - start
        neg = [p.negative_prob for p in preds]
        labels = [("neutral" if i.negative_only and p.label == "positive" else p.label)
                  for i, p in zip(items, preds, strict=True)]
        metrics = polarity_metrics(gold, neg, labels)
        metrics["calibration"] = reliability([g == "negative" for g in gold], neg)
        metrics["about_bank"] = polarity_metrics([gold[k] for k in about], [neg[k] for k in about],
                                                 [labels[k] for k in about])
        metrics["texts_per_second"] = round(len(texts) / seconds, 1) if seconds > 0 else math.inf
        metrics["seconds"] = round(seconds, 3)
        metrics["baseline"] = name in baselines
        if by_source:
            metrics["by_source"] = _grouped(items, gold, neg, labels, lambda i: i.source)
            metrics["by_domain"] = _grouped(items, gold, neg, labels, _domain)
        result[name] = metrics
    return result


def _domain(item: LabelledText) -> str:
    from sentiment.public_data import SOURCES

    spec = SOURCES.get(item.source)
    return spec.domain if spec is not None else "other"


def _grouped(items: Sequence[LabelledText], gold: Sequence[str], neg: Sequence[float], labels: Sequence[str],
             key) -> dict[str, dict]:
    index: dict[str, list[int]] = {}
    for k, item in enumerate(items):
        index.setdefault(key(item), []).append(k)
    return {g: polarity_metrics([gold[k] for k in ks], [neg[k] for k in ks], [labels[k] for k in ks])
            for g, ks in sorted(index.items())}


def margin_over_baselines(result: Mapping[str, dict], subset: str | None = None) -> dict[str, dict]:
    """For every non-baseline classifier: the best baseline's negative-F1, its own, and the difference."""
    def pick(m: dict) -> dict:
        return m[subset] if subset else m

    base = {n: pick(m)["negative_f1"] for n, m in result.items() if m["baseline"]}
    if not base:
        return {}
    best = max(base, key=lambda n: base[n])
    return {n: {"best_baseline": best, "baseline_negative_f1": base[best],
                "negative_f1": pick(m)["negative_f1"],
                "delta": round(pick(m)["negative_f1"] - base[best], 4)}
            for n, m in result.items() if not m["baseline"]}


# --- printing -------------------------------------------------------------------------------------------------

_COLUMNS = [("n", "n"), ("accuracy", "准确率"), ("negative_precision", "负面精确率"),
            ("negative_recall", "负面召回率"), ("negative_f1", "负面F1"), ("macro_f1", "宏F1"),
            ("roc_auc", "ROC-AUC")]


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, width: int, right: bool = True) -> str:
    fill = " " * max(0, width - _width(s))
    return fill + s if right else s + fill


def _num(v: float | int) -> str:
    if isinstance(v, int):
        return str(v)
    return "—" if math.isnan(v) else f"{v:.3f}" if not math.isinf(v) else "∞"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(_width(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines = ["  ".join(_pad(c, w, right=k > 0) for k, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _metric_rows(result: Mapping[str, dict], subset: str | None, with_speed: bool,
                 pick=None) -> list[str]:
    header = ["分类器 classifier", *[h for _, h in _COLUMNS]] + (["条/秒 texts/s"] if with_speed else [])
    rows = []
    for name, m in result.items():
        mm = pick(m) if pick else m[subset] if subset else m
        row = [name + (" (基线)" if m["baseline"] else ""), *[_num(mm[k]) for k, _ in _COLUMNS]]
        if with_speed:
            tps = m["texts_per_second"]
            row.append("∞" if math.isinf(tps) else f"{tps:.0f}")
        rows.append(row)
    return _table(header, rows)


def format_report(result: Mapping[str, dict], *, title: str = "") -> str:
    """A readable report: metric tables (all texts, then about-bank texts), confusion matrices, the margin."""
    out: list[str] = []
    if title:
        out += [title, ""]
    n = next(iter(result.values()))["n"] if result else 0
    out += [f"全部文本 all texts (n={n})", *_metric_rows(result, None, True), ""]
    first = next(iter(result.values())) if result else {}
    for key, label in (("by_domain", "领域 domain"), ("by_source", "来源 source")):
        for group, gm in first.get(key, {}).items():
            out += [f"{label}: {group} (n={gm['n']})",
                    *_metric_rows(result, None, False, pick=lambda m, k=key, g=group: m[k][g]), ""]
    n_about = next(iter(result.values()))["about_bank"]["n"] if result else 0
    out += [f"与银行相关的文本 about_bank texts (n={n_about})", *_metric_rows(result, "about_bank", False), ""]
    out.append("校准 calibration: 按预测负面概率分箱，箱内实际负面占比 (predicted vs observed negative share per bin)")
    for name, m in result.items():
        cal = m.get("calibration")
        if cal:
            bins = " ".join(f"{b['lo']:.1f}-{b['hi']:.1f}:{b['predicted']:.2f}/{b['observed']:.2f}(n={b['n']})"
                            for b in cal["bins"])
            out.append(f"  {name}: ECE {cal['ece']:.3f}  {bins}")
    out.append("")
    out.append("混淆矩阵 confusion matrices (行=人工标注 rows gold, 列=预测 cols predicted)")
    for name, m in result.items():
        header = [name, *[f"预测{LABEL_NAMES[lab]}" for lab in LABELS]]
        rows = [[f"标注{LABEL_NAMES[lab]}", *[str(c) for c in m["confusion"][g]]] for g, lab in enumerate(LABELS)]
        out += ["", *_table(header, rows)]
    out.append("")
    for subset, label in ((None, "全部文本"), ("about_bank", "与银行相关")):
        for name, d in margin_over_baselines(result, subset).items():
            out.append(f"{label}: 最佳基线负面F1 vs 模型负面F1 (best baseline negative-F1 vs model negative-F1): "
                       f"{d['best_baseline']} {d['baseline_negative_f1']:.3f} vs {name} {d['negative_f1']:.3f}: "
                       f"{d['delta']:+.3f}")
    if not margin_over_baselines(result):
        out.append("没有模型参与评估，只有基线 (no model evaluated, baselines only)")
    return "\n".join(out)


def json_safe(value):
    """The result with NaN/inf replaced by None, so the written file is strict JSON."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


# --- what to evaluate ----------------------------------------------------------------------------------------

def load_items(data: str, split_name: str | None = None, *, data_dir: Path | str | None = None,
               limit_per_source: int | None = None) -> tuple[list[LabelledText], str]:
    """Texts to evaluate and a description: ``heldout`` (the authored held-out set), ``heldout2`` (the second one),
    ``corpus`` (with a split, default test), ``public`` (the
    real labelled data of ``sentiment.public_data`` from ``data_dir``, with a split of train / dev / heldout,
    default heldout), a JSONL file or a directory of them in the corpus format. ``split_name`` on a file or
    directory splits it the way the corpus is split. ``limit_per_source`` keeps at most that many texts of each
    source, chosen deterministically by a hash of the id (said in the description)."""
    from sentiment.corpus import load_corpus, load_dir, load_heldout, load_jsonl, load_second_heldout, split

    if data == "public":
        from sentiment.public_data import load_public_split, subsample_per_source

        split_name = split_name or "heldout"
        items = load_public_split(split_name, data_dir)
        what = f"public data, {split_name} split ({len(items)} texts, {len({i.source for i in items})} sources)"
        if limit_per_source:
            items = subsample_per_source(items, limit_per_source)
            what += (f"; subsampled to at most {limit_per_source} texts per source by a hash of the id: "
                     f"{len(items)} texts")
        return items, what
    if data == "heldout":
        items, what = load_heldout(), "held-out set"
    elif data == "heldout2":
        items, what = load_second_heldout(), "second held-out set"
    elif data == "corpus":
        items, what = load_corpus(), "corpus"
        split_name = split_name or "test"
    else:
        path = Path(data)
        if not path.exists():
            raise FileNotFoundError(f"{data}: no such file (or use 'corpus' / 'heldout' / 'heldout2' / 'public')")
        items, what = (load_dir(path) if path.is_dir() else load_jsonl(path)), str(path)
    if split_name:
        if split_name not in ("train", "dev", "test"):
            raise ValueError(f"unknown split {split_name!r}: use train, dev or test")
        items, what = split(items)[split_name], f"{what}, {split_name} split"
    if limit_per_source:
        from sentiment.public_data import subsample_per_source

        items = subsample_per_source(items, limit_per_source)
        what += f"; at most {limit_per_source} texts per source (by a hash of the id): {len(items)} texts"
    return items, what


def evaluation_classifiers(model_dir: Path | None = None, *, errors: TextIO | None = None) -> dict[str, Classifier]:
    """The blended classifier (if ``sentiment.blend`` exists and the model has ``blend.json``), the transformer,
    snownlp and the lexicon — in that order. With no model directory, the baselines only, said on ``errors``."""
    from sentiment.baselines import baseline_classifiers
    from sentiment.batch import resolve_model_dir

    errors = errors or sys.stderr
    found: dict[str, Classifier] = {}
    directory = resolve_model_dir(model_dir)
    if (directory / "config.json").exists():
        from sentiment.model import SentimentModel, TransformerClassifier

        model = SentimentModel(directory)
        blended = _blended(model)
        if blended is not None:
            found[blended.name] = blended
        transformer = TransformerClassifier(model)
        found[transformer.name] = transformer
    else:
        print(f"警告 warning: 未找到模型 no model at {directory} (config.json missing); 只评估基线 evaluating the "
              "baselines only — run `yuqing train` or pass --model / set YUQING_MODEL_DIR", file=errors)
    return found | baseline_classifiers()


def _blended(model) -> Classifier | None:
    try:
        from sentiment.blend import BlendedClassifier
    except ImportError:
        return None
    return BlendedClassifier(model) if BlendedClassifier.available(model.model_dir) else None
