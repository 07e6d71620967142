"""Posts and who engaged with them: what the circle feed ranks posts with.

Two reads of a data directory, both over the bundle's post id map (its index is the post's
row in every array):

- `read_post_facts`: each post's circle, author, item, creation time and deletion;
- `read_post_events`: one row per event on a post (user, post, time), optionally before a
  time (a model fitted on the past).

Rows naming a user or post the maps do not know are dropped and counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir
from recsys.features._sql import connection, has_view, register_idmap
from recsys.idmap import IdMap

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostFacts:
    """Per post (row = post index): circle, author, item, created time, deleted."""

    circle: np.ndarray  # int32, -1 for a circle the catalogue lacks
    author: np.ndarray  # int64 user index, -1 for an author the user map lacks
    item: np.ndarray  # int64 item index, -1 for none
    created: np.ndarray  # int64 epoch microseconds
    deleted: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.circle)

    @classmethod
    def empty(cls) -> PostFacts:
        return cls(np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64),
                   np.empty(0, np.int64), np.empty(0, bool))


def read_post_facts(
    data: DataDir, posts: IdMap, users: IdMap, items: IdMap, catalogue: CircleCatalogue
) -> PostFacts:
    """The posts table in `posts` order (a post the table lacks: circle -1, deleted)."""
    n = len(posts)
    if not n or not data.has_table("posts"):
        return PostFacts(np.full(n, -1, np.int32), np.full(n, -1, np.int64),
                         np.full(n, -1, np.int64), np.zeros(n, np.int64), np.ones(n, bool))
    table = data.read_table(
        "posts", ["post_id", "author_id", "circle_id", "item_id", "created_ts", "deleted"]
    )
    # Looked up in Arrow: no Python string or loop per post (10M at 10M users).
    rows = posts.to_index(table["post_id"])
    known = rows >= 0
    at = rows[known]
    circle = np.full(n, -1, np.int32)
    author = np.full(n, -1, np.int64)
    item = np.full(n, -1, np.int64)
    created = np.zeros(n, np.int64)
    deleted = np.ones(n, bool)
    circle_idx = pc.index_in(table["circle_id"].cast(pa.string()),
                             value_set=pa.array(catalogue.ids, pa.string()))  # fmt: skip
    circle[at] = np.asarray(circle_idx.fill_null(-1).to_numpy(), np.int32)[known]
    author[at] = users.to_index(table["author_id"])[known]
    item[at] = items.to_index(table["item_id"])[known]
    created[at] = table["created_ts"].cast(pa.int64()).to_numpy(zero_copy_only=False)[known]
    deleted[at] = pc.fill_null(table["deleted"], False).to_numpy(zero_copy_only=False)[known]
    return PostFacts(circle, author, item, created, deleted)


def read_post_events(
    data: DataDir, users: IdMap, posts: IdMap, *, before_us: int | None = None
) -> pd.DataFrame:
    """Events that name a post: columns user_idx, post_idx (int64), ts (epoch us), one row
    per event, in time order; `before_us` keeps the events before that time."""
    empty = pd.DataFrame({"user_idx": np.empty(0, np.int64), "post_idx": np.empty(0, np.int64),
                          "ts": np.empty(0, np.int64)})
    if not len(posts) or not data.has_table("events"):
        return empty
    with connection(data) as con:
        if not has_view(con, "events"):
            return empty
        register_idmap(con, "user_map", users, "user_id", "user_idx")
        register_idmap(con, "post_map", posts, "post_id", "post_idx")
        cut = "" if before_us is None else f"AND epoch_us(e.ts) < {int(before_us)}"
        found = con.execute(
            f"""SELECT u.user_idx, p.post_idx, epoch_us(e.ts) AS ts
            FROM events e
            LEFT JOIN user_map u ON e.user_id = u.user_id
            LEFT JOIN post_map p ON e.post_id = p.post_id
            WHERE e.post_id IS NOT NULL {cut}
            ORDER BY ts, u.user_idx, p.post_idx"""
        ).fetch_df()
    if found.empty:
        return empty
    ok = found["user_idx"].notna() & found["post_idx"].notna()
    if (~ok).any():
        logger.info("post events: %d name an unknown user or post and are dropped",
                    int((~ok).sum()))
    found = found[ok]
    return pd.DataFrame({
        "user_idx": found["user_idx"].to_numpy(np.int64),
        "post_idx": found["post_idx"].to_numpy(np.int64),
        "ts": found["ts"].to_numpy(np.int64),
    })
