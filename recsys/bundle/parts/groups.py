"""The posts and group buys part: what judging a live event needs, and what fold-in reads.

Events posted between retrains (`recsys.events`) name posts and group buys; the ingest rules
check those references and a group event against its group's item, initiator and lifetime.
So a bundle keeps the post and group id maps, each post's item (an action on a post counts
for the item it names, `recsys.features.interactions`), and each group's facts. Small next
to the user side: one row per post and per group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_array, load_table, save_array, save_table
from recsys.contract import GROUP_BUYS, EventType
from recsys.datastore import DataDir
from recsys.errors import BundleError
from recsys.idmap import IdMap

#: Columns of the group facts table: the contract's group_buys columns, then `started`
#: (an accepted group_buy_start event exists in the training data).
GROUP_COLUMNS: tuple[str, ...] = (*GROUP_BUYS.schema.names, "started")


@dataclass(frozen=True)
class PostsAndGroups:
    """Posts and group buys of the training data (or of the refreshed data).

    Attributes
    ----------
    posts : post id map (index = row of the arrays below).
    post_item : (n_posts,) int64 index of the item the post names, -1 for none.
    post_deleted : (n_posts,) bool.
    groups : group id map (index = row of `group_facts`).
    group_facts : Arrow table, one row per group in index order, `GROUP_COLUMNS`.
    """

    posts: IdMap
    post_item: np.ndarray
    post_deleted: np.ndarray
    groups: IdMap
    group_facts: pa.Table

    def __post_init__(self) -> None:
        n_posts, n_groups = len(self.posts), len(self.groups)
        sizes = (len(self.post_item), len(self.post_deleted), self.group_facts.num_rows)
        if sizes != (n_posts, n_posts, n_groups):
            raise BundleError(
                f"posts and groups part: {n_posts} posts and {n_groups} groups, but arrays of "
                f"{sizes[0]}, {sizes[1]} and a facts table of {sizes[2]} rows"
            )

    @classmethod
    def from_data(cls, data: DataDir, items: IdMap) -> PostsAndGroups:
        """Read the posts and group_buys tables (either may be absent: then empty)."""
        if data.has_table("posts"):
            posts = data.read_table("posts", ["post_id", "item_id", "deleted"])
            post_ids = posts["post_id"]
            post_item = items.to_index(posts["item_id"])  # a null item: -1
            deleted = posts["deleted"].to_numpy(zero_copy_only=False).astype(bool)
        else:
            post_ids = pa.array([], pa.string())
            post_item, deleted = np.empty(0, np.int64), np.empty(0, bool)
        if data.has_table("group_buys"):
            groups = data.read_table("group_buys")
        else:
            groups = GROUP_BUYS.schema.empty_table()
        started = _started_groups(data)
        is_started = pc.is_in(groups["group_id"], value_set=started)
        facts = groups.append_column("started", pc.fill_null(is_started, False))
        return cls(
            posts=IdMap(post_ids),
            post_item=np.asarray(post_item, np.int64),
            post_deleted=np.asarray(deleted, bool),
            groups=IdMap(groups["group_id"]),
            group_facts=facts,
        )

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        paths.path(layout.POSTS).parent.mkdir(parents=True, exist_ok=True)
        self.posts.save(paths.path(layout.POSTS), column="post_id")
        self.groups.save(paths.path(layout.GROUPS), column="group_id")
        save_array(paths.path(layout.POST_ITEM), self.post_item.astype(np.int64))
        save_array(paths.path(layout.POST_DELETED), self.post_deleted.astype(bool))
        save_table(paths.path(layout.GROUP_FACTS), self.group_facts.select(list(GROUP_COLUMNS)))

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> PostsAndGroups:
        paths = BundleLayout(root)
        try:
            posts, groups = IdMap.load(paths.path(layout.POSTS)), IdMap.load(
                paths.path(layout.GROUPS)
            )
        except FileNotFoundError as exc:
            raise BundleError(f"{exc.filename}: missing from the bundle") from None
        return cls(
            posts=posts,
            post_item=load_array(paths.path(layout.POST_ITEM), mmap=mmap),
            post_deleted=load_array(paths.path(layout.POST_DELETED), mmap=mmap),
            groups=groups,
            group_facts=load_table(paths.path(layout.GROUP_FACTS), mmap=mmap),
        )


def _started_groups(data: DataDir) -> pa.Array:
    """Group ids with an accepted group_buy_start event (ingest keeps one per group)."""
    if not data.has_table("events"):
        return pa.array([], pa.string())
    with data.connect() as con:
        found = con.sql(
            "SELECT DISTINCT group_id FROM events WHERE type = "
            f"'{EventType.GROUP_BUY_START.value}' AND group_id IS NOT NULL"
        ).to_arrow_table()
    return found.column(0).combine_chunks().cast(pa.string())
