"""The exposure-aware long-tail re-ranker (one knob, `tail_weight`) and the naive boost it is
compared with.

A shelf-style ranking shows the head to everyone: the plain order's long-tail share@10 is near
0 on every data set. The **naive boost** (``score + w * is_tail``, sorted) pushes the tail to
everyone alike, and wherever the bonus lands, often at the top of the page.

Ours changes two things, measured on four data sets before it was chosen (docs/feeds.md):

1. **Personal**: the bonus scales with the user's own tail appetite (as personalised xQuAD
   weights tail coverage by P(tail | user), Abdollahpouri et al. 2019): the tail share of their
   history weight, shrunk towards the catalogue's (`prior`) as if `strength` more weight had the
   catalogue's mix, relative to the catalogue's, square-rooted so one niche purchase does not
   flip a page: ``appetite = sqrt(share / prior)`` (1 for an average user, 0 for a user who
   never touched the tail).
2. **Exposure, not position**: the bonus decides which items make the page (the top k of
   ``scaled score + tail_weight * appetite * is_tail``); the page then shows them in the plain
   order. A tail item that earned its slot is exposed all the same at slot 8 as at slot 1, and
   the head items it did not displace keep the top slots, so accuracy pays less for the same
   long-tail share.

Scores are min-max scaled to [0, 1] over each user's candidates, for both methods. The long-tail
head is `recsys.item_stats.head_mask`'s. Everything is batch-first over (n_users, n_candidates)
arrays, best first, -1 padded, so one call serves a feed page and thousands of evaluation users.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError


def _checked(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.atleast_2d(np.asarray(ids, dtype=np.int64))
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if ids.shape != scores.shape:
        raise InvalidInputError(f"ids {ids.shape} and scores {scores.shape} must have one shape")
    return ids, scores


def scaled_scores(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(n, m) scores min-max scaled to [0, 1] per row over its valid candidates (ids >= 0);
    a row of equal scores gets 1 everywhere; padding gets -inf."""
    ids, scores = _checked(ids, scores)
    valid = ids >= 0
    lo = np.where(valid, scores, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, scores, -np.inf).max(axis=1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    out = np.where(hi > lo, (scores - lo) / span, 1.0)
    return np.where(valid, out, -np.inf)


def tail_appetite(
    history: sp.csr_matrix, is_tail: np.ndarray, *, prior: float, strength: float
) -> np.ndarray:
    """(n,) each user's appetite for the tail: ``sqrt(share / prior)``, where share is the
    tail weight of their history row over its total, shrunk towards `prior` as if `strength`
    more units of weight had the prior's mix (no history: 1).

    Parameters
    ----------
    history : (n, n_items) confidence rows (the users' training items).
    is_tail : (n_items,) bool, not in the head (`recsys.item_stats.head_mask`).
    prior : the catalogue-wide tail share of interaction weight, in (0, 1].
    strength : pseudo-weight of the prior, >= 0.
    """
    if not 0.0 < prior <= 1.0 or strength < 0:
        raise InvalidInputError(f"prior must be in (0, 1] and strength >= 0; got {prior}, "
                                f"{strength}")
    x = sp.csr_matrix(history)
    tail = np.asarray(is_tail, dtype=np.float64)
    total = np.asarray(x.sum(axis=1)).ravel()
    on_tail = np.asarray(x @ tail).ravel()
    denominator = total + strength
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(denominator > 0, (on_tail + strength * prior) / denominator, prior)
    return np.sqrt(share / prior)


def _tail_flags(ids: np.ndarray, is_tail: np.ndarray) -> np.ndarray:
    valid = ids >= 0
    tail = np.zeros(ids.shape, dtype=bool)
    tail[valid] = np.asarray(is_tail, dtype=bool)[ids[valid]]
    return tail


def _top_by(values: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    """(n, k) positions of each row's k largest values (ties: earlier position), -1 padded."""
    m = values.shape[1]
    positions = np.broadcast_to(np.arange(m), values.shape)
    order = np.lexsort((positions, -values), axis=1)[:, : min(k, m)]
    return np.where(np.take_along_axis(valid, order, axis=1), order, -1)


def rerank_long_tail(
    ids: np.ndarray,
    scores: np.ndarray,
    is_tail: np.ndarray,
    appetite: np.ndarray | float,
    *,
    tail_weight: float,
    k: int,
) -> np.ndarray:
    """(n, k) positions into each row of `ids`: the page, in plain order, -1 padded.

    Parameters
    ----------
    ids : (n, m) candidate item indices, best first by the plain order, -1 padded.
    scores : (n, m) their plain scores.
    is_tail : (n_items,) bool.
    appetite : (n,) or scalar, each user's tail appetite (`tail_appetite`).
    tail_weight : >= 0; 0 keeps the plain order.
    k : the page size (or the cut-off measured).
    """
    ids, scores = _checked(ids, scores)
    if tail_weight < 0:
        raise InvalidInputError(f"tail_weight must be >= 0; got {tail_weight}")
    appetite = np.broadcast_to(np.asarray(appetite, dtype=np.float64), (ids.shape[0],))
    bonus = (tail_weight * appetite)[:, None] * _tail_flags(ids, is_tail)
    page = _top_by(scaled_scores(ids, scores) + bonus, ids >= 0, k)
    return _plain_order(page)


def _plain_order(page: np.ndarray) -> np.ndarray:
    """Each row's positions ascending (the plain order), padding (-1) last."""
    big = np.iinfo(np.int64).max
    ordered = np.sort(np.where(page >= 0, page, big), axis=1)
    return np.where(ordered == big, -1, ordered)


def naive_boost(
    ids: np.ndarray, scores: np.ndarray, is_tail: np.ndarray, *, weight: float, k: int
) -> np.ndarray:
    """The comparison curve: (n, k) positions ordering each row by scaled score
    ``+ weight * is_tail`` (the same scaling as `rerank_long_tail`), -1 where a row runs out."""
    ids, scores = _checked(ids, scores)
    if weight < 0:
        raise InvalidInputError(f"weight must be >= 0; got {weight}")
    boosted = scaled_scores(ids, scores) + weight * _tail_flags(ids, is_tail)
    return _top_by(boosted, ids >= 0, k)


def take(ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Item ids at `positions` (from `rerank_long_tail` / `naive_boost`), -1 kept as -1."""
    ids = np.atleast_2d(np.asarray(ids, dtype=np.int64))
    picked = np.take_along_axis(ids, np.maximum(positions, 0), axis=1)
    return np.where(positions >= 0, picked, -1)
