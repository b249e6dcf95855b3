"""Real, publicly posted labelled Chinese texts, read from a directory outside the repository.

The directory (default ``../shared/data/sentiment`` beside the project root when it exists; ``--data-dir`` or
``YUQING_SENTIMENT_DATA_DIR`` override it) holds one ``<source>.jsonl`` or ``<source>.jsonl.gz`` file per source,
each line ``{"id", "text", "label", "source", "meta"}``. Nothing of it is copied into the repository: code reads
it from the path, and the split below is defined here, in code.

Each row becomes a ``LabelledText`` with ``source`` = ``platform`` = the source name, category ``other`` and
``aux_labels=False`` (the sources carry no risk category and no about-a-bank label, so training does not learn
those heads from them), ``about_bank`` set per source as ``SOURCES`` says (used only to report the about-bank
subset), and ``negative_only=True`` where the source's label says only negative vs not negative.

The split (``split_public``) is over near-duplicate groups found across *all* sources together (character
3-gram Jaccard ≥ 0.6, MinHash candidates verified exactly), so no held-out text has a close sibling in train or
dev, even in another file; each group goes to heldout / dev / train by a SHA-256 hash of its smallest id and a
fixed seed — the same on every run and machine, and a group keeps its split when other rows are added. The held-out
split is for measurement only: never training, never model selection, never blend fitting.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sentiment.classifier import LABELS
from sentiment.corpus import NEAR_DUPLICATE_JACCARD, CorpusError, LabelledText, empty_minhash, shingles

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data" / "sentiment"
DATA_DIR_ENV = "YUQING_SENTIMENT_DATA_DIR"
PUBLIC_SPLIT_SEED = "yuqing-public-v1"
PUBLIC_SPLITS = ("train", "dev", "heldout")
CANDIDATE_JACCARD = 0.4  # MinHash LSH candidate threshold, well below the verified one so true pairs are not missed


@dataclass(frozen=True)
class SourceSpec:
    labels: frozenset[str]  # the labels the source's rows may carry after the data README's mapping
    negative_only: bool  # True: the source's only distinction is negative vs not negative
    heldout: float  # fraction of near-duplicate groups held out for measurement
    dev: float  # fraction for model selection (early stopping, blend fitting)
    domain: str  # "bank_finance" or "reviews": the targets differ by domain


_THREE = frozenset(LABELS)
_NEG_REST = frozenset({"negative", "neutral"})
_BINARY = frozenset({"negative", "positive"})

# Label mapping per source, as the data README defines it (the files already hold the mapped names).
SOURCES: dict[str, SourceSpec] = {
    # CCF BDCI 2021 bank / credit-card comments: source `class` 0 / 1 / 2 (负面 / 正面 / 中立) → negative / positive /
    # neutral. Three classes; 90 % neutral, so it is held out at 20 % to keep enough negatives to measure.
    "bdci2021": SourceSpec(_THREE, False, 0.2, 0.1, "bank_finance"),
    # CCF BDCI 2019 financial news / posts: source `negative` = 1 → negative, 0 → neutral, where neutral means
    # NOT NEGATIVE (may be positive in tone). No positive class; used for negative-vs-rest only (negative_only).
    "ccf2019": SourceSpec(_NEG_REST, True, 0.2, 0.1, "bank_finance"),
    # ChnSentiCorp (hotel, book, laptop reviews): 0 / 1 → negative / positive. No neutral class: mixed or flat
    # reviews were forced into one of the two.
    "chnsenticorp": SourceSpec(_BINARY, False, 0.1, 0.1, "reviews"),
    # ChnSentiCorp_htl_all (hotel reviews): 0 / 1 → negative / positive. No neutral class.
    "chnsenticorp_htl_all": SourceSpec(_BINARY, False, 0.1, 0.1, "reviews"),
    # waimai_10k (food-delivery reviews): 0 / 1 → negative / positive. No neutral class.
    "waimai_10k": SourceSpec(_BINARY, False, 0.1, 0.1, "reviews"),
    # online_shopping_10_cats (e-commerce reviews, 10 categories): 0 / 1 → negative / positive. No neutral class.
    "online_shopping_10_cats": SourceSpec(_BINARY, False, 0.1, 0.1, "reviews"),
}
# A file whose source is not listed above: labels taken as given (any of the three), the default fractions.
UNKNOWN_SOURCE = SourceSpec(_THREE, False, 0.1, 0.1, "other")


def spec(source: str) -> SourceSpec:
    return SOURCES.get(source, UNKNOWN_SOURCE)


def resolve_data_dir(explicit: Path | str | None = None, *, required: bool = True) -> Path | None:
    """The data directory: ``explicit``, else ``$YUQING_SENTIMENT_DATA_DIR``, else ``../shared/data/sentiment``
    beside the project root. Raises FileNotFoundError (naming the path and how to set it) when it is missing and
    ``required``; otherwise returns None."""
    chosen = explicit or os.environ.get(DATA_DIR_ENV) or None
    path = Path(chosen) if chosen else DEFAULT_DATA_DIR
    if path.is_dir():
        return path
    if required:
        how = "" if chosen else f" (the default; pass --data-dir or set {DATA_DIR_ENV})"
        raise FileNotFoundError(f"{path}: no such data directory{how}")
    return None


def data_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz")))
    if not files:
        raise CorpusError(f"{directory}: no .jsonl or .jsonl.gz files")
    return files


def source_name(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".jsonl")


def _about_bank(source: str, meta: dict) -> bool:
    if source == "bdci2021":
        return True  # every row is a bank or credit-card forum / customer-service comment
    if source == "ccf2019":  # financial news about entities that are mostly P2P platforms; some are banks
        return any("银行" in str(e) for e in meta.get("entity") or ())
    return False  # product, hotel and delivery reviews (and unknown sources)


def load_file(path: Path) -> list[LabelledText]:
    """One source file; a malformed row raises CorpusError naming the file, the line and the problem."""
    source = source_name(path)
    allowed = spec(source).labels
    opener = gzip.open if path.name.endswith(".gz") else open
    items = []
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CorpusError(f"{where}: invalid JSON ({exc.msg})") from None
                if not isinstance(obj, dict):
                    raise CorpusError(f"{where}: expected a JSON object")
                missing = {"id", "text", "label"} - set(obj)
                if missing:
                    raise CorpusError(f"{where}: missing {sorted(missing)}")
                if not isinstance(obj["id"], str | int) or not str(obj["id"]).strip():
                    raise CorpusError(f"{where}: id must be a non-empty string")
                if not isinstance(obj["text"], str) or not obj["text"].strip():
                    raise CorpusError(f"{where}: empty text")
                if obj["label"] not in allowed:
                    raise CorpusError(f"{where}: label {obj['label']!r} not in {sorted(allowed)} for source "
                                      f"{source!r}")
                if obj.get("source", source) != source:
                    raise CorpusError(f"{where}: source {obj['source']!r} does not match the file name ({source!r})")
                meta = obj.get("meta") or {}
                if not isinstance(meta, dict):
                    raise CorpusError(f"{where}: meta must be an object")
                items.append(LabelledText(
                    str(obj["id"]), obj["text"], obj["label"], _about_bank(source, meta), "other", source, source,
                    aux_labels=False, negative_only=spec(source).negative_only))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CorpusError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    return items


def load_public(data_dir: Path | str | None = None) -> list[LabelledText]:
    """Every row of every file in the data directory, files in name order; ids must be unique across files."""
    directory = resolve_data_dir(data_dir)
    assert directory is not None
    items: list[LabelledText] = []
    for path in data_files(directory):
        items.extend(load_file(path))
    seen: set[str] = set()
    dup = []
    for i in items:
        if i.id in seen:
            dup.append(i.id)
        seen.add(i.id)
    if dup:
        raise CorpusError(f"{directory}: duplicate ids {sorted(set(dup))[:5]}")
    return items


# --- near-duplicate groups and the split ------------------------------------------------------------------------

def verified_groups(texts: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[int]:
    """A group number per text: texts joined (transitively) by exact character 3-gram Jaccard ≥ ``threshold``,
    with MinHash LSH (at a lower threshold) only proposing the candidate pairs. The partition does not depend on
    the order of ``texts``."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=CANDIDATE_JACCARD, num_perm=128)
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sh = [shingles(t) for t in texts]
    for i, s in enumerate(sh):
        m = empty_minhash()
        m.update_batch([x.encode("utf-8") for x in s])
        for key in lsh.query(m):
            k = int(key)
            if len(s & sh[k]) / max(1, len(s | sh[k])) >= threshold:
                a, b = find(i), find(k)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        lsh.insert(str(i), m)
    return [find(i) for i in range(len(texts))]


