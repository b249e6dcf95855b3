"""Sentiment inference on ONNX Runtime: the same contract as ``sentiment.model.SentimentModel``, another engine.

``OnnxSentimentModel.encode(texts) -> RawOutput`` uses the model directory's own tokenizer, the same text
normalisation and the same length-sorted, dynamically padded batching, so its probabilities match the torch
model's (the equality is tested to 1e-5). The graph comes from ``sentiment.onnx_export``; when the ONNX file is
missing or older than the weights it is exported first (that one step needs torch).

Why it exists: importing torch and transformers' BERT code costs a process about 350 MB of RSS before any weights
load, while ONNX Runtime, ``tokenizers`` and NumPy cost about 60 MB. ``encode_numpy`` gives the same numbers
without ever importing torch (``TransformerClassifier`` only calls ``.tolist()``/``.argmax()`` on them, which
NumPy arrays have); ``encode`` wraps them as torch tensors for callers that want the exact ``RawOutput``.
Which backend is faster on a machine is measured by ``make bench`` (docs/benchmarks.md), not assumed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentiment.arrays import softmax
from sentiment.model_dir import DEFAULT_MODEL_DIR
from sentiment.textnorm import normalise_text

if TYPE_CHECKING:
    from sentiment.model import RawOutput

ONNX_FILE = "model.onnx"  # also sentiment.onnx_export.ONNX_FILE; repeated so this module never imports torch
AUX_CONFIG = "aux_heads.json"  # as sentiment.model.AUX_CONFIG
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "aux_heads.pt")
POLARITY_ORDER = ("negative", "neutral", "positive")


@dataclass
class NumpyOutput:
    polarity: np.ndarray  # [n, 3] probabilities in POLARITY_ORDER
    category: np.ndarray | None  # [n, n_categories] probabilities
    about: np.ndarray | None  # [n] probability the text is about a bank


class OnnxSentimentModel:
    """Batched ONNX Runtime inference with ``SentimentModel``'s inputs, outputs and batching."""

    def __init__(self, model_dir: Path | str | None = None, onnx_path: Path | str | None = None, *,
                 batch_size: int = 64, max_length: int = 128, threads: int = 2):
        import onnxruntime as ort

        self.model_dir = Path(model_dir or os.environ.get("YUQING_MODEL_DIR") or DEFAULT_MODEL_DIR)
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(f"no model at {self.model_dir} (config.json missing); run `yuqing train`")
        self.onnx_path = Path(onnx_path) if onnx_path else self.model_dir / ONNX_FILE
        if is_stale(self.onnx_path, self.model_dir):
            from sentiment.onnx_export import export_onnx

            export_onnx(self.model_dir, self.onnx_path)
        self.batch_size, self.max_length = batch_size, max_length
        self._tokenize = _tokenizer(self.model_dir, max_length)
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        id2label = {int(k): str(v).lower() for k, v in config.get("id2label", {}).items()}
        self.label_index = {name: i for i, name in id2label.items()}
        if set(self.label_index) != set(POLARITY_ORDER):
            raise ValueError(f"{self.model_dir}: id2label must name negative, neutral and positive, got {id2label}")
        aux_cfg = self.model_dir / AUX_CONFIG
        self.categories: list[str] = (
            list(json.loads(aux_cfg.read_text(encoding="utf-8"))["categories"]) if aux_cfg.exists() else [])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self.session.get_inputs()]
        self._has_aux = len(self.session.get_outputs()) == 3
        if self._has_aux != bool(self.categories):
            raise ValueError(f"{self.onnx_path} does not match {self.model_dir} (aux heads); delete it to re-export")
        self.name = self.model_dir.name

    def encode(self, texts: Sequence[str]) -> RawOutput:
        """Probabilities for every text, in input order, as torch tensors (``SentimentModel.encode``'s contract)."""
        import torch

        from sentiment.model import RawOutput

        out = self.encode_numpy(texts)
        return RawOutput(torch.from_numpy(out.polarity),
                         None if out.category is None else torch.from_numpy(out.category),
                         None if out.about is None else torch.from_numpy(out.about))

    def encode_numpy(self, texts: Sequence[str]) -> NumpyOutput:
        """Probabilities for every text, in input order, as float32 NumPy arrays; never imports torch."""
        norm = [normalise_text(t) or "[UNK]" for t in texts]
        order = sorted(range(len(norm)), key=lambda i: len(norm[i]))
        pol = np.zeros((len(norm), 3), dtype=np.float32)
        cat = np.zeros((len(norm), len(self.categories)), dtype=np.float32) if self._has_aux else None
        about = np.zeros(len(norm), dtype=np.float32) if self._has_aux else None
        perm = [self.label_index[n] for n in POLARITY_ORDER]
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            feed = self._tokenize([norm[i] for i in idx])
            outs = self.session.run(None, {k: feed[k] for k in self._inputs})
            pol[idx] = softmax(outs[0])[:, perm]
            if self._has_aux:
                cat[idx] = softmax(outs[1])
                about[idx] = softmax(outs[2])[:, 1]
        return NumpyOutput(pol, cat, about)


def is_stale(onnx_path: Path, model_dir: Path) -> bool:
    """True when the ONNX file is missing or older than any weights file in the model directory."""
    if not onnx_path.exists():
        return True
    built = onnx_path.stat().st_mtime
    return any((model_dir / f).exists() and (model_dir / f).stat().st_mtime > built for f in WEIGHT_FILES)


def _tokenizer(model_dir: Path, max_length: int):
    """A function texts -> int64 feed dict: the fast tokenizer's ``tokenizer.json`` through ``tokenizers`` alone
    (no transformers import), or transformers' AutoTokenizer for directories that have only a slow tokenizer."""
    tokenizer_json = model_dir / "tokenizer.json"
    if tokenizer_json.exists():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(tokenizer_json))
        spec_path = model_dir / "tokenizer_config.json"
        spec = json.loads(spec_path.read_text(encoding="utf-8")) if spec_path.exists() else {}
        pad_token = spec.get("pad_token") or "[PAD]"
        pad_token = pad_token["content"] if isinstance(pad_token, dict) else pad_token
        pad_id = tok.token_to_id(pad_token)
        if pad_id is None:
            raise ValueError(f"{tokenizer_json}: pad token {pad_token!r} is not in the vocabulary")
        tok.enable_truncation(max_length=max_length)
        tok.enable_padding(pad_id=pad_id, pad_token=pad_token)

        def encode_fast(batch: list[str]) -> dict[str, np.ndarray]:
            encs = tok.encode_batch(batch)
            return {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64)}

        return encode_fast

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    slow = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)

    def encode_slow(batch: list[str]) -> dict[str, np.ndarray]:
        enc = slow(batch, padding=True, truncation=True, max_length=max_length, return_tensors="np")
        ids = enc["input_ids"].astype(np.int64)
        return {"input_ids": ids, "attention_mask": enc["attention_mask"].astype(np.int64),
                "token_type_ids": enc.get("token_type_ids", np.zeros_like(ids)).astype(np.int64)}

    return encode_slow
