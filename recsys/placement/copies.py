"""The placer's design matrix: augmented copies of labelled users as (user, circle) pairs.

Each labelled user enters `n_copies` times (`augment.training_copy`: posts split between
features and labels, activity thinned toward the population's after the first copy); every
copy contributes one row per circle, its pair features followed by the circle's one-hot (the
per-circle bias). Fitting, calibration and the switch's validation all read this one design.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from recsys.placement.augment import training_copy
from recsys.placement.labels import InsufficientLabelsError
from recsys.placement.plain_rule import PLAIN_RULE_KIND

#: counts of one copy (kind -> (m, n_circles) dense) -> (m, n_circles, d) pair features.
FeatureFn = Callable[[Mapping[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class CopyDesign:
    """Rows of every copy.

    Attributes
    ----------
    X : (m * n_circles, d + n_circles) float64 pair features with the circle one-hot.
    y : (m * n_circles,) bool labels.
    items : (m, n_circles) item-event counts of each copy (what the plain rule reads).
    copy : (m,) copy number (0 = not thinned).
    users : (m,) user index each copy was made from.
    """

    X: np.ndarray
    y: np.ndarray
    items: np.ndarray
    copy: np.ndarray
    users: np.ndarray


def copy_design(
    csr: Mapping[str, sp.csr_matrix],
    rows: np.ndarray,
    rng: np.random.Generator,
    features: FeatureFn,
    *,
    n_copies: int,
    n_circles: int,
    target_totals: np.ndarray | None,
    feature_post_share: float,
    min_label_posts: int,
    min_share: float,
    engaged_weight: float,
) -> CopyDesign:
    """`n_copies` copies of the users `rows`; copies without enough label posts are dropped.

    Raises InsufficientLabelsError when the labels are all of one class.
    """
    xs, ys, items, copies, users = [], [], [], [], []
    eye = np.eye(n_circles)
    for copy in tqdm(range(n_copies), desc="placement: copies", leave=False):
        counts, labels, labelled = training_copy(
            csr, rows, rng, target_totals=target_totals if copy else None,
            feature_post_share=feature_post_share, min_label_posts=min_label_posts,
            min_share=min_share, engaged_weight=engaged_weight,
        )  # fmt: skip
        rule_counts = counts.get(PLAIN_RULE_KIND, np.zeros(labels.shape))
        items.append(np.asarray(rule_counts)[labelled])
        F, labels = features(counts)[labelled], labels[labelled]
        copies.append(np.full(len(F), copy))
        users.append(np.asarray(rows)[labelled])
        onehot = np.broadcast_to(eye, (len(F), *eye.shape))
        xs.append(np.concatenate([F, onehot], axis=2).reshape(-1, F.shape[2] + n_circles))
        ys.append(labels.ravel())
    X, y = np.concatenate(xs, dtype=np.float64), np.concatenate(ys)  # one copy, not two
    del xs
    if not y.any() or y.all():
        raise InsufficientLabelsError(
            "labelled users give only one label class; cannot fit circle placement"
        )
    return CopyDesign(
        X=X, y=y, items=np.concatenate(items).astype(np.float64), copy=np.concatenate(copies),
        users=np.concatenate(users),
    )  # fmt: skip
