"""Ranking metrics over full-catalogue top-K lists: pure, vectorised numpy functions.

Every list is ranked against the whole catalogue (never sampled negatives), so the numbers are
comparable with full-ranking papers and 5-20x lower than sampled-negative ones.

Inputs are ``recommended`` (n_users, K) int64, best first, -1 padded, and ``relevant``: a
(n_users, n_items) sparse matrix whose nonzeros are the relevant items of each row (or a dense
boolean array of that shape). Users with no relevant item carry no signal for accuracy and are
excluded from the means; a batch where nobody has a relevant item raises ``InvalidInputError``.

Recall@K is hits / min(K, |relevant|), as in the EASE and Mult-VAE papers, so a perfect list
scores 1 even when a user has more relevant items than K. A list that repeats an id earns a
hit at its first occurrence only (a repeat is a miss), so no metric can leave [0, 1].
Beyond-accuracy metrics take an *exposure* vector (how often each item was recommended, see
`exposure_counts`) so they can be accumulated over batches of users.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError

ACCURACY_METRICS = ("recall", "ndcg", "map", "hit_rate", "mrr")

#: Relevance matrix: sparse (n_users, n_items), nonzero = relevant, or a dense boolean array.
Relevant = sp.spmatrix | sp.sparray | np.ndarray


def _as_csr(relevant: Relevant) -> sp.csr_matrix:
    csr = sp.csr_matrix(relevant)
    csr.eliminate_zeros()
    csr.sum_duplicates()  # also sorts indices, which `relevance_hits` relies on
    return csr


def relevance_hits(
    recommended: np.ndarray, relevant: Relevant
) -> tuple[np.ndarray, np.ndarray]:
    """Which recommended slots are relevant, and how many relevant items each user has.

    Parameters
    ----------
    recommended : (n_users, K) int64 item indices, -1 padded.
    relevant : (n_users, n_items) sparse or dense; nonzero = relevant.

    Returns
    -------
    hits : (n_users, K) bool; a relevant id listed twice is a hit only where it first appears,
        so hits never exceed |relevant| and every metric stays within [0, 1].
    n_relevant : (n_users,) int64.
    """
    recommended = np.asarray(recommended, dtype=np.int64)
    if recommended.ndim != 2:
        raise InvalidInputError(
            f"recommended must be 2-D (n_users, K); got shape {recommended.shape}"
        )
    rel = _as_csr(relevant)
    n_users, n_items = rel.shape
    if recommended.shape[0] != n_users:
        raise InvalidInputError(
            f"recommended has {recommended.shape[0]} rows but relevant has {n_users} users"
        )
    n_relevant = np.diff(rel.indptr).astype(np.int64)
    # One int64 key per (user, item) cell; CSR order makes the relevant keys already sorted.
    rel_keys = np.repeat(np.arange(n_users, dtype=np.int64), n_relevant) * n_items + rel.indices
    valid = (recommended >= 0) & (recommended < n_items)
    rec_keys = np.arange(n_users, dtype=np.int64)[:, None] * n_items + recommended
    pos = np.searchsorted(rel_keys, rec_keys)
    pos = np.minimum(pos, max(len(rel_keys) - 1, 0))
    hits = valid & (rel_keys[pos] == rec_keys) if len(rel_keys) else np.zeros_like(valid)
    return hits & _first_occurrence(recommended), n_relevant


def _first_occurrence(recommended: np.ndarray) -> np.ndarray:
    """(n_users, K) bool: True where an id appears for the first time in its row."""
    order = np.argsort(recommended, axis=1, kind="stable")
    ranked = np.take_along_axis(recommended, order, axis=1)
    repeat = np.zeros(recommended.shape, dtype=bool)
    repeat[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
    first = np.empty_like(repeat)
    np.put_along_axis(first, order, ~repeat, axis=1)
    return first


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def accuracy_per_user(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per-user recall, ndcg, map, hit_rate and mrr at cut-off `k` from a hits matrix.

    Parameters
    ----------
    hits : (n_users, K) bool, K >= k, from `relevance_hits`.
    n_relevant : (n_users,) int64.
    k : cut-off.

    Returns
    -------
    dict metric name -> (n_users,) float64 in [0, 1]; NaN for users with no relevant item.
    """
    if k <= 0 or k > hits.shape[1]:
        raise InvalidInputError(f"k must be in 1..{hits.shape[1]} (the list length); got {k}")
    h = hits[:, :k].astype(np.float64)
    denom = np.minimum(n_relevant, k).astype(np.float64)
    has_rel = denom > 0
    safe = np.where(has_rel, denom, 1.0)
    disc = _discounts(k)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_relevant, k)]
    n_hits = h.sum(axis=1)
    precision_at_i = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    first = np.argmax(h > 0, axis=1)
    out = {
        "recall": n_hits / safe,
        "ndcg": (h @ disc) / np.where(has_rel, ideal, 1.0),
        "map": (precision_at_i * h).sum(axis=1) / safe,
        "hit_rate": (n_hits > 0).astype(np.float64),
        "mrr": np.where(n_hits > 0, 1.0 / (first + 1), 0.0),
    }
    for values in out.values():
        values[~has_rel] = np.nan
    return out


