"""Per-user input features of circle placement, built from behaviour and ALS user factors.

For each engagement kind the features are the user's smoothed circle shares (*where* the user
is active) and log1p of the row total (*how much*). Shares are shrunk toward the uniform mix
by `prior_strength` pseudo-events, (counts + s / n_circles) / (total + s): a share from two
events is mostly noise and should not look like a share from two hundred; on the synthetic
check this beat raw shares by ~0.015 macro F1. ALS user factors follow, carrying taste the
circle counts miss. Everything is row-wise with no fitted state, so callers place 10M users
batch by batch with `placement_feature_batches` and get the same features as in training.

The kinds the labels are built from (`labels.LABEL_SOURCE_KINDS`) are left out by default:
as features they let the model copy the label noise, and users without UGC would show the
model an input it never saw with labels (macro F1 for them fell from 0.70 to 0.49).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from recsys.placement.labels import LABEL_SOURCE_KINDS


def row_shares(counts: sp.spmatrix | np.ndarray) -> np.ndarray:
    """Row-normalised (n_rows, n_cols) float32 shares; all-zero rows stay zero."""
    dense = counts.toarray() if sp.issparse(counts) else np.asarray(counts)
    dense = dense.astype(np.float32, copy=True)
    totals = dense.sum(axis=1, keepdims=True)
    np.divide(dense, totals, out=dense, where=totals > 0)
    return dense


def smoothed_shares(counts: sp.spmatrix | np.ndarray, prior_strength: float) -> np.ndarray:
    """(n_rows, n_cols) float32 shares shrunk toward uniform by `prior_strength` pseudo-counts."""
    dense = counts.toarray() if sp.issparse(counts) else np.asarray(counts)
    dense = dense.astype(np.float32, copy=True)
    totals = dense.sum(axis=1, keepdims=True)
    dense += np.float32(prior_strength / dense.shape[1])
    dense /= totals + np.float32(prior_strength)
    return dense


def default_kinds(engagement: Mapping[str, sp.spmatrix]) -> list[str]:
    """All engagement kinds but the label sources, sorted so the column layout is stable."""
    return sorted(k for k in engagement if k not in LABEL_SOURCE_KINDS)


def placement_features(
    user_factors: np.ndarray | None,
    engagement: Mapping[str, sp.spmatrix],
    *,
    kinds: Sequence[str] | None = None,
    prior_strength: float = 3.0,
) -> np.ndarray:
    """Feature matrix of circle placement.

    Parameters
    ----------
    user_factors : (n_users, f) ALS user factors, or None to use behaviour only.
    engagement : kind -> (n_users, n_circles) sparse counts (e.g. "posts_engaged", "purchases").
    kinds : engagement kinds to use, in this order; default `default_kinds(engagement)`.
    prior_strength : pseudo-events of the uniform prior in the shares; > 0.

    Returns
    -------
    (n_users, len(kinds) * (n_circles + 1) + f) float32: per kind, smoothed circle shares then
    log1p of the total; then the factors.
    """
    if prior_strength <= 0:
        raise ValueError(f"prior_strength must be > 0; got {prior_strength}")
    kinds = default_kinds(engagement) if kinds is None else list(kinds)
    missing = [k for k in kinds if k not in engagement]
    if missing:
        raise KeyError(f"engagement lacks kinds {missing}; it has {sorted(engagement)}")
    if not kinds and user_factors is None:
        raise ValueError("placement features need user factors or at least one engagement kind")
    shapes = {engagement[k].shape for k in kinds}
    if len(shapes) > 1:
        raise ValueError(f"engagement matrices differ in shape: {sorted(shapes)}")
    n_users = next(iter(shapes))[0] if shapes else len(user_factors)  # type: ignore[arg-type]
    blocks: list[np.ndarray] = []
    for kind in kinds:
        counts = sp.csr_matrix(engagement[kind])
        blocks.append(smoothed_shares(counts, prior_strength))
        total = np.asarray(counts.sum(axis=1), dtype=np.float64).reshape(-1, 1)
        blocks.append(np.log1p(np.maximum(total, 0)).astype(np.float32))
    if user_factors is not None:
        if len(user_factors) != n_users:
            raise ValueError(
                f"user_factors has {len(user_factors)} rows; engagement has {n_users} users"
            )
        blocks.append(np.asarray(user_factors, dtype=np.float32))
    return np.hstack(blocks)


def placement_feature_batches(
    user_factors: np.ndarray | None,
    engagement: Mapping[str, sp.spmatrix],
    *,
    kinds: Sequence[str] | None = None,
    prior_strength: float = 3.0,
    batch_size: int = 1 << 18,
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield (rows, features of those rows) so all users are placed in bounded memory."""
    kinds = default_kinds(engagement) if kinds is None else list(kinds)
    csr = {k: sp.csr_matrix(engagement[k]) for k in kinds}
    n_users = next(iter(csr.values())).shape[0] if csr else len(user_factors)  # type: ignore[arg-type]
    for start in range(0, n_users, batch_size):
        rows = slice(start, min(start + batch_size, n_users))
        factors = None if user_factors is None else user_factors[rows]
        batch = {k: m[rows] for k, m in csr.items()}
        yield rows, placement_features(
            factors, batch, kinds=kinds, prior_strength=prior_strength
        )
