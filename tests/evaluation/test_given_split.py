"""A split the user brings: a CSV or Parquet file of test rows, validated and counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.errors import ConfigError, ContractError, UnusableFileError
from recsys.evaluation.given_split import given_split, read_test_rows
from recsys.evaluation.harness import prepare, run_evaluation
from recsys.idmap import IdMap
from tests.evaluation.test_harness import FAST, T0, make_data_dir

US = 1_000_000


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("given") / "tiny")


def _events(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "events")


def _log(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    u, i, ts = (np.array(c) for c in zip(*rows, strict=True))
    return pd.DataFrame({"user_idx": u.astype(np.int32), "item_idx": i.astype(np.int32),
                         "ts": ts.astype(np.int64), "weight": np.ones(len(u), np.float32)})


def test_csv_and_parquet_read_the_same_rows(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["i3", "i4"],
                          "ts": ["2024-01-01T00:00:10Z", "1704067200"]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    csv = read_test_rows(tmp_path / "t.csv")
    assert csv["user_id"].tolist() == ["u1", "u2"] and csv["item_id"].tolist() == ["i3", "i4"]
    t0 = int(T0.timestamp()) * US
    assert csv["ts"].tolist() == [t0 + 10 * US, t0]  # ISO-8601 and epoch seconds
    frame.assign(ts=pd.to_datetime(frame["ts"].iloc[0]))[["user_id", "item_id", "ts"]] \
        .to_parquet(tmp_path / "t.parquet")
    parquet = read_test_rows(tmp_path / "t.parquet")
    assert parquet["ts"].tolist() == [t0 + 10 * US] * 2
    frame[["user_id", "item_id"]].to_parquet(tmp_path / "pairs.parquet")
    assert list(read_test_rows(tmp_path / "pairs.parquet").columns) == ["user_id", "item_id"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("user_id,item_id\nu1,i1\nu2,\n", r"t\.csv, row 2, field 'item_id': required id is empty"),
        ("user_id,item_id,ts\nu1,i1,2024-01-01\nu2,i2,soon\n",
         r"t\.csv, row 2, field 'ts': not a timestamp: .* got 'soon'"),
        ("user,item\nu1,i1\n", r"t\.csv: missing column\(s\) \['user_id', 'item_id'\]"),
        ("user_id,item_id\n", r"t\.csv: no test rows"),
        ("", r"t\.csv: empty file"),
        ('user_id,item_id\n"u1,i1\n', r"t\.csv: not a readable CSV"),
    ],
)
def test_bad_files_fail_in_one_line_naming_file_row_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(UnusableFileError, match=message) as caught:
        read_test_rows(path)
    assert "\n" not in str(caught.value)


def test_missing_folder_and_unknown_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnusableFileError, match="test file not found"):
        read_test_rows(tmp_path / "nope.csv")
    with pytest.raises(UnusableFileError, match="is a folder"):
        read_test_rows(tmp_path)
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(UnusableFileError, match=r"unknown file type '\.json'"):
        read_test_rows(tmp_path / "t.json")
    (tmp_path / "t.parquet").write_text("not parquet")
    with pytest.raises(UnusableFileError, match="not a readable Parquet file"):
        read_test_rows(tmp_path / "t.parquet")


def test_rows_in_the_log_move_to_test_others_are_added_and_unknowns_counted() -> None:
    users, items = IdMap(["u0", "u1", "u2"]), IdMap(["i0", "i1", "i2", "i3"])
    log = _log([(0, 0, 1), (0, 1, 2), (0, 2, 3), (1, 0, 1), (1, 1, 2), (2, 2, 5), (2, 3, 6)])
    rows = pd.DataFrame({"user_id": ["u0", "u1", "ghost", "u2", "u0"],
                         "item_id": ["i2", "i3", "i0", "nothing", "i2"]})
    split = given_split(log, users, items, rows, source="t.csv")
    info = split.info
    assert (info["test_rows"], info["test_rows_unknown_user"],
            info["test_rows_unknown_item"]) == (5, 1, 1)
    assert (info["test_rows_in_data"], info["test_rows_added"]) == (2, 1)  # u0-i2 twice
    test = set(zip(split.test["user_idx"], split.test["item_idx"], strict=True))
    assert test == {(0, 2), (1, 3)}  # u1-i3 was not in the data: held out as given
    train = set(zip(split.train["user_idx"], split.train["item_idx"], strict=True))
    assert (0, 2) not in train and len(split.train) == 6


def test_with_times_only_the_events_at_that_time_are_test_rows() -> None:
    users, items = IdMap(["u0", "u1"]), IdMap(["i0", "i1"])
    log = _log([(0, 0, 1), (0, 0, 5), (0, 1, 6), (1, 1, 2)])
    rows = pd.DataFrame({"user_id": ["u0", "u0"], "item_id": ["i0", "i1"], "ts": [5, 6]})
    split = given_split(log, users, items, rows, source="t.csv")
    # u0-i0 at ts 5 is a test event, but the pair was also seen at ts 1: not evaluable
    assert split.info["dropped_seen_in_train"] == 1
    assert split.test[["user_idx", "item_idx", "ts"]].values.tolist() == [[0, 1, 6]]


def test_no_known_row_is_a_contract_error() -> None:
    rows = pd.DataFrame({"user_id": ["ghost"], "item_id": ["i0"]})
    with pytest.raises(ContractError, match="t.csv: none of the 1 test rows"):
        given_split(_log([(0, 0, 1)]), IdMap(["u0"]), IdMap(["i0"]), rows, source="t.csv")


def test_prepare_evaluates_exactly_the_given_test_rows(tiny: Path, tmp_path: Path) -> None:
    events = _events(tiny)
    chosen = events.groupby("user_id").tail(2)  # each user's last two items
    path = tmp_path / "test.csv"
    chosen[["user_id", "item_id"]].to_csv(path, index=False)
    p = prepare(tiny, split="fixed", config=FAST, seed=0, test_file=path, with_content=False)
    info = p.split.info
    assert info["method"] == "fixed" and info["source"] == "test.csv"
    assert info["test_rows"] == len(chosen) and info["test_rows_in_data"] == len(chosen)
    users = IdMap.load(tiny / "idmap/users.parquet")
    items = IdMap.load(tiny / "idmap/items.parquet")
    expected = set(zip(users.to_index(chosen["user_id"]).tolist(),
                       items.to_index(chosen["item_id"]).tolist(), strict=True))
    coo = p.test.tocoo()
    got = set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))
    assert got <= expected and len(expected - got) <= info["dropped_unknown_item"] + info[
        "dropped_unknown_user"] + info["dropped_seen_in_train"]
    assert not got & set(zip(*p.train.nonzero(), strict=True))
    result = run_evaluation(p, config=FAST, baselines=("popularity",), n_trials=1,
                            tune_shipped_recipe=False)
    assert result.split_info["test_rows"] == len(chosen)
    with pytest.raises(ConfigError, match="a test file fixes the split"):
        prepare(tiny, split="random", config=FAST, test_file=path)
