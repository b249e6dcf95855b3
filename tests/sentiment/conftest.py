"""Shared sentiment fixtures: a tiny random model directory built exactly the way ``sentiment.train`` saves one.

Its predictions are random but its files, label map, tokenizer and aux heads are real, so every piece of code
that loads a model directory (inference, evaluation, the CLI, ONNX export) is exercised in well under a second.
"""

from __future__ import annotations

import json
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
