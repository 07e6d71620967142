"""Seeded train / validation / test splits of an interaction log.

The log is one row per event: ``user_idx`` int32, ``item_idx`` int32, ``ts`` int64 epoch
microseconds, ``weight`` float32. Per-user splits hold out whole (user, item) *pairs*, never
single events, so a held-out item cannot leak into training through a repeat event. Test rows
that cannot be evaluated (user or item unknown to train, pair already in train) are dropped and
*counted* in ``Split.info``, never silently. Data without timestamps falls back to a random split,
logged and recorded in ``info["fallback"]``. Everything is vectorised (sort + groupby ranks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys.errors import ContractError, InvalidInputError

logger = logging.getLogger(__name__)

LOG_COLUMNS = ("user_idx", "item_idx", "ts", "weight")
SplitMethod = Literal["temporal", "leave_last_out", "random"]


@dataclass(frozen=True)
class Split:
    """Train / optional validation / test slices of one log, plus counts of what was done."""

    train: pd.DataFrame
    test: pd.DataFrame
    validation: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _check_log(log: pd.DataFrame) -> None:
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise ContractError(
            f"interaction log is missing column(s) {missing}; expected {list(LOG_COLUMNS)}"
        )


def has_timestamps(log: pd.DataFrame) -> bool:
    """True when `ts` carries order: more than one distinct value (all-zero means no times)."""
    _check_log(log)
    ts = log["ts"].to_numpy()
    return len(ts) > 0 and bool(ts.min() != ts.max())


def _pair_keys(log: pd.DataFrame, n_items: int) -> np.ndarray:
    return log["user_idx"].to_numpy(np.int64) * n_items + log["item_idx"].to_numpy(np.int64)


def _finish(
    log: pd.DataFrame, in_test: np.ndarray, info: dict[str, Any], drop_seen: bool = True
) -> Split:
    """Cut `log` by the row mask, drop unusable test rows and count every drop."""
    train, test = log[~in_test], log[in_test]
    known_user = test["user_idx"].isin(pd.unique(train["user_idx"])).to_numpy()
    known_item = test["item_idx"].isin(pd.unique(train["item_idx"])).to_numpy()
    info["dropped_unknown_user"] = int((~known_user).sum())
    info["dropped_unknown_item"] = int((known_user & ~known_item).sum())
    keep = known_user & known_item
    if drop_seen:
        n_items = int(log["item_idx"].max()) + 1 if len(log) else 1
        seen = np.isin(_pair_keys(test, n_items), _pair_keys(train, n_items))
        info["dropped_seen_in_train"] = int((keep & seen).sum())
        keep &= ~seen
    test = test[keep]
    info.update(
        n_train=len(train),
        n_test=len(test),
        n_test_users=int(test["user_idx"].nunique()),
        test_share=round(len(test) / max(len(log), 1), 6),
    )
    logger.info("split %s: %s", info.get("method"), info)
    return Split(train=train.reset_index(drop=True), test=test.reset_index(drop=True), info=info)


def _pairs(log: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One row per (user, item) with its first time and a seeded random tie-breaker."""
    pairs = log.groupby(["user_idx", "item_idx"], sort=False, observed=True)["ts"].min()
    pairs = pairs.reset_index()
    pairs["tie"] = np.random.default_rng(seed).random(len(pairs))
    return pairs


