"""``yuqing train``: train the sentiment model from the project's own corpus and the real public data, on CPU.

A small BERT (character vocabulary, a few MB) trained from scratch with three heads: polarity (the standard
sequence-classification head), risk category and about-bank (``AuxHeads``). Fixed seeds, one thread count,
deterministic splits (``sentiment.corpus.split``); the epoch with the best dev negative-F1 is kept. Metrics of
every epoch and the final dev/test figures are written to ``metrics.json`` beside the weights.

With ``use_public`` (what ``yuqing train`` sets when the data directory exists), the real labelled data of
``sentiment.public_data`` joins in: its train split is trained on, its dev split joins the corpus dev split for
model selection (the epoch whose mean of per-source dev negative-F1 is best — the project's corpus counting as
one source — so one large review source does not decide alone) and for fitting the blend. Its held-out split is
never read here. Public rows carry no category or about-bank label, so those heads learn from the corpus only,
and rows whose label says only negative vs not negative are trained on that (``ngram_train.polarity_loss``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from sentiment.classifier import LABELS
from sentiment.corpus import LabelledText, load_corpus, split
from sentiment.model import AUX_CONFIG, AUX_WEIGHTS, DEFAULT_MODEL_DIR, AuxHeads
from sentiment.ngram_train import polarity_loss
from sentiment.textnorm import normalise_text
from sentiment.vocab import build_vocab, write_vocab
from yuqing.categories import CATEGORIES

log = logging.getLogger("sentiment.train")


@dataclass
class TrainConfig:
    seed: int = 20261123
    hidden: int = 160
    layers: int = 3
    heads: int = 4
    intermediate: int = 512
    max_length: int = 128
    batch_size: int = 32
    epochs: int = 10
    lr: float = 6e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    dropout: float = 0.1
    category_weight: float = 0.5
    about_weight: float = 0.3
    char_dropout: float = 0.05  # augmentation: drop characters at random in training texts
    threads: int = field(default_factory=lambda: int(os.environ.get("YUQING_TRAIN_THREADS", "2")))
    fit_blend: bool = True
    extra_train: list[str] = field(default_factory=list)  # extra JSONL files (monitor feedback)
    use_public: bool = False  # also train on the public data's train split (``sentiment.public_data``)
    data_dir: str | None = None  # public data directory (default: YUQING_SENTIMENT_DATA_DIR or ../shared/...)
    public_limit_per_source: int | None = None  # smoke runs: at most this many rows per source and split
    blend_corpus_weight: float = 1.0  # in the blend fit, the corpus weighs as this many public sources
    blend_context: bool = False  # also blend the about-a-bank head and the text's length (sentiment.blend)
    bank_ngram: bool = False  # --ngram-only: also train the bank n-gram model (``bank_ngram_items``) and blend it
    ngram_seeds: int = 1  # each n-gram model is the weight average of this many seeds' models (``train_ngram``)
    # Per-source weight of the transformer's training split: "corpus" or a public source name -> K (see
    # ``oversample``); sources not named weigh 1. Dev and test are never resampled.
    oversample: dict[str, float] = field(default_factory=dict)
    transformer_only: bool = False  # save the transformer and heads only: no n-gram model, no blend


def train(out_dir: Path = DEFAULT_MODEL_DIR, cfg: TrainConfig | None = None, *,
          items: Sequence[LabelledText] | None = None, init_from: Path | None = None) -> dict:
    """Train and save a model directory; returns the metrics written to metrics.json."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    cfg = cfg or TrainConfig()
    _seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    corpus = list(items) if items is not None else load_corpus()
    parts = split(corpus)
    train_items = list(parts["train"])
    dev_items = list(parts["dev"])
    public_sizes = None
    if cfg.use_public:
        from sentiment.public_data import load_public, split_public, split_sizes, subsample_per_source

        public = split_public(load_public(cfg.data_dir))
        public_sizes = split_sizes(public)
        # The held-out split is dropped here and never used below: it is for measurement only.
        train_items += subsample_per_source(public["train"], cfg.public_limit_per_source)
        dev_items += subsample_per_source(public["dev"], cfg.public_limit_per_source)
    if cfg.oversample:
        train_items = oversample(train_items, cfg.oversample, seed=cfg.seed)
    for extra in cfg.extra_train:
        from sentiment.corpus import load_jsonl

        train_items.extend(load_jsonl(Path(extra)))
    out_dir.mkdir(parents=True, exist_ok=True)
    categories = list(CATEGORIES)

    if init_from is not None:
        tokenizer = BertTokenizerFast.from_pretrained(init_from, local_files_only=True)
        model = BertForSequenceClassification.from_pretrained(init_from, local_files_only=True)
        aux = AuxHeads(model.config.hidden_size, len(categories), cfg.dropout)
        if (init_from / AUX_WEIGHTS).exists():
            aux.load_state_dict(torch.load(init_from / AUX_WEIGHTS, map_location="cpu", weights_only=True))
    else:
        vocab_path = out_dir / "vocab.txt"
        write_vocab(build_vocab([i.text for i in corpus] + [i.text for i in train_items if not i.aux_labels]),
                    vocab_path)
        tokenizer = BertTokenizerFast(vocab=str(vocab_path), do_lower_case=True, tokenize_chinese_chars=True)
        config = BertConfig(
            vocab_size=tokenizer.vocab_size, hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
            num_attention_heads=cfg.heads, intermediate_size=cfg.intermediate,
            max_position_embeddings=cfg.max_length + 2, hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout, num_labels=3,
            id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
        model = BertForSequenceClassification(config)
        aux = AuxHeads(cfg.hidden, len(categories), cfg.dropout)

    params = list(model.parameters()) + list(aux.parameters())
    optimiser = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_items) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warmup = int(total * cfg.warmup)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / max(1, warmup)) * max(0.0, (total - s) / max(1, total - warmup)))
    ce = nn.CrossEntropyLoss()
    rng = random.Random(cfg.seed)
    history, best, best_state = [], -1.0, None
    t0 = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        aux.train()
        order = list(range(len(train_items)))
        rng.shuffle(order)
        running = 0.0
        for start in range(0, len(order), cfg.batch_size):
            batch = [train_items[i] for i in order[start:start + cfg.batch_size]]
            texts = [_augment(normalise_text(b.text), rng, cfg.char_dropout) for b in batch]
            enc = tokenizer(texts, padding=True, truncation=True, max_length=cfg.max_length, return_tensors="pt")
            out = model(**enc, output_hidden_states=True)
            pooled = out.hidden_states[-1][:, 0]
            cat_logits, about_logits = aux(pooled)
            y_pol = torch.tensor([LABELS.index(b.polarity) for b in batch])
            neg_only = torch.tensor([b.negative_only for b in batch])
            loss = polarity_loss(out.logits, y_pol, neg_only)
            aux_rows = [k for k, b in enumerate(batch) if b.aux_labels]
            if aux_rows:  # category and about-bank only where annotated (the project's corpus, feedback)
                y_cat = torch.tensor([categories.index(batch[k].category) for k in aux_rows])
                y_about = torch.tensor([int(batch[k].about_bank) for k in aux_rows])
                loss = loss + (cfg.category_weight * ce(cat_logits[aux_rows], y_cat)
                               + cfg.about_weight * ce(about_logits[aux_rows], y_about))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            running += loss.item() * len(batch)
        dev = _evaluate(model, aux, tokenizer, dev_items, categories, cfg)
        row = {"epoch": epoch, "loss": round(running / len(train_items), 4), "seconds": round(time.perf_counter() - t0),
               **{f"dev_{k}": v for k, v in dev.items()}}
        history.append(row)
        log.info("epoch", extra=row)
        if dev["selection"] > best:
            best = dev["selection"]
            best_state = ({k: v.clone() for k, v in model.state_dict().items()},
                          {k: v.clone() for k, v in aux.state_dict().items()}, epoch)
    assert best_state is not None
    model.load_state_dict(best_state[0])
    aux.load_state_dict(best_state[1])
    model.eval()
    aux.eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    torch.save(aux.state_dict(), out_dir / AUX_WEIGHTS)
    (out_dir / AUX_CONFIG).write_text(json.dumps({"categories": categories}, ensure_ascii=False, indent=1),
                                      encoding="utf-8")
    if not cfg.transformer_only:
        from sentiment.ngram_train import save_ngram, train_ngram

        ngram = train_ngram([i.text for i in train_items], [i.polarity for i in train_items], seed=cfg.seed,
                            negative_only=[i.negative_only for i in train_items], seeds=cfg.ngram_seeds)
        save_ngram(ngram, out_dir)
    metrics = {
        "config": asdict(cfg), "best_epoch": best_state[2], "history": history,
        "sizes": {k: len(v) for k, v in parts.items()} | {"train_used": len(train_items), "dev_used": len(dev_items),
                                                          "train_used_by_source": dict(sorted(
                                                              Counter(map(_source_key, train_items)).items()))},
        "public_split_sizes": public_sizes,
        "dev": _evaluate(model, aux, tokenizer, dev_items, categories, cfg),
        "test": _evaluate(model, aux, tokenizer, parts["test"], categories, cfg),
        "parameters": sum(p.numel() for p in model.parameters()) + sum(p.numel() for p in aux.parameters()),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    if cfg.fit_blend and not cfg.transformer_only:
        from sentiment.blend import fit_model_blend

        # Fitted on dev; every part and the blend measured on test and on the held-out set (never trained on).
        metrics["blend"] = fit_model_blend(out_dir, extra_dev=[i for i in dev_items if not i.aux_labels],
                                           corpus_weight=cfg.blend_corpus_weight, context=cfg.blend_context)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1), encoding="utf-8")
    return metrics


