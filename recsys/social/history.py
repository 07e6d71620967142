"""What share targeting learns from, as arrays over user and item indices.

Past group buys (failed ones too: a friend who was asked and did not join is signal), who
joined them and when, who shared with whom (`shared_to` edges), every other item event (views
to purchases: the friends' own taste and activity), friendships with their start times,
blocks, share opt-outs and each item's circle. Read once from a data directory with DuckDB;
everything downstream is numpy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.circles import CircleCatalogue
from recsys.contract import EdgeKind, EventType, GroupBuyStatus
from recsys.datastore import DataDir
from recsys.errors import InvalidInputError
from recsys.features._sql import connection, has_view, register_idmap
from recsys.idmap import IdMap
from recsys.social.graph import symmetric_edges

logger = logging.getLogger(__name__)

#: Status codes of `ShareHistory.group_status`.
STATUS_CODES: dict[str, int] = {
    GroupBuyStatus.OPEN: 0,
    GroupBuyStatus.COMPLETED: 1,
    GroupBuyStatus.FAILED: 2,
}
#: Item events that spend money (a group start or join is a group event, kept apart).
BUY_TYPES: tuple[str, ...] = (EventType.PURCHASE.value,)
_GROUP_TYPES = (EventType.GROUP_BUY_START.value, EventType.GROUP_BUY_JOIN.value)


@dataclass(frozen=True)
class ShareHistory:
    """Past behaviour in index space; times are int64 epoch microseconds.

    Attributes
    ----------
    n_users, n_items : sizes of the user and item index spaces.
    group_id, group_initiator, group_item, group_created, group_deadline, group_target,
    group_status : (G,) one entry per group buy (string id first); status codes in
        `STATUS_CODES`.
    join_group, join_user, join_ts : (J,) one entry per join.
    share_src, share_dst, share_ts : (S,) `shared_to` edges (first share from src to dst).
    event_user, event_item, event_ts, event_bought : (E,) item events outside group buys;
        bought marks purchases.
    friend_src, friend_dst, friend_ts : (F,) friendships, both directions.

    Indices are int64, except that a history read from data keeps the events' and
    friendships' user and item indices as DuckDB's int32 (~100M rows each at 10M users: 1.4 GB
    less): keys made of them go through `pair_keys`.
    blocked : (n_users, n_users) CSR, nonzero where the row user blocked the column user.
    opt_out : (n_users,) bool, never suggest as a share target.
    item_circle : (n_items,) int64 circle index of each item, -1 when none.
    """

    n_users: int
    n_items: int
    group_id: np.ndarray
    group_initiator: np.ndarray
    group_item: np.ndarray
    group_created: np.ndarray
    group_deadline: np.ndarray
    group_target: np.ndarray
    group_status: np.ndarray
    join_group: np.ndarray
    join_user: np.ndarray
    join_ts: np.ndarray
    share_src: np.ndarray
    share_dst: np.ndarray
    share_ts: np.ndarray
    event_user: np.ndarray
    event_item: np.ndarray
    event_ts: np.ndarray
    event_bought: np.ndarray
    friend_src: np.ndarray
    friend_dst: np.ndarray
    friend_ts: np.ndarray
    blocked: sp.csr_matrix
    opt_out: np.ndarray
    item_circle: np.ndarray

    def __post_init__(self) -> None:
        groups = {f: len(getattr(self, f)) for f in _GROUP_FIELDS}
        if len(set(groups.values())) != 1:
            raise InvalidInputError(f"group arrays differ in length: {groups}")
        for names in (_JOIN_FIELDS, _SHARE_FIELDS, _EVENT_FIELDS, _FRIEND_FIELDS):
            lengths = {f: len(getattr(self, f)) for f in names}
            if len(set(lengths.values())) != 1:
                raise InvalidInputError(f"arrays differ in length: {lengths}")
        if len(self.opt_out) != self.n_users or len(self.item_circle) != self.n_items:
            raise InvalidInputError(
                f"opt_out has {len(self.opt_out)} users and item_circle {len(self.item_circle)} "
                f"items; expected {self.n_users} and {self.n_items}"
            )
        if self.blocked.shape != (self.n_users, self.n_users):
            raise InvalidInputError(f"blocked must be ({self.n_users}, {self.n_users})")
        if len(self.join_group) and (
            self.join_group.min() < 0 or self.join_group.max() >= len(self.group_item)
        ):
            raise InvalidInputError("join_group names a group outside the group arrays")

    @property
    def n_groups(self) -> int:
        return len(self.group_item)

    @property
    def dated(self) -> bool:
        """Whether times carry information (undated data sets use one constant time)."""
        times = np.concatenate([self.group_created, self.join_ts, self.event_ts])
        return bool(len(times)) and bool(times.min() != times.max())

    def friends(self, before: int | None = None) -> sp.csr_matrix:
        """(n_users, n_users) symmetric 0/1 float32 CSR of friendships made at or before
        `before` (all when None): `symmetric_edges`, as the bundle's social graph holds them."""
        keep = slice(None) if before is None else self.friend_ts <= before
        return symmetric_edges(self.friend_src[keep], self.friend_dst[keep], self.n_users)

    def until(self, cut: int) -> ShareHistory:
        """The history known at `cut`: groups created before it, and the joins, shares, item
        events and friendships before it (a later group's joins are its outcome, not history)."""
        keep_group = self.group_created < cut
        new_index = np.cumsum(keep_group) - 1
        keep_join = keep_group[self.join_group] & (self.join_ts < cut)
        keep_share = self.share_ts < cut
        keep_event = self.event_ts < cut
        keep_friend = self.friend_ts < cut
        changes = {f: getattr(self, f)[keep_group] for f in _GROUP_FIELDS}
        changes |= {f: getattr(self, f)[keep_join] for f in _JOIN_FIELDS}
        changes["join_group"] = new_index[self.join_group[keep_join]]
        changes |= {f: getattr(self, f)[keep_share] for f in _SHARE_FIELDS}
        changes |= {f: getattr(self, f)[keep_event] for f in _EVENT_FIELDS}
        changes |= {f: getattr(self, f)[keep_friend] for f in _FRIEND_FIELDS}
        return replace(self, **changes)

    def select_groups(self, keep: np.ndarray) -> ShareHistory:
        """The same history with only the groups `keep` (bool (G,)) and their joins."""
        keep = np.asarray(keep, bool)
        new_index = np.cumsum(keep) - 1
        keep_join = keep[self.join_group]
        changes = {f: getattr(self, f)[keep] for f in _GROUP_FIELDS}
        changes |= {f: getattr(self, f)[keep_join] for f in _JOIN_FIELDS}
        changes["join_group"] = new_index[self.join_group[keep_join]]
        return replace(self, **changes)

    def initiators(self) -> np.ndarray:
        """(n_users,) bool: users who started a group buy of this history."""
        out = np.zeros(self.n_users, bool)
        out[self.group_initiator] = True
        return out

    def friends_of(self, users: np.ndarray) -> np.ndarray:
        """(n_users,) bool: users who were ever a friend of one of `users` ((n_users,) bool)."""
        out = np.zeros(self.n_users, bool)
        out[self.friend_dst[users[self.friend_src]]] = True
        out[self.friend_src[users[self.friend_dst]]] = True
        return out

    def without_counted_events(self) -> ShareHistory:
        """The same history without its item events and friendships: once a `ShareIndex`
        counts them, the groups are all training still reads (both are GBs at 10M users).
        Whether the history is `dated` is then read from its groups and joins alone."""
        empty = np.zeros(0, np.int64)
        return replace(self, event_user=empty, event_item=empty, event_ts=empty,
                       event_bought=np.zeros(0, bool), friend_src=empty, friend_dst=empty,
                       friend_ts=empty)  # fmt: skip

    def joiners(self) -> sp.csr_matrix:
        """(G, n_users) 0/1 CSR of who joined each group."""
        m = sp.csr_matrix(
            (np.ones(len(self.join_group), np.float32), (self.join_group, self.join_user)),
            shape=(self.n_groups, self.n_users),
        )
        m.data[:] = 1.0
        return m