def _unit_hash(key: str) -> float:
    return int(hashlib.sha256(f"{PUBLIC_SPLIT_SEED}:{key}".encode()).hexdigest()[:12], 16) / float(16 ** 12)


def _cache_path(items: Sequence[LabelledText]) -> Path:
    digest = hashlib.sha256()
    digest.update(f"{PUBLIC_SPLIT_SEED}|{NEAR_DUPLICATE_JACCARD}|{CANDIDATE_JACCARD}|".encode())
    digest.update(json.dumps({k: [v.heldout, v.dev] for k, v in SOURCES.items()}, sort_keys=True).encode())
    for i in items:
        digest.update(f"{i.id}\x00{i.text}\x01".encode())
    cache = Path(os.environ.get("YUQING_CACHE_DIR") or PROJECT_ROOT / "var" / "cache")
    return cache / "public-split" / f"{digest.hexdigest()[:24]}.json"


def assign_splits(items: Sequence[LabelledText], *, use_cache: bool = True) -> dict[str, str]:
    """``{id: "train" | "dev" | "heldout"}``. A near-duplicate group goes where the hash of its smallest id
    falls, with the fractions of that id's source. Grouping 85,000 texts takes about half a minute, so the result
    is cached under ``$YUQING_CACHE_DIR/public-split/`` keyed by a hash of every id and text and of the split's
    definition (a cache only: deleting it changes nothing)."""
    path = _cache_path(items) if use_cache else None
    if path is not None and path.exists():
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if len(cached) == len(items):
                return cached
        except (OSError, ValueError):
            pass
    groups = verified_groups([i.text for i in items])
    rep: dict[int, LabelledText] = {}
    for item, g in zip(items, groups, strict=True):
        if g not in rep or item.id < rep[g].id:
            rep[g] = item
    where: dict[int, str] = {}
    for g, item in rep.items():
        s, h = spec(item.source), _unit_hash(item.id)
        where[g] = "heldout" if h < s.heldout else "dev" if h < s.heldout + s.dev else "train"
    out = {item.id: where[g] for item, g in zip(items, groups, strict=True)}
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(out), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass
    return out


