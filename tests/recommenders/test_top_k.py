from __future__ import annotations

import numpy as np

from recsys.recommenders.base import top_k


def test_top_k_orders_best_first_and_breaks_ties_by_index() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.9], [1.0, -np.inf, -np.inf, -np.inf]], dtype=np.float32)
    ids, vals = top_k(scores, 3)
    assert ids.tolist() == [[1, 3, 2], [0, -1, -1]]
    assert vals[0].tolist() == [np.float32(0.9), np.float32(0.9), np.float32(0.5)]


def test_top_k_clips_k_to_catalogue() -> None:
    ids, _ = top_k(np.zeros((2, 2), dtype=np.float32), 5)
    assert ids.shape == (2, 2)
