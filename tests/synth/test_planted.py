"""The planted structure is there, and noisy: homophily, heavy tail, group buys, interests."""

from __future__ import annotations

import pytest

from .conftest import SAMPLE, one


def test_interests_are_sparse_weights_summing_to_one(con):
    assert one(con, "SELECT max(abs(s - 1)) FROM (SELECT sum(weight) s FROM truth_user_interests "
                    "GROUP BY user_id)") < 1e-5  # fmt: skip
    per_user = one(con, "SELECT avg(n) FROM (SELECT count(*) n FROM truth_user_interests "
                        "GROUP BY user_id)")  # fmt: skip
    assert 2.5 < per_user < 3.5  # interests_per_user = 3 of 21 circles
    assert one(con, "SELECT count(DISTINCT user_id) FROM truth_user_interests") == SAMPLE.n_users


def test_member_rule(con):
    # member = weight >= member_threshold, and the top circle always counts.
    bad = one(
        con,
        f"""
        SELECT count(*) FROM (
          SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY weight DESC) r
          FROM truth_user_interests)
        WHERE member <> (weight >= {SAMPLE.member_threshold} OR r = 1)
        """,
    )
    assert bad == 0


def test_actions_follow_interests_with_noise(con):
    share = one(
        con,
        """
        SELECT avg(CASE WHEN t.user_id IS NOT NULL THEN 1 ELSE 0 END)
        FROM events e JOIN items i USING (item_id) JOIN circles c
          ON list_contains(c.categories, i.category)
        LEFT JOIN truth_user_interests t ON t.user_id = e.user_id AND t.circle_id = c.circle_id
        WHERE e.type = 'view'
        """,
    )
    # Most views fall in the user's circles, but a real share falls outside (noise_share = 0.2).
    assert 0.7 < share < 0.95


def test_social_graph_has_homophily_and_spread_degrees(con):
    shared = """
        SELECT avg(CASE WHEN EXISTS (SELECT 1 FROM truth_user_interests a
                   JOIN truth_user_interests b USING (circle_id)
                   WHERE a.user_id = p.x AND b.user_id = p.y AND a.member AND b.member)
               THEN 1.0 ELSE 0.0 END) FROM ({pairs}) p
    """
    friends = one(con, shared.format(pairs="SELECT src x, dst y FROM social_edges "
                                           "WHERE kind = 'friend'"))  # fmt: skip
    random = one(con, shared.format(pairs="SELECT a.user_id x, b.user_id y FROM users a, users b "
                                          "WHERE hash(a.user_id, b.user_id) % 500 = 0 "
                                          "AND a.user_id <> b.user_id"))  # fmt: skip
    assert friends > 2 * random
    q10, q50, q99, mean = con.execute(
        "SELECT quantile_cont(d, 0.1), quantile_cont(d, 0.5), quantile_cont(d, 0.99), avg(d) "
        "FROM (SELECT u.user_id, count(s.dst) d FROM users u LEFT JOIN social_edges s "
        "ON s.src = u.user_id AND s.kind = 'friend' GROUP BY 1)"
    ).fetchone()
    assert 6 < mean < 10  # friends_per_user = 8
    assert q99 > 3 * q50 > 3 * q10  # heavy-ish tail


def test_item_popularity_is_heavy_tailed(con):
    top_share = one(
        con,
        """
        WITH c AS (SELECT item_id, count(*) n FROM events WHERE item_id IS NOT NULL GROUP BY 1),
             r AS (SELECT n, row_number() OVER (ORDER BY n DESC) rk FROM c)
        SELECT sum(CASE WHEN rk <= (SELECT count(*) FROM items) / 10 THEN n END) / sum(n) FROM r
        """,
    )
    assert 0.3 < top_share < 0.8


