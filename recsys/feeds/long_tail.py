"""The exposure-aware long-tail re-ranker (one knob, `tail_weight`) and the naive boost it is
compared with.

A shelf-style ranking shows the head to everyone: the plain order's long-tail share@10 is near
0 on every data set. Pushing the tail to everyone alike (the **naive boost**,
``score + w * is_tail``) spends accuracy on users who never buy niche items. The re-ranker here
**calibrates each user's page to their own head/tail mix** (Steck 2018's calibration, with the
two classes of personalised xQuAD, Abdollahpouri et al. 2019): position by position, it takes
the best remaining head item or the best remaining tail item, whichever has the higher

    (1 - tail_weight) * score + tail_weight * -(tail share of the page so far with it - target)^2

where `score` is the plain order's score scaled to [0, 1] over the user's candidates and
`target` the user's tail share: the share of their history weight on long-tail items, shrunk
towards the catalogue-wide share (`tail_target`), so a user with a short history gets the
average mix. `tail_weight` 0 is the plain order; 1 fills each page to the target mix, best
items first within each class. The long-tail head is `recsys.item_stats.head_mask`'s.

Everything is batch-first over (n_users, n_candidates) arrays, best first, -1 padded, so one
call serves a feed page and thousands of evaluation users alike.
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


def tail_targets(
    history: sp.csr_matrix, is_tail: np.ndarray, *, prior: float, strength: float
) -> np.ndarray:
    """(n,) each user's tail share: tail weight of their history row over its total, shrunk
    towards `prior` as if `strength` more units of weight had the prior's mix.

    Parameters
    ----------
    history : (n, n_items) confidence rows (the users' training items).
    is_tail : (n_items,) bool, not in the head (`recsys.item_stats.head_mask`).
    prior : the catalogue-wide tail share, in [0, 1].
    strength : pseudo-weight of the prior, >= 0.
    """
    if not 0.0 <= prior <= 1.0 or strength < 0:
        raise InvalidInputError(f"prior must be in [0, 1] and strength >= 0; got {prior}, "
                                f"{strength}")
    x = sp.csr_matrix(history)
    tail = np.asarray(is_tail, dtype=bool)
    total = np.asarray(x.sum(axis=1)).ravel()
    on_tail = np.asarray(x @ tail.astype(np.float64)).ravel()
    denominator = total + strength
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (on_tail + strength * prior) / denominator
    return np.where(denominator > 0, share, prior)


def calibrate_tail(
    ids: np.ndarray,
    scores: np.ndarray,
    is_tail: np.ndarray,
    target: np.ndarray | float,
    *,
    tail_weight: float,
    k: int,
) -> np.ndarray:
    """The calibrated order: (n, k) positions into each row of `ids`, -1 where a row runs out.

    Parameters
    ----------
    ids : (n, m) candidate item indices, best first by the plain order, -1 padded.
    scores : (n, m) their plain scores.
    is_tail : (n_items,) bool.
    target : (n,) or scalar, each user's tail share (`tail_targets`).
    tail_weight : in [0, 1]; 0 keeps the plain order.
    k : positions to fill (a page, or the cut-off measured).
    """
    ids, scores = _checked(ids, scores)
    if not 0.0 <= tail_weight <= 1.0:
        raise InvalidInputError(f"tail_weight must be in [0, 1]; got {tail_weight}")
    n, m = ids.shape
    k = min(k, m)
    valid = ids >= 0
    s = np.where(valid, scaled_scores(ids, scores), 0.0)  # padding is never read as a score
    tail = np.zeros_like(valid)
    tail[valid] = np.asarray(is_tail, dtype=bool)[ids[valid]]
    target = np.broadcast_to(np.asarray(target, dtype=np.float64), (n,))
    # Each row's head positions then its tail positions, each in plain order (padding last).
    cls = np.where(valid, tail.astype(np.int8), 2)
    by_class = np.argsort(cls, axis=1, kind="stable")
    n_head = (cls == 0).sum(axis=1)
    n_tail = (cls == 1).sum(axis=1)
    rows = np.arange(n)
    ph = np.zeros(n, np.int64)  # next head, counted within the head block
    pt = np.zeros(n, np.int64)
    taken_tail = np.zeros(n, np.int64)
    out = np.full((n, k), -1, np.int64)
    for t in range(k):
        head_pos = by_class[rows, np.minimum(ph, m - 1)]
        tail_pos = by_class[rows, np.minimum(n_head + pt, m - 1)]
        has_head, has_tail = ph < n_head, pt < n_tail
        gap_head = (taken_tail / (t + 1) - target) ** 2
        gap_tail = ((taken_tail + 1) / (t + 1) - target) ** 2
        v_head = (1 - tail_weight) * s[rows, head_pos] - tail_weight * gap_head
        v_tail = (1 - tail_weight) * s[rows, tail_pos] - tail_weight * gap_tail
        v_head = np.where(has_head, v_head, -np.inf)
        v_tail = np.where(has_tail, v_tail, -np.inf)
        # Ties (within rounding) go to the item the plain order ranked first.
        tie = np.isclose(v_tail, v_head, rtol=0.0, atol=1e-12)
        pick_tail = has_tail & ((~tie & (v_tail > v_head)) | (tie & (tail_pos < head_pos)))
        pick_head = has_head & ~pick_tail
        out[:, t] = np.where(pick_tail, tail_pos, np.where(pick_head, head_pos, -1))
        pt += pick_tail
        ph += pick_head
        taken_tail += pick_tail
    return out


def naive_boost(
    ids: np.ndarray, scores: np.ndarray, is_tail: np.ndarray, *, weight: float, k: int
) -> np.ndarray:
    """The comparison curve: (n, k) positions ordering each row by scaled score
    ``+ weight * is_tail`` (the same scaling as `calibrate_tail`), -1 where a row runs out."""
    ids, scores = _checked(ids, scores)
    if weight < 0:
        raise InvalidInputError(f"weight must be >= 0; got {weight}")
    valid = ids >= 0
    tail = np.zeros_like(valid)
    tail[valid] = np.asarray(is_tail, dtype=bool)[ids[valid]]
    boosted = scaled_scores(ids, scores) + weight * tail
    m = ids.shape[1]
    positions = np.broadcast_to(np.arange(m), ids.shape)
    order = np.lexsort((positions, -boosted), axis=1)[:, : min(k, m)]
    return np.where(np.take_along_axis(valid, order, axis=1), order, -1)


def take(ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Item ids at `positions` (from `calibrate_tail` / `naive_boost`), -1 kept as -1."""
    ids = np.atleast_2d(np.asarray(ids, dtype=np.int64))
    picked = np.take_along_axis(ids, np.maximum(positions, 0), axis=1)
    return np.where(positions >= 0, picked, -1)
