"""Metrics of circle placement: membership F1, calibration of affinities, ranking of circles.

Every function takes dense (n_users, n_circles) arrays and is pure numpy; nothing assumes a
particular number of circles. Row-chunked loops bound memory on 10M-user evaluations (a float
temporary of 10M x 21 cells is already 1.7 GB in float64).
`placement_report` gathers them into the JSON-able dict the model manifest stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from recsys.errors import InvalidInputError

# Cells handled per chunk by the chunked metrics (about 32 MB of float64 per temporary).
_CHUNK_CELLS = 1 << 22


def _check_pair(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise InvalidInputError(
            f"{names[0]} and {names[1]} must be 2-d arrays of the same shape (n_users, n_circles); "
            f"got {a.shape} and {b.shape}"
        )


def _row_chunks(n_rows: int, n_cols: int) -> Iterator[slice]:
    step = max(1, _CHUNK_CELLS // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _counts(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-circle true positives, false positives and false negatives (int64 arrays)."""
    _check_pair(pred, truth, ("pred", "truth"))
    pred = pred.astype(bool, copy=False)
    truth = truth.astype(bool, copy=False)
    tp = np.count_nonzero(pred & truth, axis=0).astype(np.int64)
    fp = np.count_nonzero(pred, axis=0) - tp
    fn = np.count_nonzero(truth, axis=0) - tp
    return tp, fp, fn


def micro_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    """F1 over all (user, circle) cells pooled; in [0, 1].

    Parameters
    ----------
    pred, truth : (n_users, n_circles) bool memberships.

    Returns 1.0 when there is nothing to find and nothing was predicted (no cell is wrong).
    """
    tp, fp, fn = (int(x.sum()) for x in _counts(pred, truth))
    denominator = 2 * tp + fp + fn
    return 1.0 if denominator == 0 else 2 * tp / denominator


