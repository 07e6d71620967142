"""How close an approximate index comes to exact search: recall@k against brute force.

The training pipeline records `measure_recall` in the bundle manifest for every approximate
index, so a bundle carries the evidence that its index finds what exact search would.
"""

from __future__ import annotations

import logging

import faiss
import numpy as np

from recsys.errors import InvalidInputError
from recsys.index.vector_index import VectorIndex

logger = logging.getLogger(__name__)

# Rows of the indexed vectors scored at once by exact_search (256 MB at d=64).
_EXACT_BLOCK = 1 << 20


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
        raise InvalidInputError(
            f"{approx.shape[0]} approximate rows but {exact.shape[0]} exact rows"
        )
    # (m, k, k) comparisons: k is small (10-100), so this stays cheap and fully vectorised.
    found = (approx[:, :, None] == exact[:, None, :]) & (exact[:, None, :] >= 0)
    hits = found.any(axis=1).sum(axis=1)
    wanted = (exact >= 0).sum(axis=1)
    keep = wanted > 0
    if not keep.any():
        return 1.0
    return float(np.mean(hits[keep] / wanted[keep]))


def exact_search(
    vectors: np.ndarray, queries: np.ndarray, k: int, *, metric: str = "ip"
) -> np.ndarray:
    """Brute-force top-k ids, (m, k) int64, reading `vectors` in blocks.

    No index copy of the vectors is made, so recall can be checked on a 10M-row user index
    (memory-mapped or not) with one block in memory at a time.
    """
    q = np.array(queries, dtype=np.float32, order="C", copy=True)
    if metric == "cosine":
        faiss.normalize_L2(q)
    best_s = np.full((len(q), 0), -np.inf, np.float32)
    best_i = np.full((len(q), 0), -1, np.int64)
    for lo in range(0, len(vectors), _EXACT_BLOCK):
        block = np.array(vectors[lo : lo + _EXACT_BLOCK], dtype=np.float32, order="C")
        if metric == "cosine":
            faiss.normalize_L2(block)
        s, i = faiss.knn(q, block, min(k, len(block)), metric=faiss.METRIC_INNER_PRODUCT)
        s = np.concatenate([best_s, s], axis=1)
        i = np.concatenate([best_i, np.where(i >= 0, i + lo, -1)], axis=1)
        # Stable: on equal scores the earlier (lower) id wins, as in a flat index.
        order = np.argsort(-s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(s, order, axis=1)
        best_i = np.take_along_axis(i, order, axis=1)
    return best_i


def measure_recall(
    index: VectorIndex, vectors: np.ndarray, queries: np.ndarray, k: int = 10
) -> float:
    """recall@k of `index` against exact search over the same `vectors` (1.0 for a flat index).

    Parameters
    ----------
    index : a built index over `vectors` (same rows, same order).
    vectors : (n, d) the indexed vectors.
    queries : (m, d) sample queries (e.g. a few thousand user or item vectors).
    """
    if len(vectors) != index.ntotal:
        raise InvalidInputError(f"index holds {index.ntotal} vectors but {len(vectors)} were given")
    if index.kind == "flat":
        return 1.0
    approx_ids, _ = index.search(queries, k)
    exact_ids = exact_search(vectors, queries, k, metric=index.config.metric)
    recall = recall_at_k(approx_ids, exact_ids, k)
    logger.info(
        "recall@%d of %s index vs exact: %.4f (%d queries)", k, index.kind, recall, len(queries)
    )
    return recall
