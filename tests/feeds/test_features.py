import numpy as np
import scipy.sparse as sp

from recsys.feeds.features import latest_items


def test_latest_items_latest_first_ties_by_higher_item_whatever_the_block() -> None:
    first = sp.csr_matrix(np.array([[0, 3.0, 5.0, 3.0], [0, 0, 0, 0], [1.0, 0, 0, 2.0]]))
    want = [[2, 3, 1], [-1, -1, -1], [3, 0, -1]]
    for block in (1, 2, 3, 1 << 20):
        np.testing.assert_array_equal(latest_items(first, 3, block_users=block), want)
    rng = np.random.default_rng(0)
    many = sp.random(500, 80, density=0.1, random_state=1, format="csr")
    many.data = rng.integers(0, 5, many.nnz).astype(np.float64)  # many ties
    np.testing.assert_array_equal(latest_items(many, 4, block_users=7),
                                  latest_items(many, 4))  # fmt: skip
