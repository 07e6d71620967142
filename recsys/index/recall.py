"""How close an approximate index comes to exact search: recall@k against brute force.

The training pipeline records `measure_recall` in the bundle manifest for every approximate
index, so a bundle carries the evidence that its index finds what exact search would.
"""

from __future__ import annotations

import logging

import numpy as np

from recsys.index.vector_index import VectorIndex

logger = logging.getLogger(__name__)


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray, k: int) -> float:
    """Mean share of each row's exact top-k that the approximate top-k also found.

    Parameters
    ----------
    approx_ids, exact_ids : (m, >=k) int ids, -1 padded; only the first k columns count.
    k : cut-off.

    Returns
    -------
    float in [0, 1]; rows whose exact top-k is empty are skipped (1.0 when all are).
    """
    approx = np.asarray(approx_ids)[:, :k]
    exact = np.asarray(exact_ids)[:, :k]
    if approx.shape[0] != exact.shape[0]:
        raise ValueError(f"{approx.shape[0]} approximate rows but {exact.shape[0]} exact rows")
    # (m, k, k) comparisons: k is small (10-100), so this stays cheap and fully vectorised.
    found = (approx[:, :, None] == exact[:, None, :]) & (exact[:, None, :] >= 0)
    hits = found.any(axis=1).sum(axis=1)
    wanted = (exact >= 0).sum(axis=1)
    keep = wanted > 0
    if not keep.any():
        return 1.0
    return float(np.mean(hits[keep] / wanted[keep]))


def measure_recall(
    index: VectorIndex, vectors: np.ndarray, queries: np.ndarray, k: int = 10
) -> float:
    """recall@k of `index` against an exact flat index over the same `vectors`.

    Parameters
    ----------
    index : a built index over `vectors` (same rows, same order).
    vectors : (n, d) the indexed vectors.
    queries : (m, d) sample queries (e.g. a few thousand user or item vectors).
    """
    exact = VectorIndex(index.config.model_copy(update={"kind": "flat"})).build(vectors)
    if exact.ntotal != index.ntotal:
        raise ValueError(f"index holds {index.ntotal} vectors but {exact.ntotal} were given")
    approx_ids, _ = index.search(queries, k)
    exact_ids, _ = exact.search(queries, k)
    recall = recall_at_k(approx_ids, exact_ids, k)
    logger.info(
        "recall@%d of %s index vs exact: %.4f (%d queries)", k, index.kind_, recall, len(queries)
    )
    return recall
