"""The ONNX Runtime backend gives the torch model's numbers: export, tokenisation, batching, staleness, no torch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import onnx
import pytest
import torch

from sentiment.model import SentimentModel, TransformerClassifier
from sentiment.onnx_export import export_onnx
from sentiment.onnx_runtime import OnnxSentimentModel, _tokenizer, is_stale

# Real-web shapes: empty, blank, emoji only, traditional + full-width, zero-width junk, mixed scripts, a text far
# beyond max_length (truncation), characters outside the vocabulary, and ordinary posts of different lengths.
TEXTS = [
    "示例银行新华路网点拒绝取款，太过分了",
    "",
    "   \n\t ",
    "……！！？？",
    "示例銀行ＡＰＰ又崩了！！！",
    "光明路\u200b支行\u200d大堂经理点赞",
    "JiangCheng branch 取不出钱 ??? 排长队",
    "请问信用卡年费怎么免？" * 60,
    "龘靐齉爩",
    "好",
    "给光明路支行的大堂经理点赞，服务很耐心，帮我挽回了损失",
]


@pytest.fixture(scope="module")
def onnx_file(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tiny_model_dir, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_onnx_outputs_equal_torch(tiny_model_dir: Path, onnx_file: Path, batch_size: int) -> None:
    torch_out = SentimentModel(tiny_model_dir, batch_size=batch_size).encode(TEXTS)
    onnx_out = OnnxSentimentModel(tiny_model_dir, onnx_file, batch_size=batch_size).encode(TEXTS)

    assert onnx_out.polarity.shape == (len(TEXTS), 3)
    assert torch.allclose(onnx_out.polarity, torch_out.polarity, rtol=0, atol=1e-5)
    assert onnx_out.category is not None and torch_out.category is not None
    assert onnx_out.category.shape == torch_out.category.shape
    assert torch.allclose(onnx_out.category, torch_out.category, rtol=0, atol=1e-5)
    assert torch.allclose(onnx_out.about, torch_out.about, rtol=0, atol=1e-5)
    # Probabilities, not logits: rows sum to one.
    assert torch.allclose(onnx_out.polarity.sum(-1), torch.ones(len(TEXTS)), atol=1e-5)


def test_encode_numpy_is_encode(tiny_model_dir: Path, onnx_file: Path) -> None:
    model = OnnxSentimentModel(tiny_model_dir, onnx_file)
    arrays, tensors = model.encode_numpy(TEXTS), model.encode(TEXTS)
    assert (arrays.polarity == tensors.polarity.numpy()).all()
    assert (arrays.category == tensors.category.numpy()).all()
    assert (arrays.about == tensors.about.numpy()).all()


def test_classifier_predictions_match(tiny_model_dir: Path, onnx_file: Path) -> None:
    via_torch = TransformerClassifier(SentimentModel(tiny_model_dir)).predict(TEXTS)
    via_onnx = TransformerClassifier(OnnxSentimentModel(tiny_model_dir, onnx_file)).predict(TEXTS)
    assert [(p.label, p.category) for p in via_onnx] == [(p.label, p.category) for p in via_torch]
    assert [p.negative_prob for p in via_onnx] == pytest.approx([p.negative_prob for p in via_torch], abs=1e-4)


def test_tokenizer_matches_transformers(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    texts = [t or "[UNK]" for t in TEXTS]
    ours = _tokenizer(tiny_model_dir, 128)(texts)
    theirs = reference(texts, padding=True, truncation=True, max_length=128, return_tensors="np")
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        assert (ours[key] == theirs[key]).all(), key
    assert ours["input_ids"].shape[1] == 128  # the long text is truncated, special tokens included


def test_graph_has_dynamic_axes_and_all_heads(onnx_file: Path) -> None:
    graph = onnx.load(str(onnx_file)).graph
    assert [o.name for o in graph.output] == ["polarity_logits", "category_logits", "about_logits"]
    for inp in graph.input:
        dims = [d.dim_param for d in inp.type.tensor_type.shape.dim]
        assert dims == ["batch", "sequence"], inp.name


def test_exports_when_missing_and_when_weights_are_newer(tiny_model_dir: Path, tmp_path: Path) -> None:
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    onnx_path = tmp_path / "out" / "m.onnx"
    assert is_stale(onnx_path, model_dir)
    OnnxSentimentModel(model_dir, onnx_path)
    assert onnx_path.exists() and not is_stale(onnx_path, model_dir)
    earlier = (model_dir / "model.safetensors").stat().st_mtime - 100
    os.utime(onnx_path, (earlier, earlier))  # as if the weights were retrained after the export
    assert is_stale(onnx_path, model_dir)
    OnnxSentimentModel(model_dir, onnx_path)
    assert not is_stale(onnx_path, model_dir)


def test_default_path_is_in_the_model_dir(tiny_model_dir: Path, tmp_path: Path) -> None:
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    model = OnnxSentimentModel(model_dir)
    assert model.onnx_path == model_dir / "model.onnx" and model.onnx_path.exists()


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config\.json missing"):
        OnnxSentimentModel(tmp_path / "nowhere")


def test_graph_without_aux_heads_is_rejected(tiny_model_dir: Path, tmp_path: Path) -> None:
    bare = Path(shutil.copytree(tiny_model_dir, tmp_path / "bare"))
    for name in ("aux_heads.pt", "aux_heads.json"):
        (bare / name).unlink()
    export_onnx(bare, tmp_path / "bare.onnx")
    without = OnnxSentimentModel(bare, tmp_path / "bare.onnx").encode(TEXTS[:2])
    assert without.category is None and without.about is None
    with pytest.raises(ValueError, match="aux heads"):
        OnnxSentimentModel(tiny_model_dir, tmp_path / "bare.onnx")


def test_numpy_path_never_imports_torch(tiny_model_dir: Path, onnx_file: Path) -> None:
    """The reason for the backend's small footprint: inference without torch in the process."""
    script = textwrap.dedent(f"""
        import sys
        from sentiment.onnx_runtime import OnnxSentimentModel
        out = OnnxSentimentModel({str(tiny_model_dir)!r}, {str(onnx_file)!r}).encode_numpy(["示例银行", ""])
        assert out.polarity.shape == (2, 3)
        print("torch" in sys.modules, "transformers" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.split() == ["False", "False"]


def test_blend_on_onnx_equals_blend_on_torch(blended_model_dir: Path, tmp_path: Path) -> None:
    from sentiment.blend import BlendedClassifier

    model_dir = blended_model_dir
    via_torch = BlendedClassifier(SentimentModel(model_dir)).predict(TEXTS)
    via_onnx = BlendedClassifier(OnnxSentimentModel(model_dir, tmp_path / "b.onnx")).predict(TEXTS)
    assert [(p.label, p.category, p.cues) for p in via_onnx] == [(p.label, p.category, p.cues) for p in via_torch]
    assert [p.negative_prob for p in via_onnx] == pytest.approx([p.negative_prob for p in via_torch], abs=1e-4)
    # Texts with nothing to read (empty, blank, punctuation only) are neutral by definition on both backends.
    assert via_onnx[1].label == via_onnx[2].label == via_onnx[3].label == "neutral"
    assert via_onnx[1].negative_prob == via_onnx[3].negative_prob == 0.0


def test_deployed_blend_on_onnx_never_imports_torch(blended_model_dir: Path, tmp_path: Path) -> None:
    """YUQING_SENTIMENT_BACKEND=onnx gives the pipeline's whole classifier (blend) without torch in the process."""
    model_dir = blended_model_dir
    data_dir = tmp_path / "var"
    env = dict(os.environ, YUQING_SENTIMENT_BACKEND="onnx", YUQING_DATA_DIR=str(data_dir),
               YUQING_CACHE_DIR=str(tmp_path / "cache"))
    first = textwrap.dedent(f"""
        from sentiment.batch import choose_classifier
        print(choose_classifier({str(model_dir)!r}).name)
    """)  # the first use exports the graph (this needs torch, once)
    proc = subprocess.run([sys.executable, "-c", first], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "blend:blended"
    second = textwrap.dedent(f"""
        import sys
        from sentiment.batch import choose_classifier
        clf = choose_classifier({str(model_dir)!r})
        preds = clf.predict(["示例银行新华路网点拒绝取款，太过分了", "😡", "……"])
        assert "😡" in preds[1].cues and preds[1].negative_prob > 0, preds  # an emoji alone is read
        assert preds[2].label == "neutral" and preds[2].negative_prob == 0.0, preds  # punctuation alone is not
        print(clf.name, "torch" in sys.modules, "transformers" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", second], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["blend:blended", "False", "False"]
