"""Blending factor scores with sparse item-item scores: the shipped scorer's mix.

A low-rank factor model smooths away the "bought X, then Y" co-occurrence that dominates short
purchase sequences, where item-kNN is strong; item-kNN knows nothing of users' wider taste,
where ALS is strong. Each model's scores are scaled per user by their largest magnitude, so
the two live on one scale whatever the data set, and mixed by one weight tuned on validation.

Both parts scale: ALS is (n_users + n_items) x factors, item-kNN keeps k neighbours per item
(n_items x k non-zeros), so a million-item catalogue fits, unlike EASE's dense item x item.
Max scaling also suits serving from a candidate set: the best candidates carry the maximum.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError, InvalidInputError


def normalise_per_user(scores: np.ndarray) -> np.ndarray:
    """Divide each row by its largest absolute finite value (all-zero rows stay zero).

    Parameters
    ----------
    scores : (n_users, n_items) float array.

    Returns
    -------
    (n_users, n_items) float32 in [-1, 1].
    """
    scores = np.asarray(scores, dtype=np.float32)
    finite = np.where(np.isfinite(scores), np.abs(scores), 0.0)
    scale = finite.max(axis=1, keepdims=True) if scores.shape[1] else np.ones((len(scores), 1))
    return scores / np.where(scale > 0, scale, 1.0).astype(np.float32)


def blend_scores(factor_scores: np.ndarray, neighbour_scores: np.ndarray,
                 weight: float) -> np.ndarray:
    """``(1 - weight) * norm(factor) + weight * norm(neighbour)``, each normalised per user.

    Parameters
    ----------
    factor_scores, neighbour_scores : (n_users, n_items) float arrays, same shape.
    weight : share of the item-item scores, in [0, 1]; 0 is pure factors.

    Returns
    -------
    (n_users, n_items) float32.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"blend weight must be in [0, 1]; got {weight}")
    if factor_scores.shape != neighbour_scores.shape:
        raise InvalidInputError(
            f"score shapes differ: {factor_scores.shape} vs {neighbour_scores.shape}"
        )
    if weight == 0.0:
        return normalise_per_user(factor_scores)
    if weight == 1.0:
        return normalise_per_user(neighbour_scores)
    return ((1.0 - weight) * normalise_per_user(factor_scores)
            + weight * normalise_per_user(neighbour_scores))


def neighbour_scores(user_items: sp.csr_matrix, similarity: sp.csr_matrix) -> np.ndarray:
    """``user_items @ similarity`` as dense (n, n_items) float32.

    `similarity` may know fewer items than `user_items` (a refreshed catalogue appended new
    items after it was fitted): those items have no neighbours and score 0.
    """
    n = similarity.shape[0]
    x = sp.csr_matrix(user_items, dtype=np.float32)
    out = np.zeros(x.shape, dtype=np.float32)
    out[:, :n] = (x[:, :n] @ similarity).toarray()
    return out
