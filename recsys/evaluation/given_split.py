"""Train / test splits given with the data rather than drawn by the harness.

Two sources: an imported data set's predefined folds (``meta/split.parquet``, `fixed_split`),
and a file of test rows the user brings (`read_test_rows` + `given_split`).

A data scientist who already has a split (a paper's, a colleague's, last quarter's) evaluates
on exactly those rows with ``recsys evaluate --split fixed --test FILE``. The file is CSV (with
a header) or Parquet, one row per held-out interaction: ``user_id, item_id`` and optionally
``ts`` (ISO-8601, no offset = UTC, or epoch seconds, as ingest reads them).

The data directory may hold every event (test rows are then taken out of training) or the
training events only (test rows are held out as given): a test row that matches events of the
log moves them to test; one that matches none is added to test. With ``ts`` a row matches only
the events of its pair at that time. Rows naming users or items the data directory does not
know are counted and reported, never silently lost; a malformed file fails with one line naming
the file, the row (1-based data rows, the header not counted) and the field.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.adapters.common import AdapterInfo
from recsys.datastore import DataDir
from recsys.errors import ContractError, UnusableFileError
from recsys.evaluation.splits import Split, _finish
from recsys.idmap import IdMap

logger = logging.getLogger(__name__)

COLUMNS = ("user_id", "item_id")
OPTIONAL = ("ts",)
_EPOCH = pd.Timestamp(0, tz="UTC")


def read_test_rows(path: str | Path) -> pd.DataFrame:
    """The test rows of a CSV or Parquet file: ``user_id``, ``item_id`` str and, when the
    file has it, ``ts`` int64 epoch microseconds. Raises UnusableFileError on a bad file."""
    path = Path(path)
    if not path.is_file():
        raise UnusableFileError(str(path), "test file not found" if not path.exists()
                                else "is a folder; expected a CSV or Parquet file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path)
    elif suffix in (".parquet", ".pq"):
        frame = _read_parquet(path)
    else:
        raise UnusableFileError(str(path), f"unknown file type {suffix!r}; expected .csv or "
                                ".parquet with columns user_id, item_id[, ts]")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise UnusableFileError(
            str(path), f"missing column(s) {missing}; expected user_id, item_id[, ts], "
            f"got {list(frame.columns)}")
    if frame.empty:
        raise UnusableFileError(str(path), "no test rows")
    rows = pd.DataFrame({c: _ids(path, frame[c], c) for c in COLUMNS})
    if "ts" in frame.columns:
        rows["ts"] = _timestamps(path, frame["ts"])
    return rows


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise UnusableFileError(str(path), "empty file; expected a header user_id,item_id[,ts]"
                                ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UnusableFileError(str(path), f"not a readable CSV: {' '.join(str(exc).split())}"
                                ) from None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnusableFileError(str(path), f"not a readable Parquet file: {exc}") from None
    return table.to_pandas()


def _first_bad(path: Path, bad: np.ndarray, values: pd.Series, field: str, reason: str) -> None:
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise UnusableFileError(
            str(path), f"{reason}; got {values.iloc[first]!r} ({int(bad.sum()):,} bad in all)",
            row=first + 1, field=field)


def _ids(path: Path, values: pd.Series, field: str) -> np.ndarray:
    """Ids as str; a missing or blank id fails naming its row."""
    missing = values.isna().to_numpy()
    text = values.astype(str).str.strip()
    _first_bad(path, missing | (text == "").to_numpy(), values, field, "required id is empty")
    return text.to_numpy(dtype=object)


def _timestamps(path: Path, values: pd.Series) -> np.ndarray:
    """Epoch microseconds from Parquet timestamps, epoch seconds or ISO-8601 strings."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    elif pd.api.types.is_numeric_dtype(values):
        parsed = pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    else:
        text = values.astype(str).str.strip()
        seconds = pd.to_numeric(text, errors="coerce")
        parsed = pd.to_datetime(text.where(seconds.isna()), format="ISO8601", utc=True,
                                errors="coerce")
        from_seconds = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
        parsed = parsed.where(seconds.isna(), from_seconds)
    bad = parsed.isna().to_numpy()
    _first_bad(path, bad, values, "ts",
               "not a timestamp: expected ISO-8601 (2024-05-01T12:00:00Z) or epoch seconds")
    return ((parsed - _EPOCH) // pd.Timedelta(1, "us")).to_numpy(np.int64)


def fixed_split(data: DataDir, users: IdMap, items: IdMap, log: pd.DataFrame,
                info: AdapterInfo) -> Split:
    """Apply the data set's predefined folds (``meta/split.parquet``) to the log.

    A (user, item) pair is a test pair when it occurs in the test fold and never in the train
    fold; the split's key may be the pair itself or a column of the events (e.g. group_id).
    """
    spec = info.split or {}
    folds = pd.read_parquet(data.root / spec["path"])
    key = list(spec["key"])
    if key != ["user_id", "item_id"]:
        events = data.read_table("events", ["user_id", "item_id", *key]).to_pandas()
        folds = events.merge(folds, on=key, how="inner")
    u = users.to_index(folds["user_id"].to_numpy())
    i = items.to_index(folds["item_id"].fillna("").astype(str).to_numpy())
    n_items = max(len(items), 1)
    pair = u * n_items + i
    ok = (u >= 0) & (i >= 0)
    is_test = folds["fold"].to_numpy() == "test"
    test_pairs = np.setdiff1d(pair[ok & is_test], pair[ok & ~is_test])
    log_pairs = log["user_idx"].to_numpy(np.int64) * n_items + log["item_idx"].to_numpy(np.int64)
    in_test = np.isin(log_pairs, test_pairs)
    info_out: dict[str, Any] = {
        "method": "fixed", "source": spec["path"], "key": key,
        "pairs_in_both_folds": int(len(np.intersect1d(pair[ok & is_test], pair[ok & ~is_test]))),
    }
    return _finish(log, in_test, info_out)


def given_split(
    log: pd.DataFrame, users: IdMap, items: IdMap, rows: pd.DataFrame, *, source: str
) -> Split:
    """Split `log` (one weighted row per event, as `load_interaction_log` returns it) by the
    test `rows` of `read_test_rows`; see the module docstring for the matching rule.

    ``Split.info`` counts the rows read, those naming unknown users or items (not evaluated),
    those matching events of the log and those added, plus the usual drops of `_finish`.
    """
    u = users.to_index(rows["user_id"].to_numpy())
    i = items.to_index(rows["item_id"].to_numpy())
    unknown_user = u < 0
    unknown_item = ~unknown_user & (i < 0)
    known = ~unknown_user & ~unknown_item
    info: dict[str, Any] = {
        "method": "fixed", "source": source, "test_rows": int(len(rows)),
        "test_rows_unknown_user": int(unknown_user.sum()),
        "test_rows_unknown_item": int(unknown_item.sum()),
    }
    if not known.any():
        raise ContractError(
            f"{source}: none of the {len(rows):,} test rows names a user and an item of the data "
            f"directory ({info['test_rows_unknown_user']:,} unknown users, "
            f"{info['test_rows_unknown_item']:,} unknown items)")
    if not known.all():
        logger.warning("%s: %d of %d test rows name unknown users (%d) or items (%d); "
                       "they are not evaluated", source, int((~known).sum()), len(rows),
                       info["test_rows_unknown_user"], info["test_rows_unknown_item"])
    test = pd.DataFrame({"user_idx": u[known].astype(np.int32),
                         "item_idx": i[known].astype(np.int32)})
    with_ts = "ts" in rows.columns
    if with_ts:
        test["ts"] = rows["ts"].to_numpy(np.int64)[known]
    on = ["user_idx", "item_idx", *(["ts"] if with_ts else [])]
    in_test = _rows_in(log, test, on)
    matched = _rows_in(test, log, on)
    info["test_rows_in_data"] = int(matched.sum())
    info["test_rows_added"] = int((~matched).sum())
    added = test[~matched].drop_duplicates()
    if len(added):
        ts = (added["ts"].to_numpy(np.int64) if with_ts
              else np.full(len(added), int(log["ts"].max()) if len(log) else 0, np.int64))
        extra = pd.DataFrame({
            "user_idx": added["user_idx"].to_numpy(np.int32),
            "item_idx": added["item_idx"].to_numpy(np.int32),
            "ts": ts, "weight": np.ones(len(added), np.float32),
        })
        log = pd.concat([log, extra], ignore_index=True)
        in_test = np.concatenate([in_test, np.ones(len(extra), dtype=bool)])
    return _finish(log, in_test, info)


def _rows_in(frame: pd.DataFrame, other: pd.DataFrame, on: list[str]) -> np.ndarray:
    """(len(frame),) bool: whether each row's `on` values occur as a row of `other` (hashed)."""
    return pd.MultiIndex.from_frame(frame[on]).isin(pd.MultiIndex.from_frame(other[on]))
