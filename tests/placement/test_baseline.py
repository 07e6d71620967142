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


def test_without_labelled_users_the_threshold_is_chosen_on_held_out_history() -> None:
    rng = np.random.default_rng(0)
    # Each user has one main circle (70% of events) and noise spread over the other nine.
    main = rng.integers(0, 10, 400)
    counts = rng.multinomial(40, np.full(10, 0.03), size=400).astype(float)
    counts[np.arange(400), main] += 60
    history = sp.csr_matrix(counts)
    none = np.zeros(400, bool)
    model = HistoryFrequencyBaseline(random_state=0).fit(history, np.zeros((400, 10), bool), none)
    chosen = model.thresholds_[0]
    assert np.all(model.thresholds_ == chosen)
    assert chosen == max(model.validation_f1_, key=model.validation_f1_.get)
    # Noise circles hold ~1-3% each, the main one ~60%: the best cut lies between.
    assert 0.05 <= chosen <= 0.5
    assert model.predict_members(history)[np.arange(400), main].all()


def test_without_enough_history_the_plain_rule_threshold_is_used() -> None:
    history = sp.csr_matrix(np.array([[1, 0], [0, 1], [0, 0]]))
    model = HistoryFrequencyBaseline().fit(history, np.zeros((3, 2), bool), np.zeros(3, bool))
    np.testing.assert_array_equal(model.thresholds_, [0.15, 0.15])
