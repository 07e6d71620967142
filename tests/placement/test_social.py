"""Friendship graph and friend features: by hand, from a data directory, batches equal whole."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from recsys.contract import table_spec
from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.placement.features import smoothed_shares
from recsys.placement.social import (
    PER_FRIENDS,
    FriendHistory,
    friend_kinds,
    friend_matrix,
    load_friends,
)

# Users 0-1 and 0-2 are friends; 3 has none. Counts over 2 circles.
GRAPH = friend_matrix(np.array([0, 2]), np.array([1, 0]), 4)
COUNTS = {
    "purchases": sp.csr_matrix(np.array([[9, 9], [2, 0], [1, 1], [0, 0]], np.float32)),
    "posts_written": sp.csr_matrix(np.array([[0, 0], [0, 0], [0, 2], [5, 0]], np.float32)),
    "posts_engaged": sp.csr_matrix(np.array([[0, 0], [0, 0], [7, 0], [0, 0]], np.float32)),
}
KINDS = sorted(COUNTS)


def test_friend_matrix_is_symmetric_binary_without_self_loops() -> None:
    a = friend_matrix(np.array([0, 1, 2, 2]), np.array([1, 0, 2, 0]), 3)
    np.testing.assert_array_equal(a.toarray(), [[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    assert a.dtype == np.float32
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        friend_matrix(np.array([0]), np.array([3]), 3)
    with pytest.raises(ValueError, match="length"):
        friend_matrix(np.array([0, 1]), np.array([1]), 3)


def test_load_friends_keeps_known_friend_edges(tmp_path) -> None:
    data = DataDir(tmp_path / "data")
    assert load_friends(data, IdMap(["a", "b"])) is None
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [("a", "b", "friend"), ("b", "a", "friend"), ("a", "c", "shared_to"),
            ("c", "b", "blocked"), ("a", "ghost", "friend"), ("b", "c", "friend")]  # fmt: skip
    spec = table_spec("social_edges")
    columns = {"src": [r[0] for r in rows], "dst": [r[1] for r in rows],
               "kind": [r[2] for r in rows], "ts": [t0] * len(rows)}  # fmt: skip
    data.write_table(
        "social_edges",
        pa.table({f.name: pa.array(columns[f.name], f.type) for f in spec.schema}, spec.schema),
    )
    friends = load_friends(data, IdMap(["a", "b", "c"]))
    assert friends is not None
    np.testing.assert_array_equal(friends.toarray(), [[0, 1, 0], [1, 0, 1], [0, 1, 0]])


def test_friend_kinds_leave_out_engagement_with_posts() -> None:
    assert friend_kinds(KINDS) == ["posts_written", "purchases"]


def test_friend_block_by_hand() -> None:
    block = FriendHistory(GRAPH, COUNTS, KINDS, prior_strength=2.0).features(slice(None))
    assert block.shape == (4, 2, PER_FRIENDS) and block.dtype == np.float32
    # User 0's friends 1 and 2 pooled (posts_engaged left out): [2 + 1, 0 + 1 + 2] = [3, 3].
    np.testing.assert_allclose(block[0, :, 0], [0.5, 0.5])
    np.testing.assert_allclose(block[0, :, 1], np.log1p([3, 3]))
    np.testing.assert_allclose(block[0, :, 2], np.log1p([2, 2]))
    own = smoothed_shares(np.array([[2, 0], [1, 3]]), 2.0)
    np.testing.assert_allclose(block[0, :, 3], own.mean(axis=0), rtol=1e-6)
    # User 1's only friend is 0: 9 and 9.
    np.testing.assert_allclose(block[1, :, 1], np.log1p([9, 9]))
    # User 3 has no friends: pooled share is the uniform prior, the rest zero.
    np.testing.assert_allclose(block[3, :, 0], [0.5, 0.5])
    assert not block[3, :, 1:].any()


def test_friend_block_batches_equal_whole() -> None:
    history = FriendHistory(GRAPH, COUNTS, KINDS, prior_strength=3.0)
    whole = history.features(slice(None))
    parts = [history.features(np.array([0, 1])), history.features(slice(2, 4))]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_friend_history_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        FriendHistory(sp.eye(3, format="csr"), COUNTS, KINDS, 3.0)
    with pytest.raises(ValueError, match="friends' history"):
        FriendHistory(GRAPH, COUNTS, ["posts_engaged"], 3.0)


def test_friend_history_reads_a_binary_graph_in_place_and_copies_any_other() -> None:
    """The bundle's 0/1 float32 graph is used as is (80M entries at 10M users); a weighted
    or integer graph gives the same block through a 0/1 copy, and stays as it was."""
    binary = sp.csr_matrix(GRAPH, dtype=np.float32)
    weighted = binary * 3.0
    as_int = sp.csr_matrix(GRAPH, dtype=np.int64)
    same = FriendHistory(binary, COUNTS, KINDS, prior_strength=2.0)
    assert same.friends is binary
    want = same.features(slice(None))
    for other in (weighted, as_int):
        history = FriendHistory(other, COUNTS, KINDS, prior_strength=2.0)
        assert history.friends is not other
        np.testing.assert_allclose(history.features(slice(None)), want)
    assert weighted.data.max() == 3.0


def test_smoothed_shares_leave_dense_counts_untouched() -> None:
    counts = np.array([[2.0, 0.0], [1.0, 1.0]], np.float32)
    shares = smoothed_shares(counts, 2.0)
    np.testing.assert_allclose(shares, smoothed_shares(sp.csr_matrix(counts), 2.0))
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-6)
    assert counts[0, 0] == 2.0
