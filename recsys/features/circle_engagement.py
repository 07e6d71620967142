"""How much each user engages with each interest circle, from UGC and from shopping.

Four count matrices, each (n_users, n_circles) with circles in catalogue order:

- ``posts_written``: posts the user wrote in the circle;
- ``posts_engaged``: likes, comments and shares of posts, by the post's circle (views are
  too cheap to count as engagement);
- ``purchases``: purchase events, by the item's category -> circle;
- ``item_events``: every event that names an item directly (any type), by category -> circle.
  Actions on posts count in ``posts_engaged`` only, so one action is never counted twice
  in the same matrix.

Deleted posts count nowhere by default: deletion is mostly moderation (spam, off-topic),
and a moderated post should not pull its author or its audience towards a circle.
Rows that cannot be placed (unknown user, circle or item, a category seeding no circle) are
counted and logged; the counts are returned under ``result.dropped``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recsys.circles import CircleCatalogue
from recsys.contract import EventType
from recsys.datastore import DataDir
from recsys.features._sql import connection, has_view, register_idmap
from recsys.idmap import IdMap

logger = logging.getLogger(__name__)

ENGAGING_POST_EVENTS: tuple[EventType, ...] = (
    EventType.LIKE,
    EventType.COMMENT,
    EventType.SHARE,
)
MATRICES: tuple[str, ...] = ("posts_written", "posts_engaged", "purchases", "item_events")


class Engagement(dict[str, sp.csr_matrix]):
    """The engagement matrices by name, plus ``dropped``: what could not be placed, by cause."""

    dropped: dict[str, int]


def user_circle_engagement(
    data: DataDir,
    users: IdMap,
    catalogue: CircleCatalogue,
    *,
    purchase_types: Iterable[EventType] = (EventType.PURCHASE,),
    include_deleted_posts: bool = False,
    before: datetime | None = None,
    exclude_types: Iterable[EventType] = (),
) -> Engagement:
    """Count matrices of user x circle engagement (see the module docstring).

    `before` keeps only posts and events before that time (a model fitted on the past, e.g.
    for share targeting held out by time); None keeps everything. `exclude_types` leaves those
    event types out of the item matrices (e.g. group joins, when they are what is predicted).

    Returns
    -------
    Engagement mapping each name of `MATRICES` to a (len(users), len(catalogue)) float32 CSR.
    """
    shape = (len(users), len(catalogue))
    result = Engagement({name: sp.csr_matrix(shape, dtype=np.float32) for name in MATRICES})
    result.dropped = {}
    with connection(data) as con:
        register_idmap(con, "user_map", users, "user_id", "user_idx")
        con.register(
            "circle_map",
            pa.table(
                {
                    "circle_id": pa.array(catalogue.ids, type=pa.string()),
                    "circle_idx": pa.array(np.arange(len(catalogue), dtype=np.int32)),
                }
            ),
        )
        mapping = catalogue.category_to_circle()
        con.register(
            "category_map",
            pa.table(
                {
                    "category": pa.array(list(mapping), type=pa.string()),
                    "circle_idx": pa.array(
                        [catalogue.index_of(c) for c in mapping.values()], type=pa.int32()
                    ),
                }
            ),
        )
        has_posts, has_events = has_view(con, "posts"), has_view(con, "events")
        if not has_view(con, "items"):
            # Without items no category is known: item events all count as unplaceable.
            con.execute("CREATE TEMP TABLE items (item_id VARCHAR, category VARCHAR)")
        live = "TRUE" if include_deleted_posts else "NOT p.deleted"
        if before is not None:
            if before.tzinfo is None:
                raise ValueError(f"before must carry a time zone; got {before.isoformat()}")
            cut = f"'{before.isoformat()}'::TIMESTAMPTZ"
            live = f"{live} AND p.created_ts < {cut}"
        in_time = "TRUE" if before is None else f"e.ts < '{before.isoformat()}'::TIMESTAMPTZ"
        excluded = list(exclude_types)
        item_filter = in_time + (f" AND e.type NOT IN ({_sql_list(excluded)})" if excluded else "")
        if has_posts:
            written = _grouped(
                con,
                f"""SELECT u.user_idx, c.circle_idx, count(*) AS n
                FROM posts p
                LEFT JOIN user_map u ON p.author_id = u.user_id
                LEFT JOIN circle_map c ON p.circle_id = c.circle_id
                WHERE {live} GROUP BY ALL""",
            )
            result["posts_written"] = _to_csr(written, "n", shape, "posts_written", result.dropped)
        if has_posts and has_events:
            engaged = _grouped(
                con,
                f"""SELECT u.user_idx, c.circle_idx, count(*) AS n
                FROM events e
                JOIN posts p ON e.post_id = p.post_id
                LEFT JOIN user_map u ON e.user_id = u.user_id
                LEFT JOIN circle_map c ON p.circle_id = c.circle_id
                WHERE e.type IN ({_sql_list(ENGAGING_POST_EVENTS)}) AND {live} AND {in_time}
                GROUP BY ALL""",
            )
            result["posts_engaged"] = _to_csr(engaged, "n", shape, "posts_engaged", result.dropped)
        if has_events:
            by_item = _grouped(
                con,
                f"""SELECT u.user_idx, cm.circle_idx,
                    count(*) FILTER (WHERE e.type IN ({_sql_list(purchase_types)})) AS purchases,
                    count(*) AS item_events
                FROM events e
                LEFT JOIN items it ON e.item_id = it.item_id
                LEFT JOIN category_map cm ON it.category = cm.category
                LEFT JOIN user_map u ON e.user_id = u.user_id
                WHERE e.item_id IS NOT NULL AND {item_filter} GROUP BY ALL""",
            )
            for name in ("purchases", "item_events"):
                result[name] = _to_csr(by_item, name, shape, name, result.dropped)
            if result.dropped["item_events.no_circle"]:
                _log_unmapped_categories(con)
    logger.info(
        "circle engagement over %d users x %d circles: %s; dropped %s",
        shape[0],
        shape[1],
        {name: int(m.sum()) for name, m in result.items()},
        result.dropped,
    )
    return result


def _grouped(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, np.ndarray]:
    """Run an aggregate query; NULL indices (unresolved rows) come back as -1."""
    out = con.execute(sql).fetchnumpy()
    return {
        k: np.ma.filled(v.astype(np.int64), -1) if np.ma.isMaskedArray(v) else np.asarray(v)
        for k, v in out.items()
    }


def _to_csr(
    grouped: dict[str, np.ndarray],
    column: str,
    shape: tuple[int, int],
    name: str,
    dropped: dict[str, int],
) -> sp.csr_matrix:
    users, circles = grouped["user_idx"], grouped["circle_idx"]
    counts = np.asarray(grouped[column], dtype=np.float64)
    unknown_user = users < 0
    no_circle = ~unknown_user & (circles < 0)
    dropped[f"{name}.unknown_user"] = int(counts[unknown_user].sum())
    dropped[f"{name}.no_circle"] = int(counts[no_circle].sum())
    ok = ~unknown_user & ~no_circle & (counts > 0)
    return sp.csr_matrix(
        (counts[ok].astype(np.float32), (users[ok], circles[ok])), shape=shape, dtype=np.float32
    )


def _log_unmapped_categories(con: duckdb.DuckDBPyConnection) -> None:
    """Name the item categories that seed no circle: a catalogue gap worth fixing."""
    rows = con.execute(
        """SELECT it.category, count(*) AS n FROM events e
        JOIN items it ON e.item_id = it.item_id
        ANTI JOIN category_map cm ON it.category = cm.category
        GROUP BY ALL ORDER BY n DESC, it.category LIMIT 10"""
    ).fetchall()
    if rows:
        logger.warning("item categories seeding no circle (top by events): %s", rows)


def _sql_list(values: Iterable[str]) -> str:
    """An SQL IN-list of enum values (never user text, so quoting is safe)."""
    return ", ".join(f"'{EventType(v).value}'" for v in values)
