"""Where the shipped model lives, in a module without heavy imports: the ONNX Runtime path and the CLI resolve
the model directory without loading torch."""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "weights" / "yuqing-sentiment-zh"
