"""UGC labels: who is labelled and which circles, on hand-made counts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.placement.labels import ugc_labels

WRITTEN = sp.csr_matrix(np.array([[3, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]))
ENGAGED = sp.csr_matrix(np.array([[0, 0, 4, 0], [5, 0, 0, 0], [9, 0, 0, 0], [0, 0, 0, 0]]))


def test_labelled_users_need_min_ugc_posts() -> None:
    _, labelled = ugc_labels(WRITTEN, ENGAGED, min_ugc=3)
    np.testing.assert_array_equal(labelled, [True, False, False, True])


def test_circles_by_share_of_evidence() -> None:
    labels, _ = ugc_labels(WRITTEN, ENGAGED, min_ugc=3, min_share=0.2, engaged_weight=0.25)
    # User 0: evidence [3, 1, 1, 0] / 5 -> shares .6 .2 .2 0.
    np.testing.assert_array_equal(labels[0], [True, True, True, False])
    # User 3 spreads evenly (.25 each): every circle passes.
    np.testing.assert_array_equal(labels[3], [True, True, True, True])
    assert not labels[[1, 2]].any()


def test_top_circle_always_labelled() -> None:
    labels, _ = ugc_labels(WRITTEN, ENGAGED, min_ugc=3, min_share=0.9, engaged_weight=0.0)
    # Nothing reaches .9; user 0 keeps its top circle, user 3 its first (tie -> lowest index).
    np.testing.assert_array_equal(labels[0], [True, False, False, False])
    np.testing.assert_array_equal(labels[3], [True, False, False, False])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"min_ugc": 0}, "min_ugc"), ({"min_share": 0}, "min_share"),
     ({"engaged_weight": -1}, "engaged_weight")],
)  # fmt: skip
def test_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ugc_labels(WRITTEN, ENGAGED, **kwargs)


def test_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="same"):
        ugc_labels(WRITTEN, ENGAGED[:, :3])
