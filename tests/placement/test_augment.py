"""Training copies: posts split between features and labels, activity thinned."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.placement.augment import training_copy

RULE = {"feature_post_share": 0.5, "min_label_posts": 1, "min_share": 0.2, "engaged_weight": 0.0}


def _counts(n: int = 200) -> dict[str, sp.csr_matrix]:
    rng = np.random.default_rng(0)
    return {
        "posts_written": sp.csr_matrix(rng.poisson(3.0, size=(n, 4))),
        "posts_engaged": sp.csr_matrix(rng.poisson(0.5, size=(n, 4))),
        "item_events": sp.csr_matrix(rng.poisson(20.0, size=(n, 4))),
    }


def test_posts_are_split_into_disjoint_parts() -> None:
    counts = _counts()
    rows = np.arange(0, 200, 2)
    copy, labels, labelled = training_copy(
        counts, rows, np.random.default_rng(1), target_totals=None, **RULE
    )
    posts = counts["posts_written"][rows].toarray()
    feature_posts = copy["posts_written"]
    assert (feature_posts <= posts).all() and feature_posts.sum() > 0
    assert feature_posts.sum() < 0.5 * posts.sum()
    # Labels come from the posts kept out of the features only.
    rest = posts - feature_posts
    assert not (labels & (rest == 0)).any()
    assert labelled.sum() == (rest.sum(axis=1) >= 1).sum()
    np.testing.assert_array_equal(copy["item_events"], counts["item_events"][rows].toarray())


def test_thinning_reaches_the_target_activity() -> None:
    counts = _counts()
    rows = np.arange(200)
    copy, _, _ = training_copy(
        counts, rows, np.random.default_rng(2), target_totals=np.array([8.0]), **RULE
    )
    totals = copy["item_events"].sum(axis=1) + copy["posts_engaged"].sum(axis=1)
    assert abs(totals.mean() - 8.0) < 1.0
    assert (copy["item_events"] <= counts["item_events"].toarray()).all()