def _rows_of_pairs(log: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    n_items = int(log["item_idx"].max()) + 1 if len(log) else 1
    return np.isin(_pair_keys(log, n_items), _pair_keys(pairs, n_items))


def random_holdout(log: pd.DataFrame, *, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Hold out round(test_fraction x pairs) random pairs per user, keeping >= 1 in train."""
    _check_log(log)
    if not 0.0 < test_fraction < 1.0:
        raise InvalidInputError(f"test_fraction must be in (0, 1); got {test_fraction}")
    pairs = _pairs(log, seed).sort_values(["user_idx", "tie"], kind="stable")
    grouped = pairs.groupby("user_idx", sort=False)
    rank = grouped.cumcount().to_numpy()
    size = grouped["item_idx"].transform("size").to_numpy()
    n_test = np.minimum(np.rint(size * test_fraction), size - 1)
    in_test = _rows_of_pairs(log, pairs[rank < n_test])
    info: dict[str, Any] = {"method": "random", "seed": seed, "test_fraction": test_fraction}
    return _finish(log, in_test, info)


def leave_last_out(log: pd.DataFrame, *, n: int = 1, seed: int = 0) -> Split:
    """Hold out each user's last `n` items (by first interaction; ties broken by the seed).

    Users with <= n items stay wholly in train (counted in ``info["users_too_short"]``).
    Without timestamps the last items are simply random ones (``info["fallback"]``).
    """
    _check_log(log)
    if n < 1:
        raise InvalidInputError(f"n must be >= 1; got {n}")
    info: dict[str, Any] = {"method": "leave_last_out", "seed": seed, "n": n}
    if not has_timestamps(log):
        logger.warning("log has no timestamps: leave-last-out falls back to random leave-%d-out", n)
        info["fallback"] = f"no timestamps: random leave-{n}-out"
    pairs = _pairs(log, seed)
    pairs["neg_ts"] = -pairs["ts"]
    pairs = pairs.sort_values(["user_idx", "neg_ts", "tie"], kind="stable")
    grouped = pairs.groupby("user_idx", sort=False)
    rank = grouped.cumcount().to_numpy()
    size = grouped["item_idx"].transform("size").to_numpy()
    info["users_too_short"] = int(pairs.loc[size <= n, "user_idx"].nunique())
    in_test = _rows_of_pairs(log, pairs[(rank < n) & (size > n)])
    return _finish(log, in_test, info)


def temporal_split(
    log: pd.DataFrame,
    *,
    test_fraction: float = 0.2,
    at_ts: int | None = None,
    seed: int = 0,
) -> Split:
    """Global cut: events before T train, events at or after T test.

    T is `at_ts` when given, else the (1 - test_fraction) quantile of event times. Without
    timestamps this falls back to `random_holdout(test_fraction, seed)`, logged and recorded.
    """
    _check_log(log)
    if not has_timestamps(log):
        logger.warning("log has no timestamps: temporal split falls back to random holdout")
        split = random_holdout(log, test_fraction=test_fraction, seed=seed)
        split.info["fallback"] = "no timestamps: random per-user holdout"
        split.info["requested_method"] = "temporal"
        return split
    ts = log["ts"].to_numpy()
    if at_ts is None:
        if not 0.0 < test_fraction < 1.0:
            raise InvalidInputError(f"test_fraction must be in (0, 1); got {test_fraction}")
        at_ts = int(np.quantile(ts, 1.0 - test_fraction, method="higher"))
    info: dict[str, Any] = {"method": "temporal", "cut_ts": int(at_ts)}
    return _finish(log, ts >= at_ts, info)


def split_log(log: pd.DataFrame, method: SplitMethod, *, seed: int = 0, **kwargs: Any) -> Split:
    """Dispatch to one of the split functions by name (as named in configs)."""
    if method == "temporal":
        return temporal_split(log, seed=seed, **kwargs)
    if method == "leave_last_out":
        return leave_last_out(log, seed=seed, **kwargs)
    if method == "random":
        return random_holdout(log, seed=seed, **kwargs)
    raise InvalidInputError(
        f"unknown split method {method!r}; expected temporal, leave_last_out or random"
    )


def carve_validation(
    split: Split, method: SplitMethod | None = None, *, seed: int = 0, **kwargs: Any
) -> Split:
    """Split `split.train` again into train + validation, for tuning without touching test.

    `method` defaults to the method of the outer split; `kwargs` go to that split function.
    The returned Split keeps the same test and records the inner split in ``info["validation"]``.
    """
    method = method or split.info.get("requested_method") or split.info.get("method", "random")
    inner = split_log(split.train, method, seed=seed, **kwargs)
    info = {**split.info, "validation": inner.info}
    return Split(train=inner.train, validation=inner.test, test=split.test, info=info)


def check_usable(split: Split, where: str | Path) -> None:
    """A split with nothing to train on or nothing left to test measures nothing: say why."""
    if split.train.empty:
        raise ContractError(f"{where}: the split leaves no event to train on ({split.info})")
    if split.test.empty:
        dropped = {k: v for k, v in split.info.items() if k.startswith("dropped_") and v}
        raise ContractError(
            f"{where}: the {split.info.get('method')} split leaves no test row to evaluate "
            f"(dropped: {dropped or 'none'})")