_GROUP_FIELDS = tuple(f.name for f in fields(ShareHistory) if f.name.startswith("group_"))
_JOIN_FIELDS = ("join_group", "join_user", "join_ts")
_SHARE_FIELDS = ("share_src", "share_dst", "share_ts")
_EVENT_FIELDS = ("event_user", "event_item", "event_ts", "event_bought")
_FRIEND_FIELDS = ("friend_src", "friend_dst", "friend_ts")


def load_share_history(
    data: DataDir, users: IdMap, items: IdMap, catalogue: CircleCatalogue
) -> ShareHistory:
    """Read a data directory's group buys, joins, shares, item events and social edges.

    Rows naming unknown users, items or groups are left out and counted in the log (an
    ingested data directory has none).
    """
    with connection(data) as con:
        register_idmap(con, "user_map", users, "user_id", "user_idx")
        register_idmap(con, "item_map", items, "item_id", "item_idx")
        groups = _groups(con)
        register_idmap(con, "group_map", IdMap(groups["id"]), "group_id", "group_idx")
        joins = _query(
            con, "events", ["user_idx", "group_idx", "ts"],
            f"""SELECT u.user_idx, g.group_idx, epoch_us(e.ts) AS ts FROM events e
            JOIN user_map u ON e.user_id = u.user_id JOIN group_map g ON e.group_id = g.group_id
            WHERE e.type = '{EventType.GROUP_BUY_JOIN.value}'""",
        )  # fmt: skip
        buy = ", ".join(f"'{t}'" for t in BUY_TYPES)
        skip = ", ".join(f"'{t}'" for t in _GROUP_TYPES)
        events = _query(
            con, "events", ["user_idx", "item_idx", "ts", "bought"],
            f"""SELECT u.user_idx, i.item_idx, epoch_us(e.ts) AS ts, e.type IN ({buy}) AS bought
            FROM events e JOIN user_map u ON e.user_id = u.user_id
            JOIN item_map i ON e.item_id = i.item_id
            WHERE e.type NOT IN ({skip}) AND e.group_id IS NULL""",
            ordered=False, narrow=True,
        )  # fmt: skip
        edges = {kind: _edges(con, kind, narrow=kind == EdgeKind.FRIEND) for kind in EdgeKind}
        opt_out = np.zeros(len(users), bool)
        if has_view(con, "users"):
            flags = con.execute(
                "SELECT m.user_idx, u.share_opt_out FROM users u "
                "JOIN user_map m ON u.user_id = m.user_id"
            ).fetchnumpy()
            opt_out[np.asarray(flags["user_idx"], np.int64)] = np.asarray(
                flags["share_opt_out"], bool
            )
    item_circle = _item_circles(data, items, catalogue)
    blocked = edges[EdgeKind.BLOCKED]
    history = ShareHistory(
        n_users=len(users),
        n_items=len(items),
        **{f"group_{k}": v for k, v in groups.items()},
        join_group=joins["group_idx"], join_user=joins["user_idx"], join_ts=joins["ts"],
        share_src=edges[EdgeKind.SHARED_TO][0], share_dst=edges[EdgeKind.SHARED_TO][1],
        share_ts=edges[EdgeKind.SHARED_TO][2],
        event_user=events["user_idx"], event_item=events["item_idx"], event_ts=events["ts"],
        event_bought=events["bought"].astype(bool),
        friend_src=edges[EdgeKind.FRIEND][0], friend_dst=edges[EdgeKind.FRIEND][1],
        friend_ts=edges[EdgeKind.FRIEND][2],
        blocked=sp.csr_matrix(
            (np.ones(len(blocked[0]), np.float32), (blocked[0], blocked[1])),
            shape=(len(users), len(users)),
        ),
        opt_out=opt_out,
        item_circle=item_circle,
    )  # fmt: skip
    logger.info(
        "share history: %d groups, %d joins, %d shares, %d item events, %d friendships, "
        "%d opted out", history.n_groups, len(history.join_user), len(history.share_src),
        len(history.event_user), len(history.friend_src) // 2, int(opt_out.sum()),
    )  # fmt: skip
    return history


