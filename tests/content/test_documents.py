"""Item documents: IdMap order, live posts newest first, capped, same from a DataDir or tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from recsys.content.documents import documents_from_tables, item_documents
from recsys.datastore import DataDir
from recsys.errors import ContractError
from recsys.idmap import IdMap

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _items() -> pa.Table:
    return pa.table(
        {
            "item_id": ["i1", "i2", "i3"],
            "title": ["Trail shoes", "Mango box", "Stroller"],
            "category": ["sports", "fruit", "baby"],
            "brand": ["Peak", None, "Goodbaby"],
            "merchant_id": ["m1", "m2", "m3"],
            "price": [199.0, 59.0, 899.0],
            "is_group_buy": [False, True, True],
            "created_ts": [T0, T0, T0],
            "status": ["listed", "listed", "listed"],
        }
    )


def _posts() -> pa.Table:
    return pa.table(
        {
            "post_id": ["p1", "p2", "p3", "p4", "p5"],
            "author_id": ["u1", "u2", "u1", "u3", "u2"],
            "circle_id": ["c1", "c1", "c2", "c2", "c1"],
            "item_id": ["i1", "i1", "i2", "i2", None],
            "created_ts": [T0, T0 + timedelta(days=1), T0, T0, T0],
            "text": ["old run", "new run", "deleted text", "sweet", "no item"],
            "deleted": [False, False, True, False, False],
        }
    )


def test_documents_follow_idmap_and_skip_deleted_posts() -> None:
    docs = documents_from_tables(_items(), _posts(), IdMap(["i3", "i1", "i2"]))
    assert docs == [
        "Stroller baby Goodbaby",
        "Trail shoes sports Peak new run old run",  # newest post first
        "Mango box fruit sweet",  # no brand, deleted post dropped
    ]


def test_post_text_is_capped() -> None:
    docs = documents_from_tables(_items(), _posts(), IdMap(["i1"]), max_post_chars=5)
    assert docs == ["Trail shoes sports Peak new r"]
    docs = documents_from_tables(_items(), _posts(), IdMap(["i1"]), max_post_chars=0)
    assert docs == ["Trail shoes sports Peak"]


def test_data_dir_gives_the_same_documents(tmp_path) -> None:
    data = DataDir(tmp_path)
    data.write_table("items", _items())
    ids = IdMap(["i2", "i1", "i3"])
    assert item_documents(data, ids) == documents_from_tables(_items(), None, ids)
    data.write_table("posts", _posts())
    assert item_documents(data, ids) == documents_from_tables(_items(), _posts(), ids)


def test_unknown_item_is_named() -> None:
    with pytest.raises(ContractError, match="i9"):
        documents_from_tables(_items(), None, IdMap(["i1", "i9"]))


def test_missing_column_is_named() -> None:
    with pytest.raises(ContractError, match="title"):
        documents_from_tables(_items().drop_columns(["title"]), None, IdMap(["i1"]))


def test_missing_items_table(tmp_path) -> None:
    with pytest.raises(ContractError, match="no items table"):
        item_documents(DataDir(tmp_path), IdMap(["i1"]))


def test_posts_after_a_time_cut_are_left_out(tmp_path) -> None:
    data = DataDir(tmp_path)
    data.write_table("items", _items())
    data.write_table("posts", _posts())
    cut = int((T0 + timedelta(hours=12)).timestamp() * 1_000_000)
    docs = item_documents(data, IdMap(["i1", "i2"]), posts_before_us=cut)
    assert docs == ["Trail shoes sports Peak old run", "Mango box fruit sweet"]