class OversampleError(ValueError):
    """A bad ``--oversample`` weight: malformed, negative, repeated, or naming no source of the training rows."""


def _source_key(item: LabelledText) -> str:
    """The name ``oversample`` weighs a training row by: ``corpus`` for the project's annotated texts, else its
    public source."""
    return "corpus" if item.aux_labels else item.source


def parse_oversample(specs: Sequence[str]) -> dict[str, float]:
    """``["corpus=3", "waimai_10k=0.25"]`` -> ``{"corpus": 3.0, "waimai_10k": 0.25}``; ValueError on a malformed
    spec, a negative or non-finite weight, or a source named twice (``OversampleError``)."""
    weights: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        try:
            k = float(value)
        except ValueError:
            k = math.nan
        if not sep or not name or not math.isfinite(k) or k < 0:
            raise OversampleError(f"--oversample {spec!r}: expected SOURCE=K with K a number >= 0 (e.g. corpus=3)")
        if name in weights:
            raise OversampleError(f"--oversample: {name!r} given twice")
        weights[name] = k
    return weights


def oversample(items: Sequence[LabelledText], weights: Mapping[str, float], *, seed: int) -> list[LabelledText]:
    """Resample the training rows per source: each row of a source weighted K appears ``floor(K)`` times, plus
    once more when a hash of its id (and ``seed``) falls below the fraction of K — so 3 triples a source, 0.25
    keeps a fixed quarter of it and 0 drops it. Deterministic, order kept (the epoch shuffle mixes them).

    Why: the transformer learns the mix it is shown. With tens of thousands of review rows and a few thousand bank
    and corpus rows, each review-heavy run moved it towards reviews and away from the bank texts it is for; the
    weights say how much each source should count without changing the data. A name that is no source of
    ``items`` raises ``OversampleError`` (a typo would otherwise be a silent no-op)."""
    known = {_source_key(i) for i in items}
    unknown = sorted(set(weights) - known)
    if unknown:
        raise OversampleError(f"--oversample: no training rows from {', '.join(unknown)} "
                         f"(sources: {', '.join(sorted(known))})")
    out: list[LabelledText] = []
    for item in items:
        k = weights.get(_source_key(item), 1.0)
        whole = int(k)
        digest = hashlib.sha256(f"oversample:{seed}:{item.id}".encode()).digest()
        extra = int.from_bytes(digest[:8], "big") / 2**64 < k - whole
        out.extend([item] * (whole + extra))
    return out


