"""Judging posted rows with the ingest rules themselves (`recsys.ingest.rules`), batch by batch.

A posted batch is staged in an in-memory DuckDB as text cells, exactly as ingest stages a CSV,
and `rules.check` runs on it: the same parsing, the same rules, the same reasons. What ingest
reads from earlier tables comes from `References`: the bundle's ids (items, circles, posts,
group buys with their facts) plus the rows the store accepted since, restricted to the ids the
batch names, so a batch of 100 costs the same against 10M users as against 100. Users are the
one open reference (`accept_new`): a user the bundle has not seen is a new user, recorded in the
store so an export writes a `users` row for them.

Beyond one batch: a key the store already holds is a `duplicate` (stored once), as is a row the
batch repeats; a group_buy_start of a group already started (in the training data or an
earlier batch) is rejected with ingest's own reason (`rules.ALREADY_STARTED`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import duckdb
import numpy as np
import pyarrow as pa

from recsys.contract import EVENTS, GROUP_BUYS, POSTS, TIMESTAMP, EventType, TableSpec
from recsys.events.references import References
from recsys.events.store import COLUMNS
from recsys.ingest import rules
from recsys.ingest.column_map import ColumnMap
from recsys.ingest.sql import ident

#: The tables the API takes rows of, and the column naming the user each row is by.
JUDGED: dict[str, tuple[TableSpec, str]] = {
    "events": (EVENTS, "user_id"),
    "group_buys": (GROUP_BUYS, "initiator_id"),
    "posts": (POSTS, "author_id"),
}
#: A posted row's value: what JSON gives (lists and objects are malformed, refused before).
Scalar = str | int | float | bool | None
_USERS = frozenset({"users"})


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RowResult:
    """What happened to one posted row; `key` is its id (derived when an event had none)."""

    status: Outcome
    key: str | None = None
    field: str | None = None
    reason: str | None = None


class Judge:
    """Judges posted batches of one table and stores what it accepts (thread-safe)."""

    def __init__(self, references: References) -> None:
        self.refs = references
        self.store = references.store
        self._local = threading.local()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's DuckDB database (the rules create tables with fixed names, so two
        batches never share one; a connection costs more than judging a batch)."""
        con = getattr(self._local, "con", None)
        if con is None:
            # One thread: a batch is a hundred rows, and the requests run side by side.
            con = duckdb.connect(":memory:", config={"threads": 1})
            con.execute("SET TimeZone = 'UTC'")
            self._local.con = con
        return con

    def judge(self, table: str, rows: Sequence[Mapping[str, Scalar]]) -> list[RowResult]:
        """Judge `rows` of `table` ("events", "group_buys" or "posts"), store the accepted
        ones durably, and say per row what happened (in the rows' order)."""
        return self.judge_batches(table, [rows])[0]

    def judge_batches(
        self, table: str, batches: Sequence[Sequence[Mapping[str, Scalar]]]
    ) -> list[list[RowResult]]:
        """Judge several posted batches in one pass and one durable commit, as if each were
        a file of one ingest run in this order: ids are derived per batch, and a row a
        later batch repeats is its duplicate. One result list per batch."""
        spec, user_column = JUDGED[table]
        sizes = [len(b) for b in batches]
        if not sum(sizes):
            return [[] for _ in batches]
        con = self._connection()
        try:
            checked = _check(con, spec, batches, self.refs)
        finally:
            _clear(con)
        flat = self._store(table, spec, user_column, checked)
        bounds = np.cumsum([0, *sizes])
        return [flat[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]

    def _store(
        self, table: str, spec: TableSpec, user_column: str, checked: pa.Table
    ) -> list[RowResult]:
        key = spec.key[0]
        results: list[RowResult | None] = [None] * checked.num_rows
        data = checked.to_pydict()
        accepted = []
        for i in range(checked.num_rows):
            rule, id_ = data["_rule"][i], data[key][i]
            if rule is None:
                accepted.append(i)
            elif data["_duplicate"][i]:
                results[i] = RowResult(Outcome.DUPLICATE, id_)
            else:
                results[i] = RowResult(Outcome.REJECTED, id_, data["_field"][i], data["_reason"][i])
        if table == "events":
            accepted = self._refuse_second_starts(data, accepted, results)
        elif accepted:
            accepted = self._drop_known(table, key, data, accepted, results)
        values = [_row(table, data, i) for i in accepted]
        new_users = _new_users(self.refs, data, user_column, accepted, table)
        stored = self.store.add(table, values, new_users)
        for i, fresh in zip(accepted, stored, strict=True):
            if fresh:
                results[i] = RowResult(Outcome.ACCEPTED, data[key][i])
            elif table == "events" and self._is_second_start(data, i):
                results[i] = RowResult(Outcome.REJECTED, data[key][i], *rules.ALREADY_STARTED)
            else:
                results[i] = RowResult(Outcome.DUPLICATE, data[key][i])
        return [r for r in results if r is not None]

    def _is_second_start(self, data: dict[str, list], i: int) -> bool:
        """A start the store refused although its event id is new: another worker's start of
        the same group came first (the store's unique index)."""
        if data["type"][i] != EventType.GROUP_BUY_START.value:
            return False
        return self.store.rows("events", [data["event_id"][i]]).num_rows == 0

    def _refuse_second_starts(
        self, data: dict[str, list], accepted: list[int], results: list[RowResult | None]
    ) -> list[int]:
        start = EventType.GROUP_BUY_START.value
        starts = {data["group_id"][i] for i in accepted if data["type"][i] == start}
        if not starts:
            return accepted
        facts = self.refs.groups(starts)
        done = {g for g, s in zip(facts["group_id"].to_pylist(), facts["started"].to_pylist(),
                                  strict=True) if s}
        keep = []
        for i in accepted:
            if data["type"][i] == start and data["group_id"][i] in done:
                stored = self.store.rows("events", [data["event_id"][i]]).num_rows
                results[i] = (
                    RowResult(Outcome.DUPLICATE, data["event_id"][i]) if stored
                    else RowResult(Outcome.REJECTED, data["event_id"][i], *rules.ALREADY_STARTED)
                )
            else:
                keep.append(i)
        return keep

    def _drop_known(
        self, table: str, key: str, data: dict[str, list], accepted: list[int],
        results: list[RowResult | None],
    ) -> list[int]:
        """Group buys and posts the bundle already has are duplicates (the store catches its
        own on insert)."""
        pg = self.refs.parts.posts_groups
        idmap = pg.groups if table == "group_buys" else pg.posts
        ids = [data[key][i] for i in accepted]
        known = idmap.to_index(ids) >= 0
        for i, k in zip(accepted, known, strict=True):
            if k:
                results[i] = RowResult(Outcome.DUPLICATE, data[key][i])
        return [i for i, k in zip(accepted, known, strict=True) if not k]


# -- the check ---------------------------------------------------------------------------------


def _text(value: Scalar) -> str | None:
    """A JSON value as the text of a CSV cell, so the rules parse it as they parse a file."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _stage(batches: Sequence[Sequence[Mapping[str, Scalar]]], spec: TableSpec) -> pa.Table:
    """The batches as one staged table: batch b is source file b, its rows numbered from 1."""
    rows = [r for batch in batches for r in batch]
    n = len(rows)
    columns = {
        f.name: pa.array([_text(r.get(f.name)) for r in rows], pa.string()) for f in spec.schema
    }
    return pa.table({
        **columns,
        "_src": pa.array(np.repeat(np.arange(len(batches), dtype=np.int32),
                                   [len(b) for b in batches])),
        "_row": pa.array(np.concatenate(
            [np.arange(1, len(b) + 1, dtype=np.int64) for b in batches])),
        "_bad": pa.nulls(n, pa.string()),
        "_detail": pa.nulls(n, pa.string()),
    })


def _named(stage: pa.Table, column: str) -> set[str]:
    if column not in stage.column_names:
        return set()
    return {v.strip() for v in stage[column].to_pylist() if v and v.strip()}


def _check(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    batches: Sequence[Sequence[Mapping[str, Scalar]]],
    refs: References,
) -> pa.Table:
    """`checked_<table>` of the batches with `_field`, `_reason` and `_duplicate` per row,
    in (batch, row) order."""
    stage = _stage(batches, spec)
    con.register(f"stage_{spec.name}", stage)
    for fk in spec.foreign_keys:
        if fk.table in _USERS:
            continue
        named = _named(stage, fk.column)
        if fk.table == "items":
            ref = refs.items(named)
        elif fk.table == "circles":
            ref = refs.circles(named)
        elif fk.table == "posts":
            ref = refs.posts(named)
        else:
            ref = refs.groups(named)
        con.register(f"acc_{fk.table}", ref)
    types = {f.name: "VARCHAR" for f in spec.schema}
    book = rules.check(
        con, spec, types, ColumnMap().for_table(spec.name),
        derive_ids=spec.name == "events", accept_new=_USERS,
    )
    # Times leave as epoch microseconds, the store's unit.
    columns = ", ".join(
        f"epoch_us(c.{ident(f.name)}) AS {ident(f.name)}" if f.type == TIMESTAMP
        else f"c.{ident(f.name)}"
        for f in spec.schema
    )
    result = con.sql(
        f"""
        SELECT {columns}, c._rule, r._field, r._reason, c._rule = {book.duplicate} AS _duplicate
        FROM checked_{spec.name} c LEFT JOIN rules_{spec.name} r ON r._rule = c._rule
        ORDER BY c._src, c._row
        """
    ).to_arrow_table()
    return result


def _clear(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what one check created, leaving the connection as new for the next batch."""
    for name, kind in con.execute(
        "SELECT table_name, table_type FROM information_schema.tables"
    ).fetchall():
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {ident(name)}")
    for name in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
        con.execute(f"DROP VIEW IF EXISTS {ident(name[0])}")


def _row(table: str, data: dict[str, list], i: int) -> tuple[object, ...]:
    """Store values of checked row `i` (times are already epoch microseconds)."""
    renamed = {"ts_us": "ts", "created_us": "created_ts", "deadline_us": "deadline_ts"}
    values = []
    for column in COLUMNS[table]:
        value = data[renamed.get(column, column)][i]
        values.append(int(value) if column == "deleted" else value)
    return tuple(values)


def _new_users(
    refs: References, data: dict[str, list], column: str, accepted: list[int], table: str
) -> list[tuple[str, int]]:
    """(user_id, first time) of accepted rows' users the bundle does not know."""
    if not accepted:
        return []
    time_column = "ts" if table == "events" else "created_ts"
    users = np.array([data[column][i] for i in accepted], dtype=object)
    times = np.array([data[time_column][i] for i in accepted], dtype=np.int64)
    new = ~refs.known_users(users)
    first: dict[str, int] = {}
    for user, ts in zip(users[new], times[new], strict=True):
        first[user] = min(int(ts), first.get(user, int(ts)))
    return sorted(first.items())
