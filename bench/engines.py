"""The classifiers under test behind one tiny interface, loaded lazily so a memory probe can count the cost of
importing each engine's libraries separately from loading its model.

Engines: ``snownlp`` (the baseline; one text at a time, it has no batching), ``rules`` (``rules-v0``),
``transformer`` (``SentimentModel`` on torch) and ``onnx`` (``OnnxSentimentModel.encode_numpy`` on ONNX Runtime,
in a process without torch); and what the pipeline actually runs, the calibrated blend of transformer, n-gram
model and rules (``BlendedClassifier.predict``): ``blend`` on torch with the deployed default of one thread, and
``blend-onnx`` on ONNX Runtime, again without torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

BATCHED = ("transformer", "onnx", "blend", "blend-onnx")
ENGINES = ("snownlp", "rules", "transformer", "onnx", "blend", "blend-onnx")
DEPLOYED_TORCH_THREADS = 1  # SentimentModel's default in the pipeline (see sentiment.model)
THREADS = 2
_LIBRARIES = {
    "snownlp": ("snownlp",),
    "rules": ("sentiment.rules",),
    "transformer": ("torch", "transformers", "sentiment.model"),
    "onnx": ("numpy", "onnxruntime", "tokenizers", "sentiment.onnx_runtime"),
    "blend": ("torch", "transformers", "sentiment.model", "sentiment.blend"),
    "blend-onnx": ("numpy", "onnxruntime", "tokenizers", "sentiment.onnx_runtime", "sentiment.blend"),
}


@dataclass
class Engine:
    name: str
    encode: Callable[[Sequence[str]], object]
    model: object | None = None  # the batched model, whose batch_size the benchmark sets

    def set_batch_size(self, batch_size: int) -> None:
        if self.model is not None:
            self.model.batch_size = batch_size


def import_libraries(name: str) -> None:
    """Import what the engine needs, without loading any model."""
    for module in _LIBRARIES[name]:
        importlib.import_module(module)


def load(name: str, *, model_dir: Path, onnx_path: Path | None = None) -> Engine:
    """Load an engine ready to run (models loaded; snownlp's classifier is loaded on its first use)."""
    if name == "snownlp":
        from snownlp import SnowNLP

        def snow(texts: Sequence[str]) -> list[float]:
            return [SnowNLP(t).sentiments if t.strip() else 0.5 for t in texts]

        snow(["加载"])  # snownlp reads its sentiment model lazily
        return Engine(name, snow)
    if name == "rules":
        from sentiment.rules import RuleBasedClassifier

        return Engine(name, RuleBasedClassifier().predict)
    if name == "transformer":
        import torch

        from sentiment.model import SentimentModel

        torch.set_num_threads(THREADS)
        model = SentimentModel(model_dir, threads=THREADS)
        return Engine(name, model.encode, model)
    if name == "onnx":
        from sentiment.onnx_runtime import OnnxSentimentModel

        model = OnnxSentimentModel(model_dir, onnx_path, threads=THREADS)
        return Engine(name, model.encode_numpy, model)  # torch-free: see sentiment.onnx_runtime
    if name == "blend":
        from sentiment.blend import BlendedClassifier
        from sentiment.model import SentimentModel

        model = SentimentModel(model_dir, threads=DEPLOYED_TORCH_THREADS)
        return Engine(name, BlendedClassifier(model).predict, model)
    if name == "blend-onnx":
        from sentiment.blend import BlendedClassifier
        from sentiment.onnx_runtime import OnnxSentimentModel

        model = OnnxSentimentModel(model_dir, onnx_path, threads=THREADS)
        return Engine(name, BlendedClassifier(model).predict, model)
    raise ValueError(f"unknown engine {name!r}; choose from {ENGINES}")