def bank_ngram_items(items: Sequence[LabelledText]) -> list[LabelledText]:
    """The training rows of the bank n-gram model (``sentiment.ngram.BANK_NGRAM_STEM``): the project's corpus and
    the public bank & finance sources, not the reviews — the main n-gram model's data is mostly reviews, the
    corpus-only one has never seen a real bank post; this one reads bank text of both kinds. Order kept."""
    from sentiment.public_data import SOURCES

    return [i for i in items if i.source not in SOURCES or SOURCES[i.source].domain == "bank_finance"]


def train_bank_ngram(items: Sequence[LabelledText], out_dir: Path, *, seed: int, seeds: int = 1) -> int:
    """Train the bank n-gram model on ``bank_ngram_items(items)`` and save it beside the others; returns its size."""
    from sentiment.ngram import BANK_NGRAM_STEM, save_arrays
    from sentiment.ngram_train import train_ngram

    rows = bank_ngram_items(items)
    model = train_ngram([i.text for i in rows], [i.polarity for i in rows], seed=seed,
                        negative_only=[i.negative_only for i in rows], seeds=seeds)
    save_arrays(out_dir, model.weight.weight.detach().numpy(), model.bias.detach().numpy(), model.idf,
                stem=BANK_NGRAM_STEM)
    return len(rows)


