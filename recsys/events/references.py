"""The accepted rows a live row may name: the bundle's, then those the store accepted since.

Both the judge (`recsys.events.judge`, the ingest rules' `acc_<table>` tables) and the
runtime's live group step read group buys and posts through here, so a group opened after
training is the same group to both. Lookups take the ids a batch or an answer names, never
whole tables: a batch of 100 costs the same against 10M users as against 100.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from recsys.bundle.parts import BundleParts
from recsys.contract import TIMESTAMP
from recsys.events.store import EventStore
from recsys.idmap import IdMap

#: Columns of `References.groups` (the contract's group_buys columns, then `started`).
GROUP_FIELDS = ("group_id", "item_id", "initiator_id", "created_ts", "deadline_ts",
                "target_size", "status", "started")  # fmt: skip


class References:
    """Known ids and group facts over one bundle's parts and a store."""

    def __init__(self, parts: BundleParts, store: EventStore) -> None:
        self.parts = parts
        self.store = store

    def known_users(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids),) bool: which users the bundle knows."""
        return self.parts.ids.users.to_index(ids) >= 0

    def items(self, ids: Iterable[str]) -> pa.Table:
        return _keys("item_id", _known(self.parts.ids.items, ids))

    def circles(self, ids: Iterable[str]) -> pa.Table:
        return _keys("circle_id", sorted(set(ids) & set(self.parts.circles.catalogue.ids)))

    def posts(self, ids: Iterable[str]) -> pa.Table:
        wanted = set(ids)
        known = set(_known(self.parts.posts_groups.posts, wanted))
        live = self.store.rows("posts", wanted - known).column("post_id").to_pylist()
        return _keys("post_id", sorted(known | set(live)))

    def groups(self, ids: Iterable[str]) -> pa.Table:
        """`GROUP_FIELDS` of the groups among `ids` (the bundle's first, then the store's);
        `started`: a group_buy_start was accepted, at training or since."""
        wanted = sorted(set(ids))
        pg = self.parts.posts_groups
        rows = pg.groups.to_index(wanted)
        bundle = pg.group_facts.take(pa.array(rows[rows >= 0], pa.int64()))
        live = self.store.rows("group_buys", set(wanted) - set(bundle["group_id"].to_pylist()))
        started = self.store.started(wanted)
        group_ids = bundle["group_id"].to_pylist() + live["group_id"].to_pylist()
        was_started = bundle["started"].to_pylist() + [False] * live.num_rows
        columns = {
            "group_id": group_ids,
            "item_id": bundle["item_id"].to_pylist() + live["item_id"].to_pylist(),
            "initiator_id": bundle["initiator_id"].to_pylist() + live["initiator_id"].to_pylist(),
            "created_ts": _us(bundle["created_ts"]) + live["created_us"].to_pylist(),
            "deadline_ts": _us(bundle["deadline_ts"]) + live["deadline_us"].to_pylist(),
            "target_size": bundle["target_size"].to_pylist() + live["target_size"].to_pylist(),
            "status": bundle["status"].to_pylist() + live["status"].to_pylist(),
            "started": [s or g in started for s, g in zip(was_started, group_ids, strict=True)],
        }
        return pa.table({
            "group_id": pa.array(columns["group_id"], pa.string()),
            "item_id": pa.array(columns["item_id"], pa.string()),
            "initiator_id": pa.array(columns["initiator_id"], pa.string()),
            "created_ts": pa.array(columns["created_ts"], pa.int64()).cast(TIMESTAMP),
            "deadline_ts": pa.array(columns["deadline_ts"], pa.int64()).cast(TIMESTAMP),
            "target_size": pa.array(columns["target_size"], pa.int32()),
            "status": pa.array(columns["status"], pa.string()),
            "started": pa.array(columns["started"], pa.bool_()),
        })


def _us(column: pa.ChunkedArray) -> list[int]:
    return column.cast(pa.int64()).to_pylist()


def _known(idmap: IdMap, ids: Iterable[str]) -> list[str]:
    ordered = sorted(set(ids))
    return [w for w, i in zip(ordered, idmap.to_index(ordered), strict=True) if i >= 0]


def _keys(name: str, ids: list[str]) -> pa.Table:
    return pa.table({name: pa.array(ids, pa.string())})
