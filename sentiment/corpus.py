"""The labelled corpus: loading with line-level validation, near-duplicate grouping and reproducible splits.

Texts live in ``sentiment/data/corpus/*.jsonl`` (training batches, one platform voice each) and
``sentiment/data/heldout/*.jsonl`` (written independently; only ever used for evaluation). Splits are made over
*groups* of near-duplicates (character 3-gram MinHash, Jaccard ≥ 0.6), so no text in dev or test has a close
sibling in train; the split of a group depends only on its first id, so adding a batch never reshuffles others.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from datasketch import MinHash, MinHashLSH

from sentiment.classifier import LABELS
from sentiment.textnorm import normalise_text
from yuqing.categories import CATEGORIES

DATA_DIR = Path(__file__).resolve().parent / "data"
CORPUS_DIR = DATA_DIR / "corpus"
HELDOUT_DIR = DATA_DIR / "heldout"
# A second authored held-out set, written after the shipped build by two other writers (docs/model-card.md):
# evaluation only, like the first; never trained on or used to choose a model.
SECOND_HELDOUT_DIR = DATA_DIR / "heldout2"
FEEDBACK_FILE = "feedback.jsonl"
NEAR_DUPLICATE_JACCARD = 0.6
SPLIT_SEED = "yuqing-corpus-v1"


class CorpusError(ValueError):
    """A corpus line is malformed; the message names file and line."""


@dataclass(frozen=True)
class LabelledText:
    id: str
    text: str
    polarity: str
    about_bank: bool
    category: str
    platform: str
    source: str  # file stem (batch)
    # Public data (``sentiment.public_data``) has no risk category or about-bank label: training skips those heads.
    aux_labels: bool = True
    # The gold label only says negative vs not negative (``neutral`` then means "not negative", maybe positive).
    negative_only: bool = False


def load_jsonl(path: Path) -> list[LabelledText]:
    """Load one batch; any bad line raises CorpusError naming the file, the line and the problem."""
    items = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: invalid JSON ({exc.msg})") from None
            missing = {"id", "text", "polarity", "about_bank", "category"} - set(obj)
            if missing:
                raise CorpusError(f"{where}: missing {sorted(missing)}")
            if obj["polarity"] not in LABELS:
                raise CorpusError(f"{where}: polarity {obj['polarity']!r} not in {LABELS}")
            if obj["category"] not in CATEGORIES:
                raise CorpusError(f"{where}: unknown category {obj['category']!r}")
            if not isinstance(obj["about_bank"], bool):
                raise CorpusError(f"{where}: about_bank must be true or false")
            if not isinstance(obj["text"], str) or not obj["text"].strip():
                raise CorpusError(f"{where}: empty text")
            items.append(LabelledText(str(obj["id"]), obj["text"], obj["polarity"], obj["about_bank"],
                                      obj["category"], str(obj.get("platform", "")), path.stem))
    return items


def load_dir(directory: Path) -> list[LabelledText]:
    items: list[LabelledText] = []
    for path in sorted(directory.glob("*.jsonl")):
        items.extend(load_jsonl(path))
    ids = [i.id for i in items]
    if len(ids) != len(set(ids)):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise CorpusError(f"{directory}: duplicate ids {dup}")
    return items


def load_corpus() -> list[LabelledText]:
    return load_dir(CORPUS_DIR)


def load_heldout() -> list[LabelledText]:
    return load_dir(HELDOUT_DIR)


def load_second_heldout() -> list[LabelledText]:
    return load_dir(SECOND_HELDOUT_DIR)


def shingles(text: str, n: int = 3) -> set[str]:
    t = normalise_text(text).lower()
    return {t[i:i + n] for i in range(max(1, len(t) - n + 1))}


@functools.cache
def _minhash_template() -> MinHash:
    """One MinHash whose permutations every text reuses: drawing 128 permutations from the seed is most of the
    cost of a new MinHash (4–5x), and sharing them gives exactly the same hash values."""
    return MinHash(num_perm=128, seed=7)


def empty_minhash() -> MinHash:
    """A new, empty MinHash (128 permutations, seed 7) sharing the template's permutations."""
    template = _minhash_template()
    return MinHash(num_perm=128, seed=7, permutations=template.permutations, scheme=template.scheme)


def _minhash(text: str) -> MinHash:
    m = empty_minhash()
    m.update_batch([s.encode("utf-8") for s in shingles(text)])  # the same hash values as update() one by one
    return m


def near_duplicate_groups(items: Sequence[LabelledText]) -> list[int]:
    """A group number per item: items joined (transitively) by estimated Jaccard ≥ NEAR_DUPLICATE_JACCARD."""
    lsh = MinHashLSH(threshold=NEAR_DUPLICATE_JACCARD, num_perm=128)
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, item in enumerate(items):
        m = _minhash(item.text)
        for key in lsh.query(m):
            a, b = find(i), find(int(key))
            if a != b:
                parent[max(a, b)] = min(a, b)
        lsh.insert(str(i), m)
    return [find(i) for i in range(len(items))]


def split(items: Sequence[LabelledText], *, dev: float = 0.1, test: float = 0.1) -> dict[str, list[LabelledText]]:
    """Deterministic train/dev/test split over near-duplicate groups."""
    groups = near_duplicate_groups(items)
    first_id: dict[int, str] = {}
    for item, g in zip(items, groups, strict=True):
        first_id.setdefault(g, item.id)
    out: dict[str, list[LabelledText]] = {"train": [], "dev": [], "test": []}
    for item, g in zip(items, groups, strict=True):
        h = int(hashlib.sha256(f"{SPLIT_SEED}:{first_id[g]}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        name = "test" if h < test else "dev" if h < test + dev else "train"
        out[name].append(item)
    return out


def cross_duplicates(a: Iterable[LabelledText], b: Iterable[LabelledText],
                     threshold: float = NEAR_DUPLICATE_JACCARD) -> list[tuple[str, str, float]]:
    """Pairs (id in a, id in b, exact 3-gram Jaccard) of near-duplicates between two collections."""
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    a = list(a)
    sh_a = {}
    for item in a:
        lsh.insert(item.id, _minhash(item.text))
        sh_a[item.id] = shingles(item.text)
    pairs = []
    for item in b:
        sb = shingles(item.text)
        for key in lsh.query(_minhash(item.text)):
            sa = sh_a[key]
            jac = len(sa & sb) / max(1, len(sa | sb))
            if jac >= threshold:
                pairs.append((key, item.id, round(jac, 3)))
    return pairs