def retrain_ngram_and_blend(out_dir: Path, cfg: TrainConfig | None = None, *,
                            transformer_from: Path = DEFAULT_MODEL_DIR, keep_corpus_ngram: bool = False,
                            keep_ngram: bool = False) -> dict:
    """Keep a trained transformer, retrain the n-gram model and refit the blend on the current data.

    The transformer is the slow part (tens of CPU-minutes per epoch on the public data); the n-gram model trains
    in minutes and carries most of what new real texts teach (their words and idioms), and the blend learns how
    far to trust each part on the new dev split. Writes a complete model directory: the transformer's files are
    copied from ``transformer_from`` (unless it is ``out_dir``). Same data rules as :func:`train`: the public
    held-out split is never read.

    ``keep_corpus_ngram``: keep the n-gram model of ``transformer_from`` (its ``ngram_corpus`` model when it has one,
    else its main one — trained on the project's corpus only) as ``ngram_corpus`` beside the retrained one, and fit
    the blend over both (``sentiment.blend``): a model retrained mostly on reviews forgets how bank posts read.
    ``keep_ngram``: keep the main n-gram model of ``transformer_from`` too (and its bank n-gram model when it has
    one) and only refit the blend — exact and seconds instead of minutes, for another blend over trained parts.
    ``cfg.bank_ngram``: (re)train the bank n-gram model (``train_bank_ngram``) and blend it too.
    """
    import shutil

    from sentiment.ngram import CORPUS_NGRAM_STEM

    cfg = cfg or TrainConfig()
    _seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    parts = split(load_corpus())
    train_items, dev_items = list(parts["train"]), list(parts["dev"])
    public_sizes = None
    if cfg.use_public:
        from sentiment.public_data import load_public, split_public, split_sizes, subsample_per_source

        public = split_public(load_public(cfg.data_dir))
        public_sizes = split_sizes(public)
        train_items += subsample_per_source(public["train"], cfg.public_limit_per_source)
        dev_items += subsample_per_source(public["dev"], cfg.public_limit_per_source)
    out_dir.mkdir(parents=True, exist_ok=True)
    if keep_corpus_ngram:
        src = CORPUS_NGRAM_STEM if (transformer_from / f"{CORPUS_NGRAM_STEM}.npz").exists() else "ngram"
        if not (transformer_from / f"{src}.npz").exists():
            raise FileNotFoundError(f"{transformer_from}: no n-gram model to keep")
        for ext in (".npz", ".json"):
            shutil.copy2(transformer_from / f"{src}{ext}", out_dir / f"{CORPUS_NGRAM_STEM}{ext}.tmp")
        for ext in (".npz", ".json"):
            (out_dir / f"{CORPUS_NGRAM_STEM}{ext}.tmp").replace(out_dir / f"{CORPUS_NGRAM_STEM}{ext}")
    if transformer_from.resolve() != out_dir.resolve():
        skip = {"blend.json", "metrics.json", f"{CORPUS_NGRAM_STEM}.npz", f"{CORPUS_NGRAM_STEM}.json"}
        if not keep_ngram:
            skip |= {"ngram.npz", "ngram.json", "ngram_bank.npz", "ngram_bank.json"}
        for f in transformer_from.iterdir():
            if f.is_file() and f.name not in skip:
                shutil.copy2(f, out_dir / f.name)
    from sentiment.blend import fit_model_blend
    from sentiment.ngram_train import save_ngram, train_ngram

    t0 = time.perf_counter()
    if keep_ngram:
        if not (out_dir / "ngram.npz").exists():
            raise FileNotFoundError(f"{transformer_from}: no n-gram model to keep")
    else:
        ngram = train_ngram([i.text for i in train_items], [i.polarity for i in train_items], seed=cfg.seed,
                            negative_only=[i.negative_only for i in train_items], seeds=cfg.ngram_seeds)
        save_ngram(ngram, out_dir)
    bank_rows = (train_bank_ngram(train_items, out_dir, seed=cfg.seed, seeds=cfg.ngram_seeds) if cfg.bank_ngram
                 else None)
    metrics: dict = {
        "config": asdict(cfg) | {"mode": "blend" if keep_ngram else "ngram_and_blend",
                                 "transformer_from": str(transformer_from), "keep_corpus_ngram": keep_corpus_ngram},
        "sizes": {k: len(v) for k, v in parts.items()} | {"train_used": len(train_items), "dev_used": len(dev_items)},
        "public_split_sizes": public_sizes,
        "ngram_train_seconds": round(time.perf_counter() - t0, 1),
        "bank_ngram_train_rows": bank_rows,
    }
    if cfg.fit_blend:
        metrics["blend"] = fit_model_blend(out_dir, extra_dev=[i for i in dev_items if not i.aux_labels],
                                           corpus_weight=cfg.blend_corpus_weight, context=cfg.blend_context)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1), encoding="utf-8")
    return metrics


