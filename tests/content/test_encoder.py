"""ContentEncoder: vectors, determinism, tiny corpora, and a pickle-free save/load round trip."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recsys.content.encoder import ContentEncoder, NoUsableTextError
from recsys.errors import BundleError, ConfigError, ContractError, NotFittedError

CORPUS = [
    "red running shoes for trail running",
    "blue running shoes light and fast",
    "trail shoes waterproof hiking",
    "fresh mango box from hainan",
    "sweet mango and lychee fruit box",
    "organic fruit box apples and mango",
    "baby stroller light foldable",
    "stroller for twins foldable frame",
]


def _fit(**kw: object) -> ContentEncoder:
    params = {"n_components": 4, "min_df": 1, "random_state": 0} | kw
    return ContentEncoder(**params).fit(CORPUS)


def test_vectors_are_float32_unit_rows() -> None:
    vectors = ContentEncoder(n_components=4, min_df=1).fit_transform(CORPUS)
    assert vectors.shape == (len(CORPUS), 4)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_same_topic_texts_are_closer() -> None:
    v = _fit().transform(["running shoes", "trail running shoes", "mango fruit box"])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_fit_transform_matches_transform() -> None:
    encoder = ContentEncoder(n_components=4, min_df=1)
    fitted = encoder.fit_transform(CORPUS)
    np.testing.assert_allclose(fitted, encoder.transform(CORPUS), atol=1e-6)


def test_same_seed_same_vectors() -> None:
    a = _fit(random_state=3).transform(CORPUS)
    b = _fit(random_state=3).transform(CORPUS)
    assert np.array_equal(a, b)


def test_save_load_round_trip_is_identical(tmp_path) -> None:
    encoder = _fit(ngram_range=(1, 2))
    encoder.save(tmp_path / "enc")
    loaded = ContentEncoder.load(tmp_path / "enc")
    new_texts = ["waterproof trail running shoes", "lychee box", "nothing known here zzz", ""]
    assert np.array_equal(encoder.transform(new_texts), loaded.transform(new_texts))
    assert loaded.get_params() == encoder.get_params()
    assert not list((tmp_path / "enc").glob("*.pkl"))


def test_unknown_text_maps_to_zero_vector() -> None:
    vectors = _fit().transform(["qqq www", ""])
    assert np.array_equal(vectors, np.zeros_like(vectors))


def test_tiny_corpus_clips_components_and_relaxes_min_df(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="recsys.content.encoder"):
        encoder = ContentEncoder(n_components=64, min_df=5).fit(["red shoes", "green apples"])
    assert encoder.n_components_ == 2
    assert encoder.transform(["red apples"]).shape == (1, 2)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "clipped" in messages and "min_df relaxed" in messages


@pytest.mark.parametrize("texts", [[], ["", "   "], [None]])
def test_empty_corpus_is_refused(texts) -> None:
    with pytest.raises(NoUsableTextError, match="blank"):
        ContentEncoder().fit(texts)


def test_text_that_does_not_tell_items_apart_is_no_usable_text() -> None:
    """Titles made from ids ("place 17", as Brightkite's) keep two terms, "place" (in every
    document) and "place place" (where the id is one digit): vectors of noise."""
    docs = [f"place {i} place" for i in range(200)]
    with pytest.raises(NoUsableTextError, match=r"5\.0% of 200 item documents.*50% must"):
        ContentEncoder(min_text_coverage=0.5).fit(docs)
    lenient = ContentEncoder(min_text_coverage=0.0).fit(docs)
    assert lenient.text_coverage_ == pytest.approx(0.05) and lenient.n_components_ == 2
    assert ContentEncoder(min_df=1).fit(CORPUS).text_coverage_ == 1.0


def test_corpus_where_every_document_is_the_same_is_refused() -> None:
    with pytest.raises(NoUsableTextError, match="0.0% of 3 item documents"):
        ContentEncoder(min_df=1, min_text_coverage=0.01).fit(["red shoes"] * 3)
    with pytest.raises(ConfigError, match="min_text_coverage"):
        ContentEncoder(min_text_coverage=1.5).fit(CORPUS)


def test_single_term_corpus_is_refused() -> None:
    with pytest.raises(NoUsableTextError, match="fewer than 2 distinct terms"):
        ContentEncoder(ngram_range=(1, 1), min_df=1).fit(["shoes", "shoes shoes"])


def test_chinese_needs_char_ngrams() -> None:
    """Unsegmented Chinese: words are whole sentences, character n-grams share pieces."""
    corpus = [
        "海南新鲜芒果一箱", "新鲜芒果香甜多汁", "儿童推车轻便折叠", "双胞胎推车可折叠", "芒果干零食"
    ]
    query = ["香甜芒果", "折叠推车"]
    char = ContentEncoder(analyzer="char_wb", ngram_range=(1, 2), n_components=3, min_df=1)
    cv = char.fit(corpus).transform(query)
    docs = char.transform(corpus)
    assert cv[0] @ docs[0] > cv[0] @ docs[2]
    assert cv[1] @ docs[3] > cv[1] @ docs[0]
    word = ContentEncoder(analyzer="word", ngram_range=(1, 1), n_components=3, min_df=1)
    wv = word.fit(corpus).transform(query)
    assert np.array_equal(wv, np.zeros_like(wv))  # no query "word" is in the vocabulary


def test_errors() -> None:
    with pytest.raises(NotFittedError):
        ContentEncoder().transform(["x"])
    with pytest.raises(ConfigError, match="analyzer"):
        ContentEncoder(analyzer="char").fit(CORPUS)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_components"):
        ContentEncoder(n_components=0).fit(CORPUS)
    with pytest.raises(ContractError, match="single string"):
        ContentEncoder().fit("one text")  # type: ignore[arg-type]


def test_load_rejects_bad_bundles(tmp_path) -> None:
    with pytest.raises(BundleError):
        ContentEncoder.load(tmp_path / "missing")
    _fit().save(tmp_path / "enc")
    np.save(tmp_path / "enc" / "idf.npy", np.ones(3))
    with pytest.raises(BundleError, match="inconsistent"):
        ContentEncoder.load(tmp_path / "enc")
