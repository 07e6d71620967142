"""The data contract: schemas, conform(), and the docs kept in step with the code."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from recsys.contract import EVENTS, TABLES, USERS, conform, table_spec
from recsys.datastore import DataDir
from recsys.errors import ContractError


def _users() -> pa.Table:
    return pa.table(
        {
            "share_opt_out": [False, True],
            "user_id": ["u1", "u2"],
            "signup_ts": [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)],
            "gender": ["f", None],
            "age_band": [None, "25-34"],
            "city": ["Hangzhou", None],
            "extra": [1, 2],
        }
    )


def test_conform_orders_and_casts_columns_and_drops_extras() -> None:
    table = conform(_users(), USERS)
    assert table.schema == USERS.schema
    assert table.column("user_id").to_pylist() == ["u1", "u2"]


def test_conform_names_the_missing_column() -> None:
    with pytest.raises(ContractError, match="signup_ts"):
        conform(_users().drop(["signup_ts"]), USERS)


def test_unknown_table_lists_known_tables() -> None:
    with pytest.raises(ContractError, match="events"):
        table_spec("orders")


def test_foreign_keys_point_to_earlier_tables() -> None:
    seen: set[str] = set()
    for spec in TABLES:
        for fk in spec.foreign_keys:
            assert fk.table in seen, f"{spec.name}.{fk.column} -> {fk.table} comes later"
            assert fk.column in spec.schema.names
        seen.add(spec.name)


def test_keys_are_required_columns() -> None:
    for spec in TABLES:
        assert set(spec.key) <= set(spec.required), spec.name


def test_parquet_round_trip_keeps_the_schema(tmp_path) -> None:
    data = DataDir(tmp_path)
    data.write_table("users", _users())
    back = data.read_table("users")
    assert back.schema == USERS.schema
    assert back.equals(conform(_users(), USERS))
    con = data.connect()
    assert con.execute("SELECT count(*) FROM users").fetchone() == (2,)


def test_write_table_replaces_previous_parts(tmp_path) -> None:
    data = DataDir(tmp_path)
    data.write_table("users", _users())
    data.write_table("users", _users().slice(0, 1))
    assert data.read_table("users").num_rows == 1
    assert len(data.parts("users")) == 1


def test_timestamps_are_utc_microseconds() -> None:
    assert EVENTS.schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_every_contract_column_is_documented(project_root) -> None:
    doc = project_root / "docs" / "data-contract.md"
    if not doc.exists():
        pytest.fail("docs/data-contract.md is missing")
    text = doc.read_text(encoding="utf-8")
    for spec in TABLES:
        assert f"`{spec.name}`" in text, spec.name
        for name in spec.schema.names:
            assert f"`{name}`" in text, f"{spec.name}.{name} undocumented"