def _query(con, table: str, columns: list[str], sql: str, *, ordered: bool = True,
           narrow: bool = False) -> dict[str, np.ndarray]:  # fmt: skip
    """Run `sql` when `table` exists; empty int64 arrays of `columns` otherwise.

    `ordered` sorts the rows (a fixed order whatever DuckDB's threads do). Item events skip
    it: every count over them is the same in any order, and sorting ~100M rows (10M users)
    held a second copy of them in DuckDB while the result was read. `narrow` keeps the
    id maps' int32 indices as they come (the events and friendships); otherwise every
    column is int64."""
    if not has_view(con, table):
        return {c: np.zeros(0, np.int64) for c in columns}
    out = con.execute(sql + (" ORDER BY ALL" if ordered else "")).fetchnumpy()
    return {c: np.asarray(out[c], bool if c == "bought" else None if narrow else np.int64)
            for c in columns}  # fmt: skip


def _groups(con) -> dict[str, np.ndarray]:
    cols = ["id", "initiator", "item", "created", "deadline", "target", "status"]
    if not has_view(con, "group_buys"):
        return {c: np.zeros(0, object if c == "id" else np.int64) for c in cols}
    case = " ".join(f"WHEN '{s}' THEN {code}" for s, code in STATUS_CODES.items())
    out = con.execute(
        f"""SELECT g.group_id AS id, u.user_idx AS initiator, i.item_idx AS item,
        epoch_us(g.created_ts) AS created, epoch_us(g.deadline_ts) AS deadline,
        g.target_size AS target, CASE g.status {case} ELSE -1 END AS status
        FROM group_buys g JOIN user_map u ON g.initiator_id = u.user_id
        JOIN item_map i ON g.item_id = i.item_id ORDER BY created, g.group_id"""
    ).fetchnumpy()
    return {c: np.asarray(out[c], object if c == "id" else np.int64) for c in cols}


def _edges(con, kind: str, *, narrow: bool = False
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    out = _query(
        con, "social_edges", ["src", "dst", "ts"],
        f"""SELECT a.user_idx AS src, b.user_idx AS dst, epoch_us(e.ts) AS ts
        FROM social_edges e JOIN user_map a ON e.src = a.user_id
        JOIN user_map b ON e.dst = b.user_id
        WHERE e.kind = '{kind}' AND a.user_idx <> b.user_idx""",
        narrow=narrow,
    )  # fmt: skip
    return out["src"], out["dst"], out["ts"]


def _item_circles(data: DataDir, items: IdMap, catalogue: CircleCatalogue) -> np.ndarray:
    """(n_items,) circle index of each item through its category; -1 when none."""
    table = data.read_table("items", ["item_id", "category"])
    rows = items.to_index(table["item_id"])
    circle_of = {cat: catalogue.index_of(c) for cat, c in catalogue.category_to_circle().items()}
    category = pd.Series(table["category"].to_numpy(zero_copy_only=False))
    out = np.full(len(items), -1, np.int64)
    known = rows >= 0
    out[rows[known]] = category[known].map(circle_of).fillna(-1).to_numpy(np.int64)
    return out
