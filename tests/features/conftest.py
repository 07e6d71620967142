"""A tiny hand-written data directory in the contract layout.

Users u0..u3, items i0..i3 (i3 in a category that seeds no circle), circles from a two-circle
catalogue. Every expected number in the feature tests is computed by hand from these rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from recsys.circles import Circle, CircleCatalogue
from recsys.contract import table_spec
from recsys.datastore import DataDir
from recsys.idmap import IdMap

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def table(name: str, rows: list[dict]) -> pa.Table:
    """Rows as a contract table; columns a row leaves out are null (or a neutral default)."""
    spec = table_spec(name)
    defaults = {"text": "", "title": "t", "merchant_id": "m", "price": 1.0}
    columns = {}
    for field in spec.schema:
        values = [r.get(field.name, defaults.get(field.name)) for r in rows]
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=spec.schema)


CATALOGUE = CircleCatalogue(
    (
        Circle("beauty", "美妆", "Beauty", ("makeup", "skincare")),
        Circle("digital", "数码", "Digital", ("phones",)),
    )
)

EVENTS = [
    # u0: view i0 twice, purchase i0, like post p0 (names i1) -> i1 at post factor
    dict(event_id="e0", user_id="u0", item_id="i0", type="view", ts=day(0)),
    dict(event_id="e1", user_id="u0", item_id="i0", type="view", ts=day(1)),
    dict(event_id="e2", user_id="u0", item_id="i0", type="purchase", ts=day(2)),
    dict(event_id="e3", user_id="u0", post_id="p0", type="like", ts=day(3)),
    # u1: share i2, comment on p1 (names no item -> dropped), like deleted p2 (names i0)
    dict(event_id="e4", user_id="u1", item_id="i2", type="share", ts=day(4)),
    dict(event_id="e5", user_id="u1", post_id="p1", type="comment", ts=day(5)),
    dict(event_id="e6", user_id="u1", post_id="p2", type="like", ts=day(6)),
    # u2: group-buy join on i3 (category seeding no circle), purchase i1
    dict(event_id="e7", user_id="u2", item_id="i3", type="group_buy_join", ts=day(7)),
    dict(event_id="e8", user_id="u2", item_id="i1", type="purchase", ts=day(8)),
    # an unknown user
    dict(event_id="e9", user_id="ghost", item_id="i0", type="view", ts=day(9)),
    # u3 views post p0 with an item id set as well: the direct item wins, full weight
    dict(event_id="e10", user_id="u3", item_id="i2", post_id="p0", type="view", ts=day(10)),
]

POSTS = [
    dict(
        post_id="p0",
        author_id="u1",
        circle_id="digital",
        item_id="i1",
        created_ts=day(0),
        deleted=False,
    ),
    dict(post_id="p1", author_id="u0", circle_id="beauty", created_ts=day(0), deleted=False),
    dict(
        post_id="p2",
        author_id="u0",
        circle_id="beauty",
        item_id="i0",
        created_ts=day(0),
        deleted=True,
    ),
    dict(post_id="p3", author_id="u0", circle_id="beauty", created_ts=day(0), deleted=False),
]

ITEMS = [
    dict(item_id="i0", category="makeup", is_group_buy=False, created_ts=T0, status="listed"),
    dict(item_id="i1", category="phones", is_group_buy=False, created_ts=T0, status="listed"),
    dict(item_id="i2", category="skincare", is_group_buy=True, created_ts=T0, status="listed"),
    dict(item_id="i3", category="garden", is_group_buy=True, created_ts=T0, status="listed"),
]

USERS = [dict(user_id=f"u{n}", signup_ts=T0, share_opt_out=False) for n in range(4)]


@pytest.fixture
def data(tmp_path) -> DataDir:
    d = DataDir(tmp_path / "data")
    d.write_table("circles", CATALOGUE.to_table())
    d.write_table("users", table("users", USERS))
    d.write_table("items", table("items", ITEMS))
    d.write_table("posts", table("posts", POSTS))
    d.write_table("events", table("events", EVENTS))
    return d


@pytest.fixture
def users() -> IdMap:
    return IdMap([f"u{n}" for n in range(4)])


@pytest.fixture
def items() -> IdMap:
    return IdMap([f"i{n}" for n in range(4)])
