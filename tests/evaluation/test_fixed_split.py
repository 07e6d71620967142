"""Reading `user item item ...` split files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys.errors import UnusableFileError
from recsys.evaluation.fixed_split import read_fixed_split, read_user_item_lines


def test_reads_pairs_and_reindexes_items_densely(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("0 10 30\n1 30\n2 50 10 10\n")
    (tmp_path / "test.txt").write_text("0 50\n1 70\n")
    split = read_fixed_split(tmp_path / "train.txt", tmp_path / "test.txt")
    np.testing.assert_array_equal(split.item_ids, [10, 30, 50, 70])
    assert split.train.shape == split.test.shape == (3, 4)
    np.testing.assert_array_equal(
        split.train.toarray(), [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0]]
    )  # the duplicated pair (2, 10) stays 1
    np.testing.assert_array_equal(split.test.toarray()[:, 2:], [[1, 0], [0, 1], [0, 0]])


def test_user_without_items_is_kept_as_empty(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("0 1 2\n1\n")
    frame = read_user_item_lines(tmp_path / "a.txt")
    assert frame["user"].tolist() == [0, 0]


def test_bad_token_names_file_row_and_field(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("0 1 2\n1 x\n")
    with pytest.raises(UnusableFileError, match=r"a.txt, row 2, field 'item'.*'x'"):
        read_user_item_lines(tmp_path / "a.txt")
    with pytest.raises(UnusableFileError, match="not found"):
        read_user_item_lines(tmp_path / "missing.txt")
