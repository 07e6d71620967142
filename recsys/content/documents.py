"""One text document per item: its catalogue fields plus the UGC posts that name it.

Titles alone are short and written by merchants; the posts of the community say what an item
is *for* ("my kid loves this for camping"), which is what connects a new item to its buyers.
The join and aggregation run in DuckDB, so the same code serves a data directory (training) and
in-memory Arrow tables (catalogue refresh between retrains).
"""

from __future__ import annotations

import logging

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys.contract import ITEMS, POSTS, conform
from recsys.datastore import DataDir
from recsys.errors import ConfigError, ContractError
from recsys.idmap import IdMap

logger = logging.getLogger(__name__)

# Posts newest first: a capped document then keeps the freshest talk about an item, and a
# refresh that adds posts to a long-discussed item still changes its text. Ties on time are
# broken by post_id, so the text (and hence the vector) is deterministic.
_SQL = """
WITH wanted AS (
    SELECT item_id, pos FROM wanted_ids
),
live AS (
    SELECT p.item_id, p.text,
           sum(length(p.text) + 1) OVER (
               PARTITION BY p.item_id ORDER BY p.created_ts DESC, p.post_id
               ROWS UNBOUNDED PRECEDING) AS upto,
           length(p.text) + 1 AS len,
           p.created_ts, p.post_id
    FROM posts p JOIN wanted w USING (item_id)
    WHERE NOT p.deleted AND p.item_id IS NOT NULL AND length(p.text) > 0
      AND ($before_us IS NULL OR epoch_us(p.created_ts) < $before_us)
),
agg AS (
    SELECT item_id,
           left(string_agg(text, ' ' ORDER BY created_ts DESC, post_id), $max_chars) AS post_text
    FROM live
    WHERE upto - len < $max_chars
    GROUP BY item_id
)
SELECT w.pos,
       concat_ws(' ', i.title, i.category, i.brand, a.post_text) AS doc,
       i.item_id IS NOT NULL AS found
FROM wanted w
LEFT JOIN items i USING (item_id)
LEFT JOIN agg a USING (item_id)
ORDER BY w.pos
"""

_EMPTY_POSTS = """
CREATE TEMP TABLE posts (item_id VARCHAR, text VARCHAR, deleted BOOLEAN,
                         created_ts TIMESTAMPTZ, post_id VARCHAR)
"""


def _documents(
    con: duckdb.DuckDBPyConnection,
    items: IdMap,
    max_post_chars: int,
    posts_before_us: int | None = None,
) -> list[str]:
    """Run the document query on a connection that has `items` and `posts` relations."""
    if max_post_chars < 0:
        raise ConfigError(f"max_post_chars must be >= 0; got {max_post_chars}")
    wanted = pa.table(
        {
            "item_id": pa.array(items.ids, type=pa.string()),
            "pos": pa.array(np.arange(len(items), dtype=np.int64)),
        }
    )
    con.register("wanted_ids", wanted)
    before = None if posts_before_us is None else int(posts_before_us)
    params = {"max_chars": int(max_post_chars), "before_us": before}
    result = con.sql(_SQL, params=params).to_arrow_table()
    found = result.column("found").to_numpy(zero_copy_only=False)
    if not found.all():
        missing = items.ids[~found][:5].tolist()
        raise ContractError(
            f"{int((~found).sum())} item id(s) of the IdMap are not in the items table, "
            f"e.g. {missing}"
        )
    if result.num_rows != len(items):
        raise ContractError(
            f"the items table repeats item ids: {result.num_rows} rows for {len(items)} ids"
        )
    doc_column = result.column("doc")
    mean_chars = pc.mean(pc.utf8_length(doc_column)).as_py() if len(items) else 0.0
    logger.info(
        "built %d item documents (mean %.0f chars, post text capped at %d chars)",
        len(items), mean_chars or 0.0, max_post_chars,
    )
    return doc_column.to_pylist()


def item_documents(
    data: DataDir,
    items: IdMap,
    *,
    max_post_chars: int = 2000,
    posts_before_us: int | None = None,
) -> list[str]:
    """Documents of the items of a data directory, in IdMap order.

    Each document is ``title category brand`` followed by the text of the item's non-deleted
    posts, newest first, cut at `max_post_chars` characters. With `posts_before_us` (epoch
    microseconds) only posts created before it count: an evaluation with a time cut must not
    read posts written in its test period. A missing posts table means no post text. Raises
    ContractError when an IdMap id has no row in the items table.
    """
    con = data.connect()
    try:
        if not data.has_table(POSTS.name):
            con.execute(_EMPTY_POSTS)
        if not data.has_table(ITEMS.name):
            raise ContractError(f"{data.table_dir(ITEMS.name)}: no items table")
        return _documents(con, items, max_post_chars, posts_before_us)
    finally:
        con.close()


def documents_from_tables(
    items_table: pa.Table,
    posts_table: pa.Table | None,
    items: IdMap,
    *,
    max_post_chars: int = 2000,
) -> list[str]:
    """Documents built from in-memory contract tables (the catalogue-refresh path).

    Same output as `item_documents`; `posts_table` may be None (no posts yet). Both tables are
    cast to the contract schema first, so a missing column fails with the column named.
    """
    con = duckdb.connect()
    try:
        con.register("items", conform(items_table, ITEMS))
        if posts_table is None:
            con.execute(_EMPTY_POSTS)
        else:
            con.register("posts", conform(posts_table, POSTS))
        return _documents(con, items, max_post_chars)
    finally:
        con.close()
