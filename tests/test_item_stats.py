"""Users per item and the long-tail head: one definition each, hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.item_stats import head_mask, users_per_item, users_per_item_of_pairs


def test_head_mask_takes_items_making_the_share() -> None:
    pop = np.array([1, 50, 30, 10, 9], dtype=float)  # total 100
    assert head_mask(pop, 0.8).tolist() == [False, True, True, False, False]
    assert head_mask(pop, 0.81).tolist() == [False, True, True, True, False]
    assert head_mask(pop, 1.0).tolist() == [True] * 5
    assert not head_mask(np.zeros(3)).any()
    # ties at the boundary: the lower index is in the head
    assert head_mask(np.array([5.0, 5.0]), 0.5).tolist() == [True, False]
    with pytest.raises(ConfigError, match="head_share"):
        head_mask(pop, 0.0)


def test_users_per_item_counts_nonzero_cells_of_a_matrix_or_a_log() -> None:
    x = sp.csr_matrix(np.array([[1, 0, 2], [3, 0, 0], [0, 0, 5]], np.float32))
    x.data[x.data == 3] = 0  # an explicit zero is no interaction
    assert users_per_item(x).tolist() == [1, 0, 2]
    # a log repeats (user, item) pairs: each pair counts once
    users = np.array([0, 0, 1, 2, 2, 2])
    items = np.array([0, 0, 0, 2, 2, 1])
    assert users_per_item_of_pairs(users, items, 4).tolist() == [2, 1, 1, 0]
    assert users_per_item_of_pairs(np.array([], int), np.array([], int), 2).tolist() == [0, 0]
