from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.adapters import ADAPTERS, adapt
from recsys.adapters.common import check_columns, cluster_circles, reconcile
from recsys.errors import ConfigError, ContractError, UnusableFileError


def test_cluster_circles_recovers_blocks_and_isolates_unused_categories() -> None:
    rng = np.random.default_rng(0)
    # 3 blocks of 10 categories, each block co-occurring on its own 40 contexts
    dense = np.zeros((31, 120))
    for b in range(3):
        dense[b * 10:(b + 1) * 10, b * 40:(b + 1) * 40] = rng.integers(0, 3, (10, 40))
    names = np.asarray([f"cat{i}" for i in range(31)])  # cat30 never occurs
    circles, circle_of = cluster_circles(sp.csr_matrix(dense), names, n_circles=3, seed=1)
    assert len(circles) == 4 and circles["circle_id"].iloc[-1] == "other"
    assert circle_of["cat30"] == "other"
    for b in range(3):
        assert circle_of[names[b * 10:(b + 1) * 10]].nunique() == 1
    assert circle_of[names[:30]].nunique() == 3
    again, _ = cluster_circles(sp.csr_matrix(dense), names, n_circles=3, seed=1)
    pd.testing.assert_frame_equal(circles, again)


def test_reconcile_refuses_silent_loss() -> None:
    reconcile(10, 7, {"outside": 3}, "x")
    with pytest.raises(ContractError, match="10 raw rows"):
        reconcile(10, 7, {"outside": 2}, "x")


def test_check_columns_names_row_and_field(tmp_path) -> None:
    frame = pd.DataFrame({"user": ["1", "2", "x3"]})
    with pytest.raises(UnusableFileError, match=r"row 3, field 'user'"):
        check_columns(frame, tmp_path / "u.data", ["user"])


def test_unknown_format_and_bad_limit(tmp_path) -> None:
    with pytest.raises(ConfigError, match="movielens-100k"):
        adapt("netflix", tmp_path, tmp_path / "out")
    with pytest.raises(ConfigError, match="limit_users"):
        adapt("movielens-100k", tmp_path, tmp_path / "out", limit_users=0)
    assert set(ADAPTERS) == {
        "movielens-100k", "movielens-1m", "lastfm-hetrec", "amazon-beauty", "taobao",
        "brightkite-gb",
    }


def test_missing_file_is_named(tmp_path) -> None:
    with pytest.raises(UnusableFileError, match="u.data"):
        adapt("movielens-100k", tmp_path, tmp_path / "out")


def test_bad_row_in_raw_file_is_named(tmp_path) -> None:
    (tmp_path / "u.data").write_text("1\t2\t3\t881250949\n1\toops\t3\t881250949\n")
    with pytest.raises(UnusableFileError, match=r"u.data, row 2, field 'item'"):
        adapt("movielens-100k", tmp_path, tmp_path / "out")
