"""Every validation rule with a bad-input case: the row is quarantined with its field and reason.

All bad rows go into one source set (each with its own ids, so they cannot mask each other) and
one ingestion run; each case then checks its own quarantined row.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.ingest import ingest
from tests.ingest.conftest import VALID_COUNTS, append_rows, copy_valid, quarantine

T = "2024-03-05T10:00:00Z"
CIRCLES_HEADER = "circle_id,name_zh,name_en,categories"
CIRCLES_OK = [
    "beauty,美妆护肤,Beauty & Skincare,makeup;skincare;fragrance",
    "mother_baby,母婴亲子,Mother & Baby,baby_formula; diapers",
    "digital,数码科技,Digital & Gadgets,phones;earphones",
]

# (case id, table, appended CSV line, expected _field, expected fragment of _reason)
BAD = [
    ("circle-duplicate", "circles", "beauty,美妆,Beauty,perfume", "circle_id", "duplicate key"),
    (
        "circle-category-taken",
        "circles",
        "pets,宠物,Pets,skincare;cat_food",
        "categories",
        "already seeds",
    ),
    (
        "circle-required",
        "circles",
        "sports,,Sports,sportswear",
        "name_zh",
        "required field is empty",
    ),
    ("user-required", "users", f",{T},f,,,false", "user_id", "required field is empty"),
    ("user-bad-ts", "users", "ub1,yesterday,f,,,false", "signup_ts", "not a timestamp"),
    ("user-ms-as-s", "users", "ub2,1704531600000,f,,,false", "signup_ts", "read as seconds?"),
    ("user-epoch-zero", "users", "ub3,0,f,,,false", "signup_ts", "epoch 0 is a placeholder"),
    ("user-infinity", "users", "ub6,infinity,f,,,false", "signup_ts", "not a timestamp"),
    ("user-epoch-word", "users", "ub7,epoch,f,,,false", "signup_ts", "not a timestamp"),
    ("user-offset-25h", "users", "ub8,2024-01-05T08:00:00+25:00,f,,,false", "signup_ts",
     "not a timestamp"),
    ("user-bad-bool", "users", f"ub4,{T},f,,,maybe", "share_opt_out", "not a boolean"),
    ("user-bool-empty", "users", f"ub5,{T},f,,,", "share_opt_out", "required field is empty"),
    ("user-duplicate", "users", f"u1,{T},f,,,false", "user_id", "duplicate key"),
    (
        "item-negative-price",
        "items",
        f"ib1,T,skincare,,m1,-1,false,{T},listed",
        "price",
        "negative",
    ),
    (
        "item-price-text",
        "items",
        f"ib2,T,skincare,,m1,cheap,false,{T},listed",
        "price",
        "not a finite",
    ),
    (
        "item-price-nan",
        "items",
        f"ib3,T,skincare,,m1,nan,false,{T},listed",
        "price",
        "not a finite",
    ),
    ("item-status", "items", f"ib4,T,skincare,,m1,1,false,{T},sold", "status", "not one of listed"),
    ("item-required", "items", f"ib5,,skincare,,m1,1,false,{T},listed", "title", "required"),
    (
        "item-duplicate",
        "items",
        f"i1,T,skincare,,m1,1,false,{T},listed",
        "item_id",
        "duplicate key",
    ),
    (
        "post-unknown-circle",
        "posts",
        f"pb1,u1,astrology,,{T},hi,false",
        "circle_id",
        "unknown circle_id",
    ),
    (
        "post-unknown-author",
        "posts",
        f"pb2,u99,beauty,,{T},hi,false",
        "author_id",
        "unknown author_id",
    ),
    ("post-unknown-item", "posts", f"pb3,u1,beauty,i99,{T},hi,false", "item_id", "unknown item_id"),
    # ub1 was itself quarantined, so a post by ub1 references nothing accepted.
    (
        "post-rejected-author",
        "posts",
        f"pb4,ub1,beauty,,{T},hi,false",
        "author_id",
        "unknown author_id",
    ),
    ("post-bad-bool", "posts", f"pb5,u1,beauty,,{T},hi,perhaps", "deleted", "not a boolean"),
    (
        "group-target-1",
        "group_buys",
        f"gb1,i1,u1,{T},2024-03-06T10:00:00Z,1,open",
        "target_size",
        "below 2",
    ),
    (
        "group-target-frac",
        "group_buys",
        f"gb2,i1,u1,{T},2024-03-06T10:00:00Z,2.5,open",
        "target_size",
        "integer",
    ),
    (
        "group-deadline",
        "group_buys",
        f"gb3,i1,u1,{T},2024-03-04T10:00:00Z,3,open",
        "deadline_ts",
        "before created_ts",
    ),
    (
        "group-status",
        "group_buys",
        f"gb4,i1,u1,{T},2024-03-06T10:00:00Z,3,pending",
        "status",
        "not one of open",
    ),
    (
        "group-unknown-item",
        "group_buys",
        f"gb5,i99,u1,{T},2024-03-06T10:00:00Z,3,open",
        "item_id",
        "unknown item_id",
    ),
    (
        "group-unknown-initiator",
        "group_buys",
        f"gb6,i1,u99,{T},2024-03-06T10:00:00Z,3,open",
        "initiator_id",
        "unknown initiator_id",
    ),
    (
        "event-no-target",
        "events",
        f"eb1,u1,,,view,,feed,{T}",
        "item_id",
        "neither item_id nor post_id",
    ),
    # Lines that do not parse, among the others: the rows after them keep their numbers.
    ("event-too-few-cells", "events", "eb18,u1,i1", "(line)", "fewer cells than the header"),
    (
        "event-too-many-cells",
        "events",
        f"eb19,u1,i1,,view,,feed,{T},x",
        "(line)",
        "more cells than the header",
    ),
    ("event-stray-quote", "events", f'eb20,u1,"i1"x,,view,,feed,{T}', "(line)", "quoted cell"),
    (
        "event-join-no-group",
        "events",
        f"eb2,u2,i1,,group_buy_join,,share,{T}",
        "group_id",
        "without group_id",
    ),
    (
        "event-unknown-group",
        "events",
        f"eb3,u2,i1,,group_buy_join,g99,share,{T}",
        "group_id",
        "unknown group_id",
    ),
    (
        "event-rejected-group",
        "events",
        f"eb4,u2,i1,,group_buy_join,gb1,share,{T}",
        "group_id",
        "unknown group_id",
    ),
    (
        "event-join-late",
        "events",
        "eb5,u2,i1,,group_buy_join,g1,share,2024-03-06T11:00:00Z",
        "ts",
        "after the group's deadline",
    ),
    (
        "event-join-early",
        "events",
        "eb6,u2,i1,,group_buy_join,g1,share,2024-03-05T09:00:00Z",
        "ts",
        "before the group was created",
    ),
    (
        "event-item-mismatch",
        "events",
        f"eb7,u2,i2,,group_buy_join,g1,share,{T}",
        "item_id",
        "differs from the group",
    ),
    (
        "event-group-no-item",
        "events",
        f"eb14,u2,,p1,group_buy_join,g1,share,{T}",
        "item_id",
        "group buy event without item_id",
    ),
    (
        "event-start-not-initiator",
        "events",
        f"eb15,u2,i1,,group_buy_start,g1,share,{T}",
        "user_id",
        "group_buy_start by another user than the initiator_id",
    ),
    (
        "event-initiator-joins",
        "events",
        f"eb16,u1,i1,,group_buy_join,g1,share,{T}",
        "user_id",
        "initiator joins their own group",
    ),
    # g1 was started by u1 at 10:00 (e2); a second start an hour later is not a new group.
    (
        "event-second-start",
        "events",
        "eb17,u1,i1,,group_buy_start,g1,share,2024-03-05T11:00:00Z",
        "group_id",
        "already started: an earlier start was kept",
    ),
    ("event-type", "events", f"eb8,u1,i1,,click,,feed,{T}", "type", "not one of view"),
    ("event-unknown-user", "events", f"eb9,u99,i1,,view,,feed,{T}", "user_id", "unknown user_id"),
    ("event-unknown-item", "events", f"eb10,u1,i99,,view,,feed,{T}", "item_id", "unknown item_id"),
    ("event-unknown-post", "events", f"eb11,u1,,p99,like,,feed,{T}", "post_id", "unknown post_id"),
    ("event-bad-ts", "events", "eb12,u1,i1,,view,,feed,2024-13-45", "ts", "not a timestamp"),
    ("event-required-type", "events", f"eb13,u1,i1,,,,feed,{T}", "type", "required field is empty"),
    ("event-duplicate", "events", f"e1,u1,i1,,view,,feed,{T}", "event_id", "duplicate key"),
    ("edge-self", "social_edges", f"u1,u1,friend,{T}", "dst", "self-edge"),
    ("edge-kind", "social_edges", f"u1,u4,follows,{T}", "kind", "not one of friend"),
    ("edge-unknown-user", "social_edges", f"u1,u99,friend,{T}", "dst", "unknown dst"),
    ("edge-duplicate", "social_edges", f"u1,u2,friend,{T}", "src,dst,kind", "duplicate key"),
]

# Rows that look odd but are valid: upper-case enum, a join 2 minutes past the deadline (clock
# skew), padded cells, a value repeated on a different key.
GOOD = {
    "circles": ["sports,运动户外,Sports & Outdoors,"],  # no category: an empty list is allowed
    "users": ["ug1,2024-01-05T08:00:00+14:00,f,,,false", "ug2,2024-01-05 08:00-09:30,,,,no"],
    "events": [
        "eg1,u2,i1,,GROUP_BUY_JOIN,g1,share,2024-03-06T10:02:00Z",
        f"eg2, u3 ,i2,, view ,,,{T}",
    ],
    "social_edges": [f"u1,u2,shared_to,{T}"],
}


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """One ingestion of the valid set plus every bad row; returns the output and base row counts."""
    root = tmp_path_factory.mktemp("rules")
    src = copy_valid(root / "src")
    (src / "circles.csv").write_text(
        "\n".join([CIRCLES_HEADER, *CIRCLES_OK]) + "\n", encoding="utf-8"
    )
    base = dict(VALID_COUNTS, circles=len(CIRCLES_OK))
    for table in base:
        append_rows(src, table, GOOD.get(table, []))
        base[table] += len(GOOD.get(table, []))
    rows = {}
    for case, table, line, _, _ in BAD:
        append_rows(src, table, [line])
        rows[case] = base[table] + sum(1 for c, t, *_ in BAD if t == table and c in rows) + 1
    report = ingest(src, root / "out", max_quarantine_share=1.0)
    return root / "out", rows, report


@pytest.mark.parametrize(("case", "table", "line", "field", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_row_is_quarantined_with_field_and_reason(bad_run, case, table, line, field, reason):
    out, rows, _ = bad_run
    by_row = {r["_row"]: r for r in quarantine(out, table)}
    assert rows[case] in by_row, f"{case}: data row {rows[case]} of {table}.csv was not quarantined"
    got = by_row[rows[case]]
    assert got["_file"] == f"{table}.csv"
    assert got["_field"] == field
    assert reason in got["_reason"]


def test_only_bad_rows_are_quarantined_and_counts_reconcile(bad_run):
    out, _, report = bad_run
    for table in ("circles", *VALID_COUNTS):
        expected_bad = sum(1 for b in BAD if b[1] == table)
        t = report[table]
        assert t.quarantined == expected_bad == len(quarantine(out, table))
        assert t.read == t.accepted + t.quarantined
        assert sum(t.reasons.values()) == t.quarantined


def test_odd_but_valid_rows_are_accepted_and_normalised(bad_run):
    out, _, report = bad_run
    from recsys.datastore import DataDir

    events = DataDir(out).read_table("events").to_pandas().set_index("event_id")
    assert events.loc["eg1", "type"] == "group_buy_join"
    assert events.loc["eg2", ["user_id", "type"]].tolist() == ["u3", "view"]
    assert report["events"].accepted == VALID_COUNTS["events"] + len(GOOD["events"])


def test_odd_timestamps_are_not_blamed_on_milliseconds(bad_run):
    out, rows, _ = bad_run
    by_row = {r["_row"]: r for r in quarantine(out, "users")}
    for case in ("user-epoch-zero", "user-infinity", "user-epoch-word", "user-offset-25h"):
        assert "milliseconds" not in by_row[rows[case]]["_reason"], case


def test_an_empty_category_list_and_real_offsets_are_accepted(bad_run):
    from recsys.datastore import DataDir

    out = bad_run[0]
    circles = {c["circle_id"]: c for c in DataDir(out).read_table("circles").to_pylist()}
    assert circles["sports"]["categories"] == []
    users = {u["user_id"]: u for u in DataDir(out).read_table("users").to_pylist()}
    assert users["ug1"]["signup_ts"].isoformat() == "2024-01-04T18:00:00+00:00"
    assert users["ug2"]["signup_ts"].isoformat() == "2024-01-05T17:30:00+00:00"


def test_quarantine_keeps_original_values_as_text(bad_run):
    out, rows, _ = bad_run
    row = {r["_row"]: r for r in quarantine(out, "users")}[rows["user-ms-as-s"]]
    assert row["user_id"] == "ub2" and row["signup_ts"] == "1704531600000"


@pytest.mark.parametrize(
    ("start", "quarantined_row"),
    [
        # Earlier than e7 (g2's start at 10:00, data row 7) within the clock skew: it stays.
        ("eg3,u3,i3,,group_buy_start,g2,,2024-03-07T09:58:00Z", 7),
        # At the same time as e7: file order decides, the appended row goes.
        ("eg3,u3,i3,,group_buy_start,g2,,2024-03-07T10:00:00Z", 9),
    ],
    ids=["earlier-by-time", "same-time"],
)
def test_first_group_buy_start_by_time_then_file_order_is_kept(tmp_path, start, quarantined_row):
    src = copy_valid(tmp_path / "src")
    append_rows(src, "events", [start])
    report = ingest(src, tmp_path / "out", max_quarantine_share=1.0)
    (row,) = quarantine(tmp_path / "out", "events")
    assert (row["_row"], row["_field"]) == (quarantined_row, "group_id")
    assert "already started" in row["_reason"]
    assert report["events"].accepted == VALID_COUNTS["events"]
