"""The transformers sentiment model: a BERT-family sequence classifier for polarity, plus optional heads for the
risk category and "about a bank", all from one forward pass.

A model directory is a standard ``AutoModelForSequenceClassification`` directory (config, weights, tokenizer),
so a bank can point ``YUQING_MODEL_DIR`` at its own fine-tuned Chinese RoBERTa. Our own model adds
``aux_heads.pt`` (category and about-bank linear heads over the pooled output) and ``aux_heads.json``; a model
without them gets its category from the rule-based cues instead. Loaded only from local paths, offline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from sentiment.classifier import Prediction
from sentiment.model_dir import DEFAULT_MODEL_DIR
from sentiment.textnorm import normalise_text

AUX_WEIGHTS = "aux_heads.pt"
AUX_CONFIG = "aux_heads.json"


class AuxHeads(nn.Module):
    """Category and about-bank classifiers over the encoder's [CLS] representation."""

    def __init__(self, hidden: int, n_categories: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.category = nn.Linear(hidden, n_categories)
        self.about = nn.Linear(hidden, 2)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.dropout(pooled)
        return self.category(x), self.about(x)


@dataclass
class RawOutput:
    polarity: torch.Tensor  # [n, 3] probabilities in LABELS order
    category: torch.Tensor | None  # [n, n_categories] probabilities
    about: torch.Tensor | None  # [n] probability the text is about a bank


class SentimentModel:
    """Batched inference: normalise, sort by length, pad per batch, ``torch.inference_mode``."""

    def __init__(self, model_dir: Path | str | None = None, *, batch_size: int = 64, max_length: int = 128,
                 threads: int | None = 1):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.model_dir = Path(model_dir or os.environ.get("YUQING_MODEL_DIR") or DEFAULT_MODEL_DIR)
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(f"no model at {self.model_dir} (config.json missing); run `yuqing train`")
        if threads:
            # Measured (make bench): this small model is faster on one thread than on two on a 2-core machine
            # that also crawls and serves; set YUQING_TORCH_THREADS to override.
            torch.set_num_threads(int(os.environ.get("YUQING_TORCH_THREADS", threads)))
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.model_dir, local_files_only=True)
        self.model.eval()
        id2label = {int(k): v.lower() for k, v in self.model.config.id2label.items()}
        self.label_index = {name: i for i, name in id2label.items()}
        if set(self.label_index) != {"negative", "neutral", "positive"}:
            raise ValueError(f"{self.model_dir}: id2label must name negative, neutral and positive, got {id2label}")
        self.batch_size, self.max_length = batch_size, max_length
        self.categories: list[str] = []
        self.aux: AuxHeads | None = None
        aux_cfg = self.model_dir / AUX_CONFIG
        if aux_cfg.exists():
            spec = json.loads(aux_cfg.read_text(encoding="utf-8"))
            self.categories = list(spec["categories"])
            self.aux = AuxHeads(self.model.config.hidden_size, len(self.categories))
            state = torch.load(self.model_dir / AUX_WEIGHTS, map_location="cpu", weights_only=True)
            self.aux.load_state_dict(state)
            self.aux.eval()
        self.name = self.model_dir.name

    def encode(self, texts: Sequence[str]) -> RawOutput:
        """Probabilities for every text, in input order."""
        norm = [normalise_text(t) or "[UNK]" for t in texts]
        order = sorted(range(len(norm)), key=lambda i: len(norm[i]))
        pol = torch.zeros(len(norm), 3)
        cat = torch.zeros(len(norm), len(self.categories)) if self.aux else None
        about = torch.zeros(len(norm)) if self.aux else None
        perm = [self.label_index[n] for n in ("negative", "neutral", "positive")]
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                enc = self.tokenizer([norm[i] for i in idx], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
                out = self.model(**enc, output_hidden_states=self.aux is not None)
                pol[idx] = out.logits.softmax(-1)[:, perm]
                if self.aux is not None:
                    pooled = out.hidden_states[-1][:, 0]
                    c, a = self.aux(pooled)
                    cat[idx] = c.softmax(-1)
                    about[idx] = a.softmax(-1)[:, 1]
        return RawOutput(pol, cat, about)


class TransformerClassifier:
    """The pipeline's Classifier backed by ``SentimentModel`` (category from rules when the model has no head)."""

    def __init__(self, model: SentimentModel):
        from sentiment.rules import RuleBasedClassifier

        self.model = model
        self.name = f"transformer:{model.name}"
        self._rules = RuleBasedClassifier()

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        raw = self.model.encode(texts)
        rule_preds = self._rules.predict(texts) if raw.category is None else None
        out = []
        for i in range(len(texts)):
            probs = raw.polarity[i].tolist()
            label = ("negative", "neutral", "positive")[max(range(3), key=lambda k: probs[k])]
            if raw.category is not None:
                category = self.model.categories[int(raw.category[i].argmax())]
            else:
                category = rule_preds[i].category
            out.append(Prediction(label, round(probs[0], 4), category, ()))
        return out
