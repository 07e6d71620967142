"""Published fixed splits stored as `user item item ...` lines (one line per user).

Papers ship such splits (e.g. ML-1M train.txt / test.txt) so results can be compared on the
exact same held-out pairs. Items are re-indexed densely over train and test together, so the
catalogue has no empty columns that would inflate coverage denominators.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.errors import UnusableFileError
from recsys.features.interactions import to_csr


@dataclass(frozen=True)
class FixedSplit:
    """A train / test pair of (n_users, n_items) binary CSR matrices."""

    train: sp.csr_matrix
    test: sp.csr_matrix
    #: (n_items,) original item index of each dense column.
    item_ids: np.ndarray


def read_user_item_lines(path: str | Path) -> pd.DataFrame:
    """`user item item ...` lines -> one (user, item) row per pair, int64 columns."""
    path = Path(path)
    try:
        lines = pd.read_csv(path, header=None, names=["line"], dtype=str, sep="\t")["line"]
    except FileNotFoundError:
        raise UnusableFileError(str(path), "file not found") from None
    tokens = lines.str.split()
    frame = pd.DataFrame({"user": tokens.str[0], "item": tokens.str[1:]}).explode("item")
    frame = frame.dropna(subset=["item"])
    for column in ("user", "item"):
        numeric = pd.to_numeric(frame[column], errors="coerce")
        bad = numeric.isna() | (numeric < 0)
        if bad.any():
            row = int(frame.index[bad.to_numpy()][0])
            raise UnusableFileError(
                str(path), f"not a non-negative integer: {frame[column][bad].iloc[0]!r}",
                row=row + 1, field=column,
            )
        frame[column] = numeric.astype(np.int64)
    return frame.reset_index(drop=True)


def read_fixed_split(train_path: str | Path, test_path: str | Path) -> FixedSplit:
    """Both files as binary CSR matrices over the same users and dense item columns."""
    train, test = read_user_item_lines(train_path), read_user_item_lines(test_path)
    item_ids, codes = np.unique(
        np.concatenate([train["item"].to_numpy(), test["item"].to_numpy()]), return_inverse=True
    )
    n_users = int(max(train["user"].max(), test["user"].max())) + 1
    matrices = []
    for frame, item_idx in ((train, codes[: len(train)]), (test, codes[len(train) :])):
        log = pd.DataFrame(
            {
                "user_idx": frame["user"].to_numpy(np.int32),
                "item_idx": item_idx.astype(np.int32),
                "ts": np.zeros(len(frame), np.int64),
                "weight": np.ones(len(frame), np.float32),
            }
        )
        matrix = to_csr(log, n_users, len(item_ids))
        matrix.data[:] = 1.0  # pairs, not counts: a duplicated line must not double a cell
        matrices.append(matrix)
    return FixedSplit(train=matrices[0], test=matrices[1], item_ids=item_ids)
