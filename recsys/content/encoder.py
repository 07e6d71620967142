"""Text -> dense content vectors: TF-IDF followed by a truncated SVD (latent semantic analysis).

The TF-IDF weighting is computed here rather than by scikit-learn's `TfidfVectorizer`, so that
a saved encoder is nothing but a vocabulary (JSON) and two arrays (`.npy`): reloading rebuilds
a `CountVectorizer` on the fixed vocabulary (public API, no fit needed) and applies the very
same weighting code, which makes the round trip bit-identical without pickling anything.

Chinese text: the default ``analyzer="word"`` splits on the regex ``\\b\\w\\w+\\b``, which treats
a whole run of Han characters without spaces as one "word", so two posts about the same item
almost never share a token. ``analyzer="char_wb"`` with ``ngram_range=(1, 2)`` or ``(2, 3)``
uses character n-grams instead, a segmenter-free stand-in for Chinese words that also copes
with brand names mixed into the text; prefer it whenever titles or posts are mostly Chinese.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer

from recsys.errors import BundleError, ConfigError, ContractError, NotFittedError

logger = logging.getLogger(__name__)

Analyzer = Literal["word", "char_wb"]
_FORMAT = "content-encoder/1"


class NoUsableTextError(ContractError):
    """The item documents do not tell items apart, so no content vectors can be learned.

    Training then skips the content map (cold items keep their CF factors) and says so in
    the bundle's metrics; it is not a failure of the run.
    """


class ContentEncoder:
    """TF-IDF (sublinear tf, smoothed idf) + TruncatedSVD, rows L2-normalised.

    Parameters
    ----------
    n_components : size of the content vectors; clipped (with a warning) on tiny corpora.
    max_features : keep at most this many terms, the most frequent ones.
    min_df : drop terms found in fewer documents; relaxed to 1 (with a warning) when that
        would leave fewer than two terms, as happens on tiny corpora.
    analyzer : "word" for space-separated languages, "char_wb" for Chinese (module docstring).
    ngram_range : (min_n, max_n) of word or character n-grams.
    random_state : seed of the randomised SVD.
    min_text_coverage : refuse (NoUsableTextError) a corpus in which fewer than this share of
        documents hold a term that tells items apart (`text_coverage_`); 0 never refuses on
        coverage. Training sets it from ``content.min_text_coverage``.

    Attributes (set by fit)
    -----------------------
    text_coverage_ : share of documents holding a kept term that other documents share but
        not all of them do. Text like "place 17" for every item covers ~0: the vectors would
        only encode noise, and a map learned from them would place every item at the mean.
    """

    def __init__(
        self,
        *,
        n_components: int = 64,
        max_features: int = 100_000,
        min_df: int = 2,
        analyzer: Analyzer = "word",
        ngram_range: tuple[int, int] = (1, 2),
        random_state: int = 0,
        min_text_coverage: float = 0.0,
    ) -> None:
        self.n_components = n_components
        self.max_features = max_features
        self.min_df = min_df
        self.analyzer = analyzer
        self.ngram_range = tuple(ngram_range)
        self.random_state = random_state
        self.min_text_coverage = min_text_coverage

    def get_params(self) -> dict[str, Any]:
        return {
            "n_components": self.n_components,
            "max_features": self.max_features,
            "min_df": self.min_df,
            "analyzer": self.analyzer,
            "ngram_range": list(self.ngram_range),
            "random_state": self.random_state,
            "min_text_coverage": self.min_text_coverage,
        }

    def _validate_params(self) -> None:
        if self.analyzer not in ("word", "char_wb"):
            raise ConfigError(f"analyzer must be 'word' or 'char_wb'; got {self.analyzer!r}")
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi:
            raise ConfigError(
                f"ngram_range must satisfy 1 <= min_n <= max_n; got {self.ngram_range}"
            )
        for name in ("n_components", "max_features", "min_df"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1; got {getattr(self, name)}")
        if not 0.0 <= float(self.min_text_coverage) <= 1.0:
            raise ConfigError(f"min_text_coverage must be in [0, 1]; got {self.min_text_coverage}")

    def _counter(self, vocabulary: dict[str, int] | None, min_df: int) -> CountVectorizer:
        return CountVectorizer(
            analyzer=self.analyzer,
            ngram_range=self.ngram_range,
            lowercase=True,
            min_df=min_df,
            max_features=self.max_features,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    # -- fitting ------------------------------------------------------------------------

    def fit(self, texts: Sequence[str]) -> Self:
        """Learn the vocabulary, idf weights and SVD basis from `texts` (one per item)."""
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        """Fit on `texts` and return their (n_texts, n_components_) float32 vectors."""
        self._validate_params()
        texts = _as_texts(texts)
        if not any(t.strip() for t in texts):
            raise NoUsableTextError(f"all {len(texts):,} item documents are blank")
        counts = self._fit_counts(texts)
        n_docs, n_terms = counts.shape
        df = np.bincount(counts.indices, minlength=n_terms).astype(np.float64)
        self.text_coverage_ = _coverage(counts, df)
        if self.text_coverage_ < float(self.min_text_coverage):
            raise NoUsableTextError(
                f"{self.text_coverage_:.1%} of {n_docs:,} item documents (e.g. {texts[0][:40]!r}) "
                "hold a term that tells items apart; at least "
                f"{float(self.min_text_coverage):.0%} must (min_text_coverage)"
            )
        # Smoothed idf, as scikit-learn: a term in every document still weighs 1, never 0.
        self.idf_ = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
        tfidf = self._weight(counts)

        k = min(int(self.n_components), n_terms, n_docs)
        if k < self.n_components:
            logger.warning(
                "corpus has %d documents and %d terms: n_components clipped from %d to %d",
                n_docs, n_terms, self.n_components, k,
            )
        svd = TruncatedSVD(n_components=k, algorithm="randomized", random_state=self.random_state)
        svd.fit(tfidf)
        self.components_ = np.ascontiguousarray(svd.components_, dtype=np.float64)
        self.n_components_ = k
        logger.info(
            "content encoder fitted: %d documents, %d terms, %d components, "
            "explained variance %.3f",
            n_docs, n_terms, k, float(svd.explained_variance_ratio_.sum()),
        )
        return self._project(tfidf)

    def _fit_counts(self, texts: list[str]) -> sp.csr_matrix:
        min_df = min(int(self.min_df), len(texts))
        for attempt in (min_df, 1) if min_df > 1 else (1,):
            counter = self._counter(None, attempt)
            try:
                counts = sp.csr_matrix(counter.fit_transform(texts))
            except ValueError:  # "no terms remain" / "empty vocabulary"
                counts = None
            if counts is not None and counts.shape[1] >= 2:
                if attempt != self.min_df:
                    logger.warning(
                        "min_df relaxed from %d to %d on a tiny corpus", self.min_df, attempt
                    )
                # Plain ints: JSON cannot hold numpy integers.
                self.vocabulary_ = {t: int(i) for t, i in counter.vocabulary_.items()}
                return counts
        raise NoUsableTextError(
            f"{len(texts):,} item documents have fewer than 2 distinct terms for analyzer "
            f"{self.analyzer!r} and ngram_range {self.ngram_range}"
        )

    # -- transforming -------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise NotFittedError("ContentEncoder is not fitted; call fit() or load()")

    def _weight(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear tf times idf, rows L2-normalised (long posts must not dominate)."""
        tf = counts.astype(np.float64, copy=True)
        np.log1p(tf.data, out=tf.data)
        tf = sp.csr_matrix(tf @ sp.diags(self.idf_))
        norms = np.sqrt(np.asarray(tf.multiply(tf).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ tf)

    def _project(self, tfidf: sp.csr_matrix) -> np.ndarray:
        dense = np.asarray(tfidf @ self.components_.T)
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        # A text with no known term maps to the zero vector: "no content", not a guess.
        norms[norms == 0] = 1.0
        return (dense / norms).astype(np.float32)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Content vectors of `texts`.

        Returns
        -------
        (n_texts, n_components_) float32, rows of unit L2 norm (zero rows for texts with no
        known term).
        """
        self._check_fitted()
        texts = _as_texts(texts)
        if not texts:
            return np.empty((0, self.n_components_), np.float32)
        counts = sp.csr_matrix(self._counter(self.vocabulary_, 1).transform(texts))
        return self._project(self._weight(counts))

    # -- persistence --------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write params.json, vocabulary.json, idf.npy and components.npy into `directory`."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"format": _FORMAT, "params": self.get_params(), "n_components_": self.n_components_}
        (directory / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        (directory / "vocabulary.json").write_text(
            json.dumps(self.vocabulary_, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        np.save(directory / "idf.npy", self.idf_, allow_pickle=False)
        np.save(directory / "components.npy", self.components_, allow_pickle=False)

    @classmethod
    def load(cls, directory: str | Path) -> ContentEncoder:
        """Rebuild an encoder written by `save`; transforms are identical to the saved one's."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "params.json").read_text())
            vocabulary = json.loads((directory / "vocabulary.json").read_text(encoding="utf-8"))
            idf = np.load(directory / "idf.npy", allow_pickle=False)
            components = np.load(directory / "components.npy", allow_pickle=False)
        except (FileNotFoundError, json.JSONDecodeError, ValueError) as exc:
            raise BundleError(f"{directory}: not a readable saved ContentEncoder: {exc}") from None
        if meta.get("format") != _FORMAT:
            raise BundleError(f"{directory}: format {meta.get('format')!r}, expected {_FORMAT!r}")
        n_terms = len(vocabulary)
        if idf.shape != (n_terms,) or components.shape != (meta["n_components_"], n_terms):
            raise BundleError(
                f"{directory}: inconsistent encoder: {n_terms} terms, idf {idf.shape}, "
                f"components {components.shape}"
            )
        params = dict(meta["params"])
        params["ngram_range"] = tuple(params["ngram_range"])
        encoder = cls(**params)
        encoder.vocabulary_ = {str(t): int(i) for t, i in vocabulary.items()}
        encoder.idf_ = idf
        encoder.components_ = components
        encoder.n_components_ = int(meta["n_components_"])
        return encoder


def _coverage(counts: sp.csr_matrix, df: np.ndarray) -> float:
    """Share of rows of `counts` with a term that some but not all other rows share: a term
    in every document says nothing about any one of them, and a term in one document only
    (an id) links its item to no other, so neither lets a map generalise."""
    telling = (df >= 2) & (df < counts.shape[0])
    if not telling.any():
        return 0.0
    return float((counts[:, np.flatnonzero(telling)].getnnz(axis=1) > 0).mean())


def _as_texts(texts: Sequence[str]) -> list[str]:
    """A list of str; None (a missing text) becomes the empty string."""
    if isinstance(texts, str):
        raise ContractError("texts must be a sequence of strings, not a single string")
    return ["" if t is None else str(t) for t in texts]
