"""The output is in the contract layout and internally consistent (ingest must accept every row)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from recsys.contract import TABLES
from recsys.datastore import DataDir
from recsys.synth import MANIFEST

from .conftest import SAMPLE, one


def test_every_part_has_exactly_the_contract_schema(sample_dir):
    data = DataDir(sample_dir)
    for spec in TABLES:
        parts = data.parts(spec.name)
        assert parts, spec.name
        for part in parts:
            assert pq.read_schema(part).remove_metadata() == spec.schema, part
        data.read_table(spec.name)
    n_chunks = -(-SAMPLE.n_users // SAMPLE.chunk_users)
    assert len(data.parts("events")) == n_chunks


def test_manifest_counts_match_the_tables(sample_dir):
    manifest = json.loads((sample_dir / MANIFEST).read_text())
    data = DataDir(sample_dir)
    for name, n in manifest["counts"].items():
        assert data.read_table(name).num_rows == n, name
    assert manifest["config"]["seed"] == SAMPLE.seed
    assert manifest["counts"]["users"] == SAMPLE.n_users


def test_ids_look_like_the_platform(con):
    assert one(con, "SELECT min(user_id) FROM users") == "u000000"
    assert one(con, "SELECT min(item_id) FROM items") == "i00000"
    assert one(con, "SELECT bool_and(regexp_matches(post_id, '^p[0-9]{7}$')) FROM posts")
    assert one(con, "SELECT bool_and(regexp_matches(event_id, '^e[0-9]{10}$')) FROM events")
    assert one(con, "SELECT bool_and(regexp_matches(group_id, '^g[0-9]{9}$')) FROM group_buys")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) - count(DISTINCT event_id) FROM events",
        "SELECT count(*) - count(DISTINCT post_id) FROM posts",
        "SELECT count(*) - count(DISTINCT (src, dst, kind)) FROM social_edges",
        "SELECT count(*) FROM events ANTI JOIN users USING (user_id)",
        "SELECT count(*) FROM events e ANTI JOIN items USING (item_id) WHERE e.item_id IS NOT NULL",
        "SELECT count(*) FROM events e ANTI JOIN posts USING (post_id) WHERE e.post_id IS NOT NULL",
        "SELECT count(*) FROM events e ANTI JOIN group_buys USING (group_id) "
        "WHERE e.group_id IS NOT NULL",
        "SELECT count(*) FROM posts p ANTI JOIN users u ON p.author_id = u.user_id",
        "SELECT count(*) FROM posts p ANTI JOIN circles USING (circle_id)",
        "SELECT count(*) FROM social_edges s ANTI JOIN users u ON s.dst = u.user_id",
        "SELECT count(*) FROM events WHERE item_id IS NULL AND post_id IS NULL",
        "SELECT count(*) FROM events WHERE type IN ('group_buy_start', 'group_buy_join') "
        "AND group_id IS NULL",
        "SELECT count(*) FROM social_edges WHERE src = dst",
        # time order
        "SELECT count(*) FROM events JOIN users USING (user_id) WHERE ts < signup_ts",
        "SELECT count(*) FROM events e JOIN items i USING (item_id) WHERE e.ts < i.created_ts",
        "SELECT count(*) FROM events e JOIN posts p USING (post_id) WHERE e.ts < p.created_ts",
        "SELECT count(*) FROM posts p JOIN users u ON p.author_id = u.user_id "
        "WHERE p.created_ts < u.signup_ts",
        "SELECT count(*) FROM posts p JOIN items i USING (item_id) "
        "WHERE p.created_ts < i.created_ts",
        "SELECT count(*) FROM group_buys WHERE deadline_ts <= created_ts OR target_size < 2",
        "SELECT count(*) FROM events e JOIN group_buys g USING (group_id) "
        "WHERE e.type = 'group_buy_join' AND (e.ts <= g.created_ts OR e.ts >= g.deadline_ts)",
        "SELECT count(*) FROM events WHERE ts >= TIMESTAMPTZ '2025-01-01 00:00:00+00' "
        "OR ts < TIMESTAMPTZ '2024-01-01 00:00:00+00'",
        "SELECT count(*) FROM items WHERE price < 0",
        # friendships are stored once per direction
        "SELECT count(*) FROM social_edges a WHERE kind = 'friend' AND NOT EXISTS (SELECT 1 FROM "
        "social_edges b WHERE b.kind = 'friend' AND b.src = a.dst AND b.dst = a.src)",
        # a review post's circle is its item's circle
        "SELECT count(*) FROM posts p JOIN items i USING (item_id) JOIN circles c "
        "ON p.circle_id = c.circle_id WHERE NOT list_contains(c.categories, i.category)",
        # every review post follows a purchase of its item by its author
        "SELECT count(*) FROM posts p WHERE item_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
        "events e WHERE e.user_id = p.author_id AND e.item_id = p.item_id AND e.type = 'purchase' "
        "AND e.ts <= p.created_ts)",
    ],
)
def test_integrity(con, sql):
    assert one(con, sql) == 0


def test_group_status_follows_the_joins(con):
    bad = one(
        con,
        """
        WITH j AS (SELECT group_id, count(*) n FROM events WHERE type = 'group_buy_join'
                   GROUP BY 1)
        SELECT count(*) FROM group_buys g LEFT JOIN j USING (group_id)
        WHERE (status = 'completed') <> (coalesce(n, 0) + 1 >= target_size)
           OR coalesce(n, 0) + 1 > target_size
           OR (status = 'open' AND deadline_ts < TIMESTAMPTZ '2025-01-01 00:00:00+00')
        """,
    )
    assert bad == 0
    statuses = {r[0] for r in con.execute("SELECT DISTINCT status FROM group_buys").fetchall()}
    assert {"completed", "failed"} <= statuses


def test_every_event_type_and_edge_kind_occurs(con):
    types = {r[0] for r in con.execute("SELECT DISTINCT type FROM events").fetchall()}
    assert types == {"view", "like", "comment", "share", "purchase", "group_buy_start",
                     "group_buy_join"}  # fmt: skip
    kinds = {r[0] for r in con.execute("SELECT DISTINCT kind FROM social_edges").fetchall()}
    assert kinds == {"friend", "shared_to", "blocked"}
    assert one(con, "SELECT count(*) FROM items WHERE status = 'delisted'") > 0
    assert one(con, "SELECT count(*) FROM posts WHERE deleted") > 0
    assert one(con, "SELECT count(*) FROM users WHERE share_opt_out") > 0


def test_opted_out_users_are_never_share_targets(con):
    assert (
        one(
            con,
            "SELECT count(*) FROM social_edges s JOIN users u ON s.dst = u.user_id "
            "WHERE s.kind = 'shared_to' AND u.share_opt_out",
        )
        == 0
    )


def test_shared_to_edges_go_to_friends_made_before_the_share(con):
    assert (
        one(
            con,
            "SELECT count(*) FROM social_edges s WHERE kind = 'shared_to' AND NOT EXISTS (SELECT 1 "
            "FROM social_edges f WHERE f.kind = 'friend' AND f.src = s.src AND f.dst = s.dst "
            "AND f.ts <= s.ts)",
        )
        == 0
    )


def test_output_folder_is_replaced_whole(tmp_path):
    from recsys.synth import SynthConfig, generate

    out = tmp_path / "d"
    generate(SynthConfig(n_users=200, seed=1), out)  # an earlier output, with a stale part
    (out / "events" / "part-00099.parquet").write_text("stale")
    generate(SynthConfig(n_users=200, seed=1), out)
    assert not (out / "events" / "part-00099.parquet").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_ingest_accepts_every_row(tmp_path):
    """The validated ingestion (recsys.ingest) quarantines nothing of a multi-chunk sample."""
    from recsys.ingest import ingest
    from recsys.synth import SynthConfig, generate

    generate(SynthConfig(n_users=600, seed=4, chunk_users=250), tmp_path / "raw")
    report = ingest(tmp_path / "raw", tmp_path / "processed").to_dict()
    for name, table in report["tables"].items():
        assert table["quarantined"] == 0, (name, table["reasons"])
        assert table["read"] == table["accepted"] > 0, name
