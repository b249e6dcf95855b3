"""The labelled corpus: it parses, it is big and balanced enough, and no near-duplicate crosses a split or joins
the held-out set to the training data (which would make the evaluation dishonest)."""

from __future__ import annotations

from collections import Counter

import pytest

from sentiment.corpus import (
    CorpusError,
    cross_duplicates,
    load_corpus,
    load_heldout,
    load_jsonl,
    load_second_heldout,
    split,
)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def parts(corpus):
    return split(corpus)


def test_corpus_size_and_balance(corpus):
    assert len(corpus) >= 6000
    polarity = Counter(i.polarity for i in corpus if i.about_bank)
    total = sum(polarity.values())
    for label in ("negative", "neutral", "positive"):
        assert 0.15 <= polarity[label] / total <= 0.5, polarity
    assert 0.05 <= sum(not i.about_bank for i in corpus) / len(corpus) <= 0.25
    assert len({i.source for i in corpus}) >= 7  # separate batches, separate voices
    assert len({i.text for i in corpus}) == len(corpus)  # no exact duplicates


def test_no_near_duplicates_across_splits(parts):
    assert min(len(v) for v in parts.values()) > 500
    assert cross_duplicates(parts["train"], parts["dev"]) == []
    assert cross_duplicates(parts["train"], parts["test"]) == []
    assert cross_duplicates(parts["dev"], parts["test"]) == []


def test_heldout_is_independent_of_the_training_corpus(corpus):
    heldout = load_heldout()
    assert len(heldout) >= 800
    assert cross_duplicates(corpus, heldout) == []
    assert not {i.id for i in heldout} & {i.id for i in corpus}


def test_second_heldout_is_independent_of_the_corpus_and_the_first(corpus):
    second = load_second_heldout()
    assert len(second) >= 800
    assert Counter(i.polarity for i in second).keys() == {"negative", "neutral", "positive"}
    assert cross_duplicates(corpus, second) == []
    assert cross_duplicates(load_heldout(), second) == []
    assert not {i.id for i in second} & ({i.id for i in corpus} | {i.id for i in load_heldout()})


def test_split_is_deterministic(corpus, parts):
    again = split(corpus)
    assert [i.id for i in again["test"]] == [i.id for i in parts["test"]]


def test_bad_lines_name_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "a", "text": "好", "polarity": "negative", "about_bank": true, "category": "other"}\n'
                 '{"id": "b", "text": "差", "polarity": "angry", "about_bank": true, "category": "other"}\n',
                 encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:2: polarity 'angry'"):
        load_jsonl(p)
