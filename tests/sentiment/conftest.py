"""Shared sentiment fixtures: a tiny random model directory built exactly the way ``sentiment.train`` saves one.

Its predictions are random but its files, label map, tokenizer and aux heads are real, so every piece of code
that loads a model directory (inference, evaluation, the CLI, ONNX export) is exercised in well under a second.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
from pathlib import Path

import pytest
import torch

from sentiment.classifier import LABELS
from sentiment.model import AUX_CONFIG, AUX_WEIGHTS, AuxHeads
from sentiment.ngram_train import save_ngram, train_ngram
from sentiment.vocab import build_vocab, write_vocab
from yuqing.categories import CATEGORIES

TINY_TEXTS = ["示例银行新华路网点拒绝取款，太过分了", "给光明路支行的大堂经理点赞", "请问信用卡年费怎么免？"]


def build_tiny_model(out_dir: Path, *, seed: int = 0, hidden: int = 16, max_length: int = 128) -> Path:
    """Save a 1-layer random BertForSequenceClassification + tokenizer + aux heads into ``out_dir``."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    torch.manual_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab_path = out_dir / "vocab.txt"
    write_vocab(build_vocab(TINY_TEXTS), vocab_path)
    tokenizer = BertTokenizerFast(vocab=str(vocab_path), do_lower_case=True, tokenize_chinese_chars=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=max_length + 2, num_labels=3,
        id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    model = BertForSequenceClassification(config).eval()
    aux = AuxHeads(hidden, len(CATEGORIES)).eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    torch.save(aux.state_dict(), out_dir / AUX_WEIGHTS)
    (out_dir / AUX_CONFIG).write_text(json.dumps({"categories": list(CATEGORIES)}, ensure_ascii=False),
                                      encoding="utf-8")
    ngram = train_ngram(["银行态度太差了", "请问怎么开户", "柜员很耐心点赞"], ["negative", "neutral", "positive"],
                        epochs=1, seed=seed)
    save_ngram(ngram, out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random model directory (read-only by convention: copy it before adding files)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "tiny-bert")


@pytest.fixture
def blended_model_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the tiny model plus a hand-set ``blend.json`` over every feature but snownlp's.

    Not fitted: the random tiny model's outputs barely vary, so a fitted blend would standardise by a tiny spread
    and turn 1e-6 numerical noise into visible differences; real models' features spread widely.
    """
    from sentiment.blend import FEATURES

    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "blended"))
    coef = [[1.0, -0.5, -0.5, 0.8, -0.4, -0.4, 0.6, 0.0],
            [-0.5, 1.0, -0.5, -0.4, 0.8, -0.4, -0.3, 0.0],
            [-0.5, -0.5, 1.0, -0.4, -0.4, 0.8, -0.3, 0.0]]
    weights = {"features": list(FEATURES), "used": list(FEATURES[:7]), "mean": [0.0] * 8, "std": [1.0] * 8,
               "coef": coef, "intercept": [0.0, 0.2, 0.0]}
    (model_dir / "blend.json").write_text(json.dumps(weights), encoding="utf-8")
    return model_dir


# --- a tiny synthetic public-data directory ----------------------------------------------------------------------
# Written by the tests in the public data's file format; every text is generated here from made-up phrases (no row
# of any real data set): three sources with the real label schemes — three classes (bdci2021), negative vs not
# negative in a gzip file (ccf2019) and a binary review source without neutral (waimai_10k) — plus a family of
# near-duplicates per source that the split must keep together.

_NEG = ["太差了", "再也不来了", "客服一直推诿", "等了两个小时", "乱扣费", "根本没人管", "完全是骗人的"]
_POS = ["非常满意", "服务很贴心", "速度很快", "下次还来", "值得推荐", "包装很好", "态度热情"]
_NEU = ["请问怎么办理", "营业时间是几点", "额度一般", "有人知道吗", "看了一下公告", "明天再去问问"]
_THINGS = ["信用卡", "分期", "网点", "外卖", "套餐", "酒店", "快递", "贷款", "理财", "积分"]


def _text(rng: random.Random, label: str, k: int) -> str:
    words = {"negative": _NEG, "positive": _POS, "neutral": _NEU}[label]
    return f"第{k}号样例{rng.choice(_THINGS)}{rng.choice(words)}，{rng.choice(words)}{rng.choice(_THINGS)}{k * 7919}"


def write_synthetic_public_dir(root: Path, *, per_source: int = 60, seed: int = 0) -> Path:
    """Write ``bdci2021.jsonl``, ``ccf2019.jsonl.gz`` and ``waimai_10k.jsonl`` under ``root``; return ``root``."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    schemes = {"bdci2021": ("negative", "neutral", "positive"), "ccf2019": ("negative", "neutral"),
               "waimai_10k": ("negative", "positive")}
    k = 0
    for source, labels in schemes.items():
        rows = []
        for n in range(per_source):
            label = labels[n % len(labels)]
            k += 1
            meta = {}
            if source == "ccf2019":
                meta = {"entity": ["示例银行" if n % 4 == 0 else "某某贷"], "key_entity": [], "negative_flag":
                        int(label == "negative"), "label_scope": "negative_vs_not_negative", "truncated": False}
            rows.append({"id": f"{source}-{n}", "text": _text(rng, label, k), "label": label, "source": source,
                         "meta": meta})
        # a family of near-duplicates (one long text with small edits): they must land in one split together
        base = "这家店的外卖送得特别慢而且饭菜都凉了，打电话给商家也不接，平台客服说会处理结果一直没有下文"
        for n in range(4):
            rows.append({"id": f"{source}-dup{n}", "text": base + "！" * (n + 1), "label": labels[0],
                         "source": source, "meta": {}})
        body = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
        if source == "ccf2019":
            with gzip.open(root / f"{source}.jsonl.gz", "wt", encoding="utf-8") as fh:
                fh.write(body)
        else:
            (root / f"{source}.jsonl").write_text(body, encoding="utf-8")
    return root


