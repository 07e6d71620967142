import numpy as np
import pytest
import scipy.sparse as sp

from recsys.social.contact import allowed_targets, pair_lookup, suggestion_counts

FRIENDS = sp.csr_matrix(np.array([[0, 1, 1, 1, 1, 0], [1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0],
                                  [1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]))
# User 2 blocked user 0; user 0 blocked user 3.
BLOCKED = sp.csr_matrix(([1.0, 1.0], ([2, 0], [0, 3])), shape=(6, 6))
OPT_OUT = np.array([False, False, False, False, True, False])


def allowed(candidates, **kwargs):
    user = np.zeros(len(candidates), np.int64)
    return allowed_targets(user, np.asarray(candidates), friends=FRIENDS, blocked=BLOCKED,
                           opt_out=OPT_OUT, **kwargs)


def test_only_friends_who_did_not_opt_out_or_block_either_way() -> None:
    # 0 = self, 1 ok, 2 blocked the user, 3 blocked by the user, 4 opted out, 5 not a friend.
    np.testing.assert_array_equal(allowed([0, 1, 2, 3, 4, 5]), [0, 1, 0, 0, 0, 0])


def test_bought_recently_and_the_frequency_cap() -> None:
    np.testing.assert_array_equal(allowed([1, 1], bought_recently=np.array([True, False])), [0, 1])
    np.testing.assert_array_equal(
        allowed([1, 1], suggested=np.array([3, 2]), max_suggestions=3), [0, 1]
    )
    with pytest.raises(ValueError, match="suggested"):
        allowed([1], max_suggestions=3)


def test_suggestion_counts_from_a_mapping_or_a_matrix() -> None:
    user, cand = np.array([0, 0, 1]), np.array([1, 2, 0])
    np.testing.assert_array_equal(suggestion_counts({(0, 2): 4}, user, cand), [0, 4, 0])
    matrix = sp.csr_matrix(([4.0], ([0], [2])), shape=(6, 6))
    np.testing.assert_array_equal(suggestion_counts(matrix, user, cand), [0, 4, 0])
    np.testing.assert_array_equal(suggestion_counts(None, user, cand), [0, 0, 0])


def test_pair_lookup_matches_dense() -> None:
    rng = np.random.default_rng(0)
    m = sp.random(30, 20, density=0.3, random_state=1, format="csr")
    r, c = rng.integers(0, 30, 500), rng.integers(0, 20, 500)
    np.testing.assert_allclose(pair_lookup(m, r, c), m.toarray()[r, c])
    np.testing.assert_allclose(pair_lookup(m.tocoo(), r, c), m.toarray()[r, c])