def test_group_buy_items_sit_mostly_in_the_tail(con):
    share = one(con, "SELECT count(*) FILTER (WHERE i.is_group_buy) / count(*) FROM items i")
    assert share == pytest.approx(SAMPLE.group_buy_item_share, abs=0.01)
    gb_tail, other_tail = con.execute(
        "SELECT avg(CASE WHEN NOT t.is_head THEN 1.0 ELSE 0.0 END) FILTER (WHERE i.is_group_buy), "
        "avg(CASE WHEN NOT t.is_head THEN 1.0 ELSE 0.0 END) FILTER (WHERE NOT i.is_group_buy) "
        "FROM items i JOIN truth_items t USING (item_id)"
    ).fetchone()
    assert gb_tail >= 0.9
    assert gb_tail > other_tail + 0.1  # placed in the tail on purpose, not by chance
    # ... so a group-buy item draws fewer views than other items do.
    gb_views, other_views = con.execute(
        "WITH v AS (SELECT i.item_id, i.is_group_buy, count(e.item_id) n FROM items i "
        "LEFT JOIN events e ON e.item_id = i.item_id AND e.type = 'view' GROUP BY ALL) "
        "SELECT avg(n) FILTER (WHERE is_group_buy), avg(n) FILTER (WHERE NOT is_group_buy) FROM v"
    ).fetchone()
    assert gb_views < 0.8 * other_views
    assert one(con, "SELECT count(*) FROM events e JOIN items i USING (item_id) "
                    "WHERE e.type = 'group_buy_start' AND NOT i.is_group_buy") == 0  # fmt: skip


def test_group_buy_joins_come_from_friends_who_like_the_item(con):
    joins = one(con, "SELECT count(*) FROM events WHERE type = 'group_buy_join'")
    assert joins > 20
    not_friends = one(
        con,
        "SELECT count(*) FROM events e JOIN group_buys g USING (group_id) "
        "WHERE e.type = 'group_buy_join' AND NOT EXISTS (SELECT 1 FROM social_edges s "
        "WHERE s.kind = 'friend' AND s.src = g.initiator_id AND s.dst = e.user_id "
        "AND s.ts <= g.created_ts)",
    )
    assert not_friends == 0
    # Joiners are members of the item's circle far more often than users at large.
    member_rate = """
        SELECT avg(CASE WHEN t.member THEN 1.0 ELSE 0.0 END)
        FROM ({who}) w JOIN items i USING (item_id) JOIN circles c
          ON list_contains(c.categories, i.category)
        LEFT JOIN truth_user_interests t ON t.user_id = w.user_id AND t.circle_id = c.circle_id
    """
    joiners = one(con, member_rate.format(
        who="SELECT user_id, item_id FROM events WHERE type = 'group_buy_join'"))  # fmt: skip
    anyone = one(con, member_rate.format(
        who="SELECT u.user_id, g.item_id FROM group_buys g, users u "
            "WHERE hash(u.user_id, g.group_id) % 50 = 0"))  # fmt: skip
    assert joiners > 2 * anyone


def test_new_items_are_cold(con):
    # Events per unit of planted popularity: items created in the last month got few so far.
    cold, overall = con.execute(
        "SELECT sum(n) FILTER (WHERE i.created_ts > TIMESTAMPTZ '2024-12-01 00:00:00+00') / "
        "sum(t.base_popularity) FILTER (WHERE i.created_ts > TIMESTAMPTZ '2024-12-01 00:00:00+00'),"
        " sum(n) / sum(t.base_popularity) FROM items i JOIN truth_items t USING (item_id) "
        "LEFT JOIN (SELECT item_id, count(*) n FROM events GROUP BY 1) USING (item_id)"
    ).fetchone()
    assert cold < overall / 3


def test_posts_use_their_circles_vocabulary(con, sample_dir):
    from recsys.circles import default_catalogue_path, load_catalogue
    from recsys.synth.text import circle_vocabularies

    catalogue = load_catalogue(default_catalogue_path())
    vocab = dict(zip(catalogue.ids, circle_vocabularies(catalogue), strict=True))
    rows = con.execute("SELECT circle_id, text FROM posts LIMIT 300").fetchall()
    own = other = 0
    for circle, text in rows:
        words = set(text.split())
        own += len(words & set(vocab[circle]))
        other += sum(len(words & set(v)) for c, v in vocab.items() if c != circle)
    assert own > 5 * other


def test_activity_is_spread(con):
    q10, q50, q99 = con.execute(
        "SELECT quantile_cont(n, 0.1), quantile_cont(n, 0.5), quantile_cont(n, 0.99) FROM "
        "(SELECT user_id, count(*) n FROM events GROUP BY 1)"
    ).fetchone()
    assert q99 > 5 * q50 and q50 > q10
    per_user = one(con, "SELECT count(*) FROM events") / SAMPLE.n_users
    assert 8 < per_user < 14  # events_per_user = 10 (+ review purchases and group buys)
