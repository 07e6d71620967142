"""Per-item counts every part of the system reads: users per item and the long-tail head.

Defined once so that the head the candidate lists serve is the head evaluation measures, and the
"under-observed" items the shipped scorer content-maps are counted the way refresh counts them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError


def users_per_item(user_items: sp.spmatrix | sp.sparray) -> np.ndarray:
    """(n_items,) int64: how many users have a nonzero cell for each item.

    Parameters
    ----------
    user_items : (n_users, n_items) sparse interactions (confidence or 0/1).
    """
    x = sp.csr_matrix(user_items)
    return np.bincount(x.indices[x.data != 0], minlength=x.shape[1]).astype(np.int64)


def users_per_item_of_pairs(user_idx: np.ndarray, item_idx: np.ndarray, n_items: int) -> np.ndarray:
    """`users_per_item` of an event log: distinct users per item over (user, item) events."""
    user_idx = np.asarray(user_idx, dtype=np.int64)
    item_idx = np.asarray(item_idx, dtype=np.int64)
    n_users = int(user_idx.max()) + 1 if len(user_idx) else 0
    x = sp.csr_matrix(
        (np.ones(len(user_idx), np.float32), (user_idx, item_idx)), shape=(n_users, n_items)
    )
    return users_per_item(x)


def head_mask(popularity: np.ndarray, head_share: float = 0.8) -> np.ndarray:
    """(n_items,) bool: the most popular items that together make `head_share` of the total.

    The long tail is the rest. Ties at the boundary are resolved by item index, so the split is
    deterministic; an all-zero popularity has no head.

    Parameters
    ----------
    popularity : (n_items,) non-negative counts or weights (interactions per item).
    head_share : in (0, 1].
    """
    if not 0.0 < head_share <= 1.0:
        raise ConfigError(f"head_share must be in (0, 1]; got {head_share}")
    popularity = np.asarray(popularity, dtype=np.float64)
    mask = np.zeros(len(popularity), dtype=bool)
    total = popularity.sum()
    if total <= 0:
        return mask
    order = np.lexsort((np.arange(len(popularity)), -popularity))
    cumulative = np.cumsum(popularity[order])
    n_head = int(np.searchsorted(cumulative, head_share * total, side="left")) + 1
    mask[order[:n_head]] = True
    return mask
