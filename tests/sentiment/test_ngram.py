"""The n-gram member of the blend: torch training, NumPy inference from the saved arrays, same numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sentiment.classifier import LABELS
from sentiment.ngram import BUCKETS, NGRAM_WEIGHTS, NgramScorer, load_ngram, ngrams, tfidf
from sentiment.ngram_train import save_ngram, train_ngram

TEXTS = ["网点拒绝取款太过分了", "客服态度差投诉无门", "请问信用卡怎么激活", "几点开门营业",
         "大堂经理很耐心点赞", "柜员服务好效率高"]
GOLD = ["negative", "negative", "neutral", "neutral", "positive", "positive"]
PROBES = [*TEXTS, "", "😀", "示例銀行ＡＰＰ又崩了！！！", "新华路网点排队两小时" * 50]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    model = train_ngram(TEXTS, GOLD, epochs=30, seed=1)
    out = tmp_path_factory.mktemp("ngram")
    save_ngram(model, out)
    return model, out


def test_learns_its_training_texts(trained) -> None:
    _, out = trained
    scorer = load_ngram(out)
    assert scorer is not None
    predicted = [LABELS[int(i)] for i in scorer.probabilities(TEXTS).argmax(1)]
    assert predicted == GOLD


def test_numpy_inference_equals_the_torch_model(trained) -> None:
    model, out = trained
    scorer = load_ngram(out)
    with torch.inference_mode():
        feats = [tfidf(ngrams(t), model.idf) for t in PROBES]
        expected = model(feats).softmax(-1).numpy()
    got = scorer.probabilities(PROBES)
    assert got.shape == (len(PROBES), 3)
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, expected, atol=2e-3)  # weights are stored as float16


def test_saved_file_is_sparse_and_small(trained) -> None:
    _, out = trained
    assert (out / NGRAM_WEIGHTS).stat().st_size < 200_000  # a dense table would be 3 MB


def test_missing_file_means_no_ngram_model(tmp_path: Path) -> None:
    assert load_ngram(tmp_path) is None


def test_wrong_shapes_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="expected"):
        NgramScorer(np.zeros((10, 3)), np.zeros(3), np.zeros(BUCKETS))


def test_empty_input() -> None:
    scorer = NgramScorer(np.zeros((BUCKETS, 3)), np.zeros(3), np.ones(BUCKETS))
    assert scorer.probabilities([]).shape == (0, 3)
    np.testing.assert_allclose(scorer.probabilities([""]), [[1 / 3, 1 / 3, 1 / 3]], atol=1e-6)


def test_several_seeds_average_the_weights_of_the_single_seed_models() -> None:
    texts, gold = TEXTS * 30, GOLD * 30  # three batches of 64, so the data order matters
    one = train_ngram(texts, gold, epochs=3, seed=5)
    two = train_ngram(texts, gold, epochs=3, seed=6)
    both = train_ngram(texts, gold, epochs=3, seed=5, seeds=2)
    w = [m.weight.weight.detach().numpy() for m in (one, two, both)]
    assert not np.allclose(w[0], w[1])  # another data order gives other weights …
    np.testing.assert_allclose(w[2], (w[0] + w[1]) / 2, atol=1e-7)  # … and the average is their ensemble
    np.testing.assert_allclose(both.bias.detach().numpy(),
                               (one.bias.detach().numpy() + two.bias.detach().numpy()) / 2, atol=1e-7)
    assert np.array_equal(both.idf, one.idf)
    with pytest.raises(ValueError, match="at least 1"):
        train_ngram(TEXTS, GOLD, seeds=0)
