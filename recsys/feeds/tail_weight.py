"""Choosing `tail_weight`: accuracy against long-tail exposure over the knob's range.

`tail_curve` re-ranks fixed candidates (each user's top of the plain order) at every weight and
measures NDCG@k, long-tail share@k and, when items carry a group-buy flag, group-buy share@k;
`pick_tail_weight` takes the largest weight whose NDCG@k is within `max_loss` (relative) of the
plain order's. Training runs both on its validation split and records the pick in the manifest;
evaluation draws the curves, the naive boost's beside ours (`method="naive"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.feeds.long_tail import Exposure, naive_boost, rerank_long_tail, take
from recsys.metrics import ranking as m

Method = Literal["ours", "naive"]


def rerank_at(
    ids: np.ndarray,
    scores: np.ndarray,
    exposure: Exposure,
    weight: float,
    *,
    k: int,
    method: Method = "ours",
) -> np.ndarray:
    """(n, k) item ids of each user's page at `weight` (-1 padded)."""
    if method == "ours":
        positions = rerank_long_tail(ids, scores, exposure, tail_weight=weight, k=k)
    elif method == "naive":
        positions = naive_boost(ids, scores, exposure.is_tail, weight=weight, k=k)
    else:
        raise InvalidInputError(f"method must be 'ours' or 'naive'; got {method!r}")
    return take(ids, positions)


def page_metrics(
    recommended: np.ndarray,
    relevant: m.Relevant,
    is_tail: np.ndarray,
    *,
    k: int,
    is_group_buy: np.ndarray | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """NDCG@k, long-tail share@k (and group-buy share@k) of (n, >=k) lists; also the per-user
    NDCG (NaN for users without relevant items), for paired comparisons."""
    recommended = np.asarray(recommended, dtype=np.int64)
    if recommended.shape[1] < k:
        recommended = np.pad(recommended, ((0, 0), (0, k - recommended.shape[1])),
                             constant_values=-1)
    hits, n_rel = m.relevance_hits(recommended, relevant)
    per_user = m.accuracy_per_user(hits, n_rel, k)["ndcg"]
    exposure = m.exposure_counts(recommended[:, :k], len(is_tail))
    out = {
        f"ndcg@{k}": float(np.nanmean(per_user)),
        f"long_tail_share@{k}": m.long_tail_share(exposure, ~np.asarray(is_tail, bool)),
    }
    if is_group_buy is not None:
        out[f"group_buy_share@{k}"] = m.long_tail_share(exposure, ~np.asarray(is_group_buy, bool))
    return out, per_user


def tail_curve(
    ids: np.ndarray,
    scores: np.ndarray,
    relevant: m.Relevant,
    exposure: Exposure,
    weights: Sequence[float],
    *,
    k: int = 10,
    method: Method = "ours",
    batch: int = 4096,
) -> list[dict[str, float]]:
    """One point per weight: {"tail_weight", "ndcg@k", "long_tail_share@k"[, "group_buy_share@k"]}.

    Parameters
    ----------
    ids, scores : (n_users, m) each user's candidates, best first by the plain order.
    relevant : (n_users, n_items) held-out relevance of the same users.
    exposure : the item classes and the users' appetites (the naive boost reads `is_tail`);
        group-buy share@k is measured when it has group-buy flags.
    batch : users re-ranked at once (bounds the memory of the sorts).
    """
    if not len(weights):
        raise InvalidInputError("weights must not be empty")
    ids = np.asarray(ids, dtype=np.int64)
    rel = sp.csr_matrix(relevant)
    is_tail, is_group_buy = exposure.is_tail, exposure.is_group_buy
    n_items = len(is_tail)
    points = []
    for w in weights:
        per_user = np.empty(len(ids))
        shown = np.zeros(n_items, np.int64)
        for lo in range(0, len(ids), batch):
            rows = slice(lo, lo + batch)
            pages = rerank_at(ids[rows], scores[rows], exposure.rows(rows), float(w), k=k,
                              method=method)
            _, per_user[rows] = page_metrics(pages, rel[rows], is_tail, k=k)
            shown += m.exposure_counts(pages[:, :k], n_items)
        point = {
            "tail_weight": float(w),
            f"ndcg@{k}": float(np.nanmean(per_user)),
            f"long_tail_share@{k}": m.long_tail_share(shown, ~np.asarray(is_tail, bool)),
        }
        if is_group_buy is not None:
            point[f"group_buy_share@{k}"] = m.long_tail_share(
                shown, ~np.asarray(is_group_buy, bool))
        points.append(point)
    return points


def pick_tail_weight(curve: Sequence[dict[str, float]], *, max_loss: float, k: int = 10) -> float:
    """The largest weight whose NDCG@k is at least ``(1 - max_loss)`` x the plain order's
    (the curve's point at weight 0, which must be present)."""
    key = f"ndcg@{k}"
    plain = [p[key] for p in curve if p["tail_weight"] == 0.0]
    if not plain:
        raise InvalidInputError("the curve needs its plain point (tail_weight 0)")
    floor = (1.0 - max_loss) * plain[0]
    ok = [p["tail_weight"] for p in curve if p[key] >= floor]
    return float(max(ok))
