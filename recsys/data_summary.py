"""A short, human-readable summary of an ingested data directory (DuckDB over the Parquet parts)."""

from __future__ import annotations

from recsys.datastore import DataDir


def summarize(data: DataDir) -> dict[str, object]:
    """Row counts per table and the distributions people check first."""
    con = data.connect()
    present = {spec.name for spec in data.present()}
    out: dict[str, object] = {
        "rows": {
            name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            for name in sorted(present)
        }
    }
    if "events" in present:
        out["events_by_type"] = dict(
            con.execute("SELECT type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC").fetchall()
        )
        first, last = con.execute("SELECT min(ts), max(ts) FROM events").fetchone()
        out["event_span"] = f"{first} .. {last}"
    if "group_buys" in present:
        out["group_buys_by_status"] = dict(
            con.execute("SELECT status, count(*) FROM group_buys GROUP BY 1 ORDER BY 1").fetchall()
        )
    if "items" in present:
        out["group_buy_items"] = con.execute(
            "SELECT count(*) FILTER (WHERE is_group_buy) FROM items"
        ).fetchone()[0]
    if "social_edges" in present:
        out["edges_by_kind"] = dict(
            con.execute("SELECT kind, count(*) FROM social_edges GROUP BY 1 ORDER BY 1").fetchall()
        )
    con.close()
    return out
