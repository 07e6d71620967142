"""History-frequency baseline on hand-made counts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import NotFittedError
from recsys.placement.baseline import HistoryFrequencyBaseline, history_counts


def test_history_counts_sums_kinds() -> None:
    a = sp.csr_matrix(np.array([[1, 0], [0, 2]]))
    b = sp.csr_matrix(np.array([[1, 1], [0, 0]]))
    np.testing.assert_array_equal(history_counts({"a": a, "b": b}).toarray(), [[2, 1], [0, 2]])
    only_b = history_counts({"a": a, "b": b}, kinds=["b"])
    np.testing.assert_array_equal(only_b.toarray(), b.toarray())


def test_shares_and_tuned_thresholds() -> None:
    history = sp.csr_matrix(np.array([[3, 1], [1, 1], [0, 4], [0, 0]]))
    labels = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], bool)
    labelled = np.array([True, True, True, False])
    model = HistoryFrequencyBaseline().fit(history, labels, labelled)
    proba = model.predict_proba(history)
    np.testing.assert_allclose(proba, [[0.75, 0.25], [0.5, 0.5], [0, 1], [0, 0]])
    members = model.predict_members(history)
    np.testing.assert_array_equal(members[:3], labels[:3])
    # No history: min_members still gives the first circle.
    np.testing.assert_array_equal(members[3], [True, False])


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        HistoryFrequencyBaseline().predict_members(np.ones((1, 2)))


def test_without_labelled_users_the_label_share_is_the_threshold() -> None:
    history = sp.csr_matrix(np.array([[3, 1], [1, 5], [0, 0]]))
    none = np.zeros(3, bool)
    model = HistoryFrequencyBaseline(min_share=0.2).fit(history, np.zeros((3, 2), bool), none)
    np.testing.assert_array_equal(model.thresholds_, [0.2, 0.2])
    np.testing.assert_array_equal(
        model.predict_members(history), [[True, True], [False, True], [True, False]]
    )
    with pytest.raises(ValueError, match="min_share"):
        HistoryFrequencyBaseline(min_share=0).fit(history, np.zeros((3, 2), bool), none)