def split_public(items: Sequence[LabelledText], *, use_cache: bool = True) -> dict[str, list[LabelledText]]:
    """``{"train", "dev", "heldout"}`` lists, each in the input order."""
    where = assign_splits(items, use_cache=use_cache)
    out: dict[str, list[LabelledText]] = {name: [] for name in PUBLIC_SPLITS}
    for item in items:
        out[where[item.id]].append(item)
    return out


def load_public_split(name: str, data_dir: Path | str | None = None) -> list[LabelledText]:
    if name not in PUBLIC_SPLITS:
        raise ValueError(f"unknown split {name!r} of the public data: use {', '.join(PUBLIC_SPLITS)}")
    return split_public(load_public(data_dir))[name]


def split_sizes(parts: dict[str, Sequence[LabelledText]]) -> dict[str, dict[str, dict[str, int]]]:
    """``{source: {split: {"n", "negative", "neutral", "positive"}}}``."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for name, items in parts.items():
        for source, counts in _by_source(items).items():
            out.setdefault(source, {})[name] = {"n": sum(counts.values()), **{lab: counts[lab] for lab in LABELS}}
    return dict(sorted(out.items()))


def _by_source(items: Iterable[LabelledText]) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for i in items:
        out.setdefault(i.source, Counter())[i.polarity] += 1
    return out


def subsample_per_source(items: Sequence[LabelledText], limit: int | None) -> list[LabelledText]:
    """At most ``limit`` items of each source, chosen by a hash of the id (deterministic; order kept)."""
    if not limit:
        return list(items)
    keep: set[str] = set()
    by_source: dict[str, list[LabelledText]] = {}
    for i in items:
        by_source.setdefault(i.source, []).append(i)
    for group in by_source.values():
        keep.update(i.id for i in sorted(group, key=lambda i: _unit_hash("sample:" + i.id))[:limit])
    return [i for i in items if i.id in keep]



def format_split_sizes(sizes: dict[str, dict[str, dict[str, int]]]) -> str:
    """The split sizes as a table: one row per source and split with its label counts, then the totals."""
    lines = ["source                    split       n    neg    neu    pos"]
    totals: dict[str, Counter] = {}
    for source, splits in sizes.items():
        for name in PUBLIC_SPLITS:
            c = splits.get(name, {"n": 0, **{lab: 0 for lab in LABELS}})
            totals.setdefault(name, Counter()).update(c)
            lines.append(f"{source:<24}  {name:<7} {c['n']:>6} {c['negative']:>6} {c['neutral']:>6} "
                         f"{c['positive']:>6}")
    for name in PUBLIC_SPLITS:
        c = totals.get(name, Counter())
        lines.append(f"{'total':<24}  {name:<7} {c['n']:>6} {c['negative']:>6} {c['neutral']:>6} {c['positive']:>6}")
    return "\n".join(lines)