def _evaluate(model, aux, tokenizer, items: Sequence[LabelledText], categories: list[str], cfg: TrainConfig) -> dict:
    """Polarity metrics over ``items`` (a positive prediction counts as not negative for ``negative_only`` rows),
    category accuracy over the rows annotated with one, and ``selection``: the mean negative-F1 over sources
    (the project's corpus as one source, each public source as one), the figure the best epoch is chosen by."""
    from sentiment.metrics import polarity_metrics

    model.eval()
    aux.eval()
    probs, cats = [], []
    with torch.inference_mode():
        for start in range(0, len(items), 64):
            batch = items[start:start + 64]
            enc = tokenizer([normalise_text(b.text) for b in batch], padding=True, truncation=True,
                            max_length=cfg.max_length, return_tensors="pt")
            out = model(**enc, output_hidden_states=True)
            probs.extend(out.logits.softmax(-1).tolist())
            c, _ = aux(out.hidden_states[-1][:, 0])
            cats.extend(categories[i] for i in c.argmax(-1).tolist())
    pred = [LABELS[max(range(3), key=lambda k: p[k])] for p in probs]
    pred = ["neutral" if b.negative_only and p == "positive" else p for b, p in zip(items, pred, strict=True)]
    gold = [b.polarity for b in items]
    m = polarity_metrics(gold, [p[0] for p in probs], pred)
    annotated = [(c, b) for c, b in zip(cats, items, strict=True) if b.aux_labels]
    m["category_accuracy"] = round(sum(c == b.category for c, b in annotated) / max(1, len(annotated)), 4)
    groups: dict[str, list[int]] = {}
    for k, b in enumerate(items):
        groups.setdefault("corpus" if b.aux_labels else b.source, []).append(k)
    per_source = {g: polarity_metrics([gold[k] for k in ks], [probs[k][0] for k in ks],
                                      [pred[k] for k in ks])["negative_f1"] for g, ks in sorted(groups.items())}
    if len(per_source) > 1:
        m["negative_f1_by_source"] = per_source
    m["selection"] = round(sum(per_source.values()) / max(1, len(per_source)), 4)
    return {k: v for k, v in m.items() if k != "confusion"}


def _augment(text: str, rng: random.Random, p: float) -> str:
    if p <= 0 or len(text) < 8:
        return text
    return "".join(ch for ch in text if rng.random() >= p)


def _seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
