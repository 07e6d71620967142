"""RP3beta item-item similarity (Paudel et al. 2017; among the strongest simple baselines on
MovieLens-1M in Dacrema et al. 2019), computed sparse so it scales to large catalogues.

A three-step random walk item -> user -> item on the bipartite interaction graph, with each
transition probability raised to ``alpha`` and each target item divided by its popularity
(distinct users) to the power ``beta``, so the walk does not always end on the head::

    W[i, j] = sum_u P_iu[i, u]^alpha * P_ui[u, j]^alpha / popularity[j]^beta,   W[i, i] = 0

P_ui is the user x item confidence matrix with rows L1-normalised, P_iu its transpose with rows
L1-normalised; each row of W keeps its k largest values. On binary data this is Dacrema et al.'s
RP3beta; with event confidences both transitions follow the weights (a weighted walk).

Memory: rows of W are computed in blocks whose product holds at most about `max_block_nnz`
values (an upper bound known before multiplying), then pruned to k per row; no block is ever
dense, so peak memory is that budget plus the k x n_items result, whatever the catalogue.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.item_stats import users_per_item

# A block peaks at about 70 bytes per value of its product (the product, masks, the sort keys
# of rows over k): 2^21 values ~ 150 MB. Bigger blocks were no faster on ML-1M-sized data.
MAX_BLOCK_NNZ = 1 << 21


def _l1_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """Rows divided by their sums (empty rows stay empty)."""
    sums = np.asarray(m.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(scale) @ m)


def _row_blocks(cost: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) row ranges whose summed `cost` stays within `budget` (a row
    costing more than the budget gets a block of its own)."""
    total = np.cumsum(cost, dtype=np.int64)
    blocks, start = [], 0
    while start < len(cost):
        before = total[start - 1] if start else 0
        end = max(int(np.searchsorted(total, before + budget, side="right")), start + 1)
        blocks.append((start, end))
        start = end
    return blocks


def _top_k_rows(block: sp.csr_matrix, first_row: int, k: int) -> tuple[np.ndarray, ...]:
    """Drop the diagonal and zeros of a block of W's rows, keep each row's k largest values
    (ties: lower column first). Returns (data, indices, counts per row), columns sorted."""
    block.sort_indices()
    n_rows = block.shape[0]
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(block.indptr))
    ok = (block.data > 0) & (block.indices != rows + first_row)
    data = block.data[ok].astype(np.float32, copy=False)
    indices, rows = block.indices[ok], rows[ok]
    counts = np.bincount(rows, minlength=n_rows)
    big = np.flatnonzero(counts[rows] > k)
    if len(big):
        # Only rows over k are sorted, by (row, value desc) packed in one int64: a positive
        # float32's bits order like its value. A stable sort keeps column order on ties.
        key = (rows[big] << 32) | (~data[big].view(np.uint32)).astype(np.int64)
        order = big[np.argsort(key, kind="stable")]
        over = np.where(counts > k, counts, 0)
        rank = np.arange(len(order)) - (np.cumsum(over) - over)[rows[order]]
        keep = counts[rows] <= k
        keep[order[rank < k]] = True
        data, indices, rows = data[keep], indices[keep], rows[keep]
        counts = np.bincount(rows, minlength=n_rows)
    return data, indices, counts


def rp3beta_similarity(
    user_items: sp.csr_matrix,
    *,
    k: int,
    alpha: float,
    beta: float,
    max_block_nnz: int = MAX_BLOCK_NNZ,
) -> sp.csr_matrix:
    """The RP3beta neighbours of every item.

    Parameters
    ----------
    user_items : (n_users, n_items) non-negative confidences, CSR.
    k : neighbours kept per item (the item itself is never one).
    alpha : power of the transition probabilities (> 0; 1 is a plain random walk).
    beta : popularity penalty (>= 0; 0 is P3alpha).
    max_block_nnz : memory budget of one block of rows, in values of the unpruned product.

    Returns
    -------
    (n_items, n_items) float32 CSR, at most k values per row, sorted columns; row i holds
    item i's neighbours, so ``user_items @ W`` scores items.
    """
    # A copy: eliminate_zeros works in place, and a dtype cast may share the caller's indices.
    x = sp.csr_matrix(user_items, dtype=np.float64, copy=True)
    x.sum_duplicates()
    x.eliminate_zeros()
    if x.nnz and x.data.min() < 0:
        raise InvalidInputError("RP3beta needs non-negative confidences; got a negative value")
    n_items = x.shape[1]
    popularity = users_per_item(x).astype(np.float64)
    penalty = np.divide(1.0, popularity**beta, out=np.zeros(n_items), where=popularity > 0)
    p_ui = _l1_rows(x).power(alpha)
    p_ui = sp.csr_matrix(p_ui @ sp.diags(penalty), dtype=np.float32)
    p_iu = sp.csr_matrix(_l1_rows(x.T.tocsr()).power(alpha), dtype=np.float32)
    # Row i of the product has at most sum over its users of their item counts values.
    user_nnz = np.diff(x.indptr)
    cost = np.minimum(np.bincount(np.repeat(np.arange(n_items), np.diff(p_iu.indptr)),
                                  weights=user_nnz[p_iu.indices], minlength=n_items), n_items)
    parts_data, parts_indices, parts_counts = [], [], []
    for start, end in _row_blocks(cost.astype(np.int64), max_block_nnz):
        data, indices, counts = _top_k_rows(sp.csr_matrix(p_iu[start:end] @ p_ui), start, k)
        parts_data.append(data.astype(np.float32))
        parts_indices.append(indices.astype(np.int32))
        parts_counts.append(counts)
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(parts_counts))]).astype(np.int64)
    return sp.csr_matrix(
        (np.concatenate(parts_data), np.concatenate(parts_indices), indptr),
        shape=(n_items, n_items),
    )