def _mean_over_users(
    name: str, recommended: np.ndarray, relevant: Relevant, k: int | None
) -> float:
    hits, n_relevant = relevance_hits(recommended, relevant)
    k = hits.shape[1] if k is None else k
    values = accuracy_per_user(hits, n_relevant, k)[name]
    if not np.any(n_relevant > 0):
        raise InvalidInputError("no user has a relevant item; the metric is undefined")
    return float(np.nanmean(values))


def recall_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Mean hits@k / min(k, |relevant|) over users with relevant items; in [0, 1]."""
    return _mean_over_users("recall", recommended, relevant, k)


def ndcg_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Mean NDCG@k with binary gains, ideal DCG from min(k, |relevant|) hits; in [0, 1]."""
    return _mean_over_users("ndcg", recommended, relevant, k)


def map_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Mean average precision@k, normalised by min(k, |relevant|); in [0, 1]."""
    return _mean_over_users("map", recommended, relevant, k)


def hit_rate_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Share of users with at least one relevant item in the top k; in [0, 1]."""
    return _mean_over_users("hit_rate", recommended, relevant, k)


def mrr_at_k(recommended: np.ndarray, relevant: Relevant, k: int | None = None) -> float:
    """Mean reciprocal rank of the first relevant item in the top k (0 if none); in [0, 1]."""
    return _mean_over_users("mrr", recommended, relevant, k)


# -- beyond accuracy: functions of the exposure vector ------------------------------------


def exposure_counts(recommended: np.ndarray, n_items: int) -> np.ndarray:
    """How many times each item appears in the lists (padding ignored); (n_items,) int64."""
    ids = np.asarray(recommended, dtype=np.int64).ravel()
    ids = ids[(ids >= 0) & (ids < n_items)]
    return np.bincount(ids, minlength=n_items).astype(np.int64)


def catalog_coverage(exposure: np.ndarray) -> float:
    """Share of the catalogue recommended at least once; in [0, 1]."""
    exposure = np.asarray(exposure)
    return float(np.count_nonzero(exposure) / len(exposure)) if len(exposure) else 0.0


def long_tail_share(exposure: np.ndarray, head_mask: np.ndarray) -> float:
    """Share of recommendation slots filled with long-tail (non-head) items; in [0, 1]."""
    exposure = np.asarray(exposure, dtype=np.float64)
    total = exposure.sum()
    return float(exposure[~np.asarray(head_mask, bool)].sum() / total) if total else 0.0


def novelty(exposure: np.ndarray, item_popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2(pop / n_users) of recommended items, in bits; >= 0.

    `item_popularity` should count *users* per item so pop / n_users is a probability; items
    never seen in training are counted as seen once (their information is otherwise infinite).
    """
    exposure = np.asarray(exposure, dtype=np.float64)
    total = exposure.sum()
    if not total:
        return 0.0
    pop = np.clip(np.asarray(item_popularity, dtype=np.float64), 1.0, None)
    info = -np.log2(np.minimum(pop / n_users, 1.0))
    return float((exposure * info).sum() / total)


def gini_exposure(exposure: np.ndarray) -> float:
    """Gini coefficient of exposure over the whole catalogue; 0 = uniform, -> 1 = one item."""
    x = np.sort(np.asarray(exposure, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(2.0 * (ranks * x).sum() / (n * total) - (n + 1) / n)


# -- paired comparisons ------------------------------------------------------------------


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    chunk: int = 100,
) -> tuple[float, float, float]:
    """Mean per-user difference ``a - b`` and its percentile bootstrap interval.

    Users are resampled with replacement, the same users for both models (paired), so the
    interval reflects how much the difference depends on which users were tested.

    Parameters
    ----------
    a, b : (n_users,) per-user metric values of two models on the same users, same order
        (NaN rows, users without a relevant item, are dropped from both).
    n_resamples : bootstrap resamples.
    level : coverage of the interval, in (0, 1).
    seed : seeds the resampling.

    Returns
    -------
    (mean difference, lower bound, upper bound).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise InvalidInputError(f"a and b must be 1-D of one shape; got {a.shape} and {b.shape}")
    if not 0.0 < level < 1.0:
        raise InvalidInputError(f"level must be in (0, 1); got {level}")
    if n_resamples < 1:
        raise InvalidInputError(f"n_resamples must be >= 1; got {n_resamples}")
    diff = (a - b)[~(np.isnan(a) | np.isnan(b))]
    if not len(diff):
        raise InvalidInputError("no user has a value for both models")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for lo in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - lo)
        means[lo: lo + size] = diff[rng.integers(0, len(diff), (size, len(diff)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(diff.mean()), float(low), float(high)
