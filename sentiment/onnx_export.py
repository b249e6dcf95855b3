"""Export a sentiment model directory to one ONNX graph, so inference can run on ONNX Runtime instead of torch.

The graph holds the encoder, the polarity head and, when the directory has them, the aux heads (category and
about-bank over the [CLS] hidden state), exactly as ``sentiment.model.SentimentModel`` computes them: one forward
pass, three logit outputs. Batch and sequence axes are dynamic, so the runtime keeps the same length-sorted,
dynamically padded batching. Uses the TorchScript exporter (``dynamo=False``): it needs only ``onnx``, not
``onnxscript``, and handles the BERT graph in one trace. ``python -m sentiment.onnx_export MODEL_DIR [OUT]``.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from sentiment.model import SentimentModel
from sentiment.onnx_runtime import ONNX_FILE

OPSET = 17
OUTPUTS = ("polarity_logits", "category_logits", "about_logits")


class _ExportWrapper(nn.Module):
    """Encoder + heads returning raw logits (softmax and label order are applied by the runtime)."""

    def __init__(self, model: nn.Module, aux: nn.Module | None):
        super().__init__()
        self.model, self.aux = model, aux

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         output_hidden_states=self.aux is not None)
        if self.aux is None:
            return (out.logits,)
        category, about = self.aux(out.hidden_states[-1][:, 0])
        return out.logits, category, about


def export_onnx(model_dir: Path | str, out_path: Path | str | None = None) -> Path:
    """Write ``model_dir`` as ONNX to ``out_path`` (default ``model_dir/model.onnx``); returns the path."""
    loaded = SentimentModel(model_dir)
    out = Path(out_path) if out_path else loaded.model_dir / ONNX_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _ExportWrapper(loaded.model, loaded.aux).eval()
    # Two texts of different lengths: padding present, so the mask path is traced, not constant-folded away.
    enc = loaded.tokenizer(["示例银行网点排长队", "好"], padding=True, return_tensors="pt")
    ids = enc["input_ids"]
    args = (ids, enc["attention_mask"], enc.get("token_type_ids", torch.zeros_like(ids)))
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    outputs = list(OUTPUTS if loaded.aux is not None else OUTPUTS[:1])
    dynamic = {name: {0: "batch", 1: "sequence"} for name in inputs} | {name: {0: "batch"} for name in outputs}
    # The tracer warns about Python-level shape checks in transformers' masking code; they are constant for any
    # input (query and key lengths are equal in an encoder), which the ONNX equality test confirms.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Written beside the target and renamed into place: a process that starts while another exports never
        # reads half a graph, and two concurrent exports of the same weights leave one whole file.
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            torch.onnx.export(wrapper, args, str(tmp), input_names=inputs, output_names=outputs,
                              dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True, dynamo=False)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    return out


if __name__ == "__main__":  # pragma: no cover - manual tool
    if len(sys.argv) < 2:
        sys.exit("usage: python -m sentiment.onnx_export MODEL_DIR [OUT.onnx]")
    print(export_onnx(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