def per_circle_precision_recall(
    pred: np.ndarray, truth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of each circle's membership, and its support.

    Parameters
    ----------
    pred, truth : (n_users, n_circles) bool memberships.

    Returns
    -------
    precision : (n_circles,) float64 in [0, 1]; NaN when the circle was never predicted.
    recall : (n_circles,) float64 in [0, 1]; NaN when the circle has no true members.
    f1 : (n_circles,) float64 in [0, 1]; NaN when the circle has no true members (any
        prediction is then a false positive, and F1 says nothing about finding members);
        0 when it has members but none was predicted.
    support : (n_circles,) int64 number of true members.
    """
    tp, fp, fn = _counts(pred, truth)
    support = tp + fn
    predicted = tp + fp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
        f1 = np.where(support > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    return precision, recall, f1, support


def macro_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    """Unweighted mean of per-circle F1 over circles with at least one true member; in [0, 1].

    Circles without true members among the evaluated users are left out (their F1 is undefined,
    see `per_circle_precision_recall`); NaN when no circle has a member.
    """
    f1 = per_circle_precision_recall(pred, truth)[2]
    defined = f1[~np.isnan(f1)]
    return float(defined.mean()) if defined.size else float("nan")


def brier_score(proba: np.ndarray, truth: np.ndarray) -> float:
    """Mean squared error of membership probabilities over all cells; in [0, 1], lower is better.

    Parameters
    ----------
    proba : (n_users, n_circles) float probabilities that the user is a member.
    truth : (n_users, n_circles) bool memberships.
    """
    _check_pair(proba, truth, ("proba", "truth"))
    if proba.size == 0:
        return float("nan")
    total = 0.0
    for rows in _row_chunks(*proba.shape):
        p = np.asarray(proba[rows], dtype=np.float64)
        total += float(np.square(p - truth[rows].astype(np.float64)).sum())
    return total / proba.size


def expected_calibration_error(proba: np.ndarray, truth: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error over all cells with `n_bins` equal-width bins; in [0, 1].

    ECE = sum over bins of (cells in bin / all cells) * |mean probability - member rate|,
    lower is better; probability 1.0 falls in the last bin.
    """
    _check_pair(proba, truth, ("proba", "truth"))
    if n_bins < 1:
        raise InvalidInputError(f"n_bins must be >= 1; got {n_bins}")
    if proba.size == 0:
        return float("nan")
    count = np.zeros(n_bins, np.int64)
    sum_p = np.zeros(n_bins)
    sum_y = np.zeros(n_bins)
    for rows in _row_chunks(*proba.shape):
        p = np.asarray(proba[rows], dtype=np.float64).ravel()
        y = truth[rows].astype(np.float64).ravel()
        bins = np.clip((p * n_bins).astype(np.int64), 0, n_bins - 1)
        count += np.bincount(bins, minlength=n_bins)
        sum_p += np.bincount(bins, weights=p, minlength=n_bins)
        sum_y += np.bincount(bins, weights=y, minlength=n_bins)
    return float(np.abs(sum_p - sum_y).sum() / proba.size)


def ndcg_over_circles(
    affinity: np.ndarray, truth_weights: np.ndarray, k: int | None = None
) -> float:
    """Mean NDCG@k of each user's circles ranked by affinity, graded by the true weights.

    Gains are the true interest weights (linear), discounts 1 / log2(rank + 1). Ties in
    affinity are broken by circle index so the value is reproducible. Users whose true
    weights are all zero have no ideal ranking and are left out; NaN when none is left.

    Parameters
    ----------
    affinity : (n_users, n_circles) float scores; higher ranks first.
    truth_weights : (n_users, n_circles) non-negative float true interest weights.
    k : rank cut-off; None ranks all circles.

    Returns
    -------
    float in [0, 1], higher is better.
    """
    _check_pair(affinity, truth_weights, ("affinity", "truth_weights"))
    n_users, n_circles = affinity.shape
    k = n_circles if k is None else min(int(k), n_circles)
    if k < 1:
        raise InvalidInputError(f"k must be >= 1; got {k}")
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    total, counted = 0.0, 0
    columns = np.arange(n_circles)
    for rows in _row_chunks(n_users, n_circles):
        a = np.asarray(affinity[rows], dtype=np.float64)
        w = np.asarray(truth_weights[rows], dtype=np.float64)
        # lexsort: last key is primary -> descending affinity, then ascending circle index.
        order = np.lexsort((np.broadcast_to(columns, a.shape), -a), axis=1)[:, :k]
        dcg = np.take_along_axis(w, order, axis=1) @ discount
        ideal = -np.sort(-w, axis=1)[:, :k] @ discount
        ok = ideal > 0
        total += float((dcg[ok] / ideal[ok]).sum())
        counted += int(ok.sum())
    return total / counted if counted else float("nan")


def _json_float(x: float) -> float | None:
    """JSON has no NaN: undefined metrics are stored as null."""
    x = float(x)
    return None if np.isnan(x) else x


def placement_report(
    pred: np.ndarray,
    proba: np.ndarray,
    truth_members: np.ndarray,
    truth_weights: np.ndarray,
    circle_ids: list[str],
    *,
    subset_masks: Mapping[str, np.ndarray] | None = None,
    n_bins: int = 10,
) -> dict[str, Any]:
    """All placement metrics, for all users and for each named subset, as a JSON-able dict.

    Parameters
    ----------
    pred : (n_users, n_circles) bool predicted member circles.
    proba : (n_users, n_circles) float calibrated affinities.
    truth_members, truth_weights : (n_users, n_circles) planted memberships and weights.
    circle_ids : n_circles circle ids (column order), used as keys of the per-circle block.
    subset_masks : name -> (n_users,) bool mask, e.g. {"no_ugc": ~labelled}; "all" is implicit.

    Returns
    -------
    {"circle_ids": [...], "subsets": {name: {"n_users", "micro_f1", "macro_f1", "brier", "ece",
    "ndcg", "mean_members_pred", "mean_members_truth", "per_circle": {circle_id: {"precision",
    "recall", "f1", "support"}}}}}; undefined values are null.
    """
    _check_pair(pred, truth_members, ("pred", "truth_members"))
    _check_pair(proba, truth_members, ("proba", "truth_members"))
    _check_pair(truth_weights, truth_members, ("truth_weights", "truth_members"))
    if len(circle_ids) != pred.shape[1]:
        raise InvalidInputError(f"{len(circle_ids)} circle ids for {pred.shape[1]} circle columns")
    masks: dict[str, np.ndarray | None] = {"all": None}
    for name, mask in (subset_masks or {}).items():
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (pred.shape[0],):
            raise InvalidInputError(
                f"subset {name!r}: mask shape {mask.shape} != ({pred.shape[0]},)"
            )
        masks[name] = mask
    subsets: dict[str, Any] = {}
    for name, mask in masks.items():
        p, q, t, w = (
            (pred, proba, truth_members, truth_weights)
            if mask is None
            else (pred[mask], proba[mask], truth_members[mask], truth_weights[mask])
        )
        precision, recall, f1, support = per_circle_precision_recall(p, t)
        n = len(p)
        subsets[name] = {
            "n_users": int(n),
            "micro_f1": _json_float(micro_f1(p, t)) if n else None,
            "macro_f1": _json_float(macro_f1(p, t)) if n else None,
            "brier": _json_float(brier_score(q, t)) if n else None,
            "ece": _json_float(expected_calibration_error(q, t, n_bins)) if n else None,
            "ndcg": _json_float(ndcg_over_circles(q, w)) if n else None,
            "mean_members_pred": float(p.sum() / n) if n else None,
            "mean_members_truth": float(t.sum() / n) if n else None,
            "per_circle": {
                cid: {
                    "precision": _json_float(precision[j]),
                    "recall": _json_float(recall[j]),
                    "f1": _json_float(f1[j]),
                    "support": int(support[j]),
                }
                for j, cid in enumerate(circle_ids)
            },
        }
    return {"circle_ids": list(circle_ids), "subsets": subsets}