@pytest.fixture
def synthetic_public_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A synthetic public-data directory (and a split cache of its own under tmp_path)."""
    monkeypatch.setenv("YUQING_CACHE_DIR", str(tmp_path / "cache"))
    return write_synthetic_public_dir(tmp_path / "public")


@pytest.fixture(scope="session")
def public_data_dir() -> Path:
    """The real public data directory (``sentiment.public_data.resolve_data_dir``). Tests that measure it are
    skipped, with the reason, only when it is absent and YUQING_REQUIRE_PUBLIC_DATA is unset."""
    from sentiment.public_data import DATA_DIR_ENV, resolve_data_dir

    try:
        directory = resolve_data_dir()
    except FileNotFoundError as exc:
        reason = f"public sentiment data not available: {exc}"
        if os.environ.get("YUQING_REQUIRE_PUBLIC_DATA"):
            pytest.fail(f"{reason} (YUQING_REQUIRE_PUBLIC_DATA is set: these tests may not be skipped)")
        pytest.skip(f"{reason}; set {DATA_DIR_ENV} to measure it")
    assert directory is not None
    return directory


@pytest.fixture(scope="session")
def public_items(public_data_dir: Path) -> list:
    """Every row of the real public data, loaded once per session (read-only by convention)."""
    from sentiment.public_data import load_public

    return load_public(public_data_dir)


@pytest.fixture(scope="session")
def public_split(public_items: list) -> dict[str, list]:
    """The split of the real public data, computed once per session without reading any cache (grouping ~85,000
    texts takes most of a minute), then stored in this run's split cache exactly as ``assign_splits`` stores it,
    so code that reads the split through the cache (``load_public_split``) finds this very result instead of
    computing it a second time. Read-only by convention."""
    from sentiment.public_data import _cache_path, split_public

    parts = split_public(public_items, use_cache=False)
    path = _cache_path(public_items)
    path.parent.mkdir(parents=True, exist_ok=True)
    where = {item.id: name for name, group in parts.items() for item in group}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(where), encoding="utf-8")
    tmp.replace(path)
    return parts
