"""The parity source set: synthetic Parquet data plus planted bad rows of every kind as text.

Text columns make both engines parse every cell (booleans, numbers, timestamps, lists), and
each planted row breaks one rule, so comparing the engines row by row covers every rule.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from recsys.synth import generate
from recsys.synth.config import SynthConfig

VALID = Path(__file__).resolve().parent.parent / "ingest" / "data" / "valid"

#: table -> rows (dicts of text cells; absent = empty) each breaking one rule.
BAD_ROWS: dict[str, list[dict[str, str]]] = {
    "users": [
        {"user_id": "", "signup_ts": "2024-01-01T00:00:00Z", "share_opt_out": "false"},
        {"user_id": "ub1", "signup_ts": "yesterday", "share_opt_out": "false"},
        {"user_id": "ub2", "signup_ts": "0", "share_opt_out": "false"},
        {"user_id": "ub3", "signup_ts": "1714000000000", "share_opt_out": "false"},
        {"user_id": "ub4", "signup_ts": "2024-01-01T00:00:00+15:00", "share_opt_out": "no"},
        {"user_id": "ub5", "signup_ts": "2024-01-01T00:00:00Z", "share_opt_out": "maybe"},
        {"user_id": "u1", "signup_ts": "2024-01-01T00:00:00Z", "share_opt_out": "false"},
        {"user_id": "ub6", "signup_ts": "1704067200", "share_opt_out": "Y"},
        {"user_id": " ub7 ", "signup_ts": "2024-01-01 08:00:00+08:00", "share_opt_out": "t"},
    ],
    "items": [
        {"item_id": "ib1", "title": "x", "category": "c", "merchant_id": "m", "price": "-1",
         "is_group_buy": "false", "created_ts": "2024-01-01", "status": "listed"},
        {"item_id": "ib2", "title": "x", "category": "c", "merchant_id": "m", "price": "abc",
         "is_group_buy": "false", "created_ts": "2024-01-01", "status": "listed"},
        {"item_id": "ib3", "title": "x", "category": "c", "merchant_id": "m", "price": "inf",
         "is_group_buy": "false", "created_ts": "2024-01-01", "status": "listed"},
        {"item_id": "ib4", "title": "x", "category": "c", "merchant_id": "m", "price": "1",
         "is_group_buy": "false", "created_ts": "2024-01-01", "status": "gone"},
        {"item_id": "ib5", "title": "", "category": "c", "merchant_id": "m", "price": "1",
         "is_group_buy": "false", "created_ts": "2024-01-01", "status": "listed"},
        {"item_id": "ib6", "title": "x", "category": "c", "merchant_id": "m", "price": "1.5",
         "is_group_buy": "1", "created_ts": "2024-01-01T00:00:00Z", "status": " LISTED "},
    ],
    "group_buys": [
        {"group_id": "gb1", "item_id": "i1", "initiator_id": "u1", "created_ts": "2024-03-05",
         "deadline_ts": "2024-03-06", "target_size": "1", "status": "open"},
        {"group_id": "gb2", "item_id": "i1", "initiator_id": "u1", "created_ts": "2024-03-05",
         "deadline_ts": "2024-03-04", "target_size": "2", "status": "open"},
        {"group_id": "gb3", "item_id": "i1", "initiator_id": "u1", "created_ts": "2024-03-05",
         "deadline_ts": "2024-03-06", "target_size": "2.5", "status": "open"},
        {"group_id": "gb4", "item_id": "nope", "initiator_id": "u1", "created_ts": "2024-03-05",
         "deadline_ts": "2024-03-06", "target_size": "2", "status": "open"},
        {"group_id": "gb5", "item_id": "i1", "initiator_id": "ghost", "created_ts": "2024-03-05",
         "deadline_ts": "2024-03-06", "target_size": "9999999999", "status": "open"},
    ],
    "events": [
        {"event_id": "eb1", "user_id": "u1", "type": "view", "ts": "2024-03-05T09:00:00Z"},
        {"event_id": "eb2", "user_id": "u1", "item_id": "i1", "type": "teleport",
         "ts": "2024-03-05T09:00:00Z"},
        {"event_id": "eb3", "user_id": "u1", "item_id": "i1", "type": "group_buy_join",
         "ts": "2024-03-05T09:00:00Z"},
        {"event_id": "eb4", "user_id": "u1", "type": "group_buy_join", "group_id": "g1",
         "post_id": "p1", "ts": "2024-03-05T11:00:00Z"},
        {"event_id": "eb5", "user_id": "ghost", "item_id": "i1", "type": "view",
         "ts": "2024-03-05T09:00:00Z"},
        {"event_id": "eb6", "user_id": "u1", "item_id": "nope", "type": "view",
         "ts": "2024-03-05T09:00:00Z"},
        {"event_id": "eb7", "user_id": "u1", "post_id": "nope", "type": "like",
         "ts": "2024-03-05T09:00:00Z"},
        {"event_id": "eb8", "user_id": "u2", "item_id": "i1", "type": "group_buy_join",
         "group_id": "nope", "ts": "2024-03-05T09:00:00Z"},
        {"event_id": "eb9", "user_id": "u2", "item_id": "i2", "type": "group_buy_join",
         "group_id": "g1", "ts": "2024-03-05T11:00:00Z"},
        {"event_id": "eb10", "user_id": "u3", "item_id": "i1", "type": "group_buy_start",
         "group_id": "g1", "ts": "2024-03-05T11:00:00Z"},
        {"event_id": "eb11", "user_id": "u1", "item_id": "i1", "type": "group_buy_join",
         "group_id": "g1", "ts": "2024-03-05T11:00:00Z"},
        {"event_id": "eb12", "user_id": "u2", "item_id": "i1", "type": "group_buy_join",
         "group_id": "g1", "ts": "2020-01-01T00:00:00Z"},
        {"event_id": "eb13", "user_id": "u2", "item_id": "i1", "type": "group_buy_join",
         "group_id": "g1", "ts": "2030-01-01T00:00:00Z"},
        {"event_id": "e1", "user_id": "u1", "item_id": "i1", "type": "view",
         "ts": "2024-03-05T09:00:00Z"},
        {"event_id": "eb14", "user_id": "u1", "item_id": "i1", "type": "group_buy_start",
         "group_id": "g1", "ts": "2024-03-05T12:00:00Z"},
        {"event_id": "eb15", "user_id": "u1", "item_id": "i1", "type": " VIEW ",
         "ts": "1709629200.5"},
        {"event_id": "eb16", "user_id": "u1", "item_id": "i1", "type": "view",
         "ts": "2100-01-01T00:00:00Z"},
    ],
    "social_edges": [
        {"src": "u1", "dst": "u1", "kind": "friend", "ts": "2024-01-01T00:00:00Z"},
        {"src": "u1", "dst": "u2", "kind": "enemy", "ts": "2024-01-01T00:00:00Z"},
        {"src": "u1", "dst": "u2", "kind": "friend", "ts": "2024-01-01T00:00:00Z"},
    ],
}
GOOD_CIRCLES = [
    {"circle_id": "extra", "name_zh": "外", "name_en": "extra", "categories": "extra_cat"},
]
#: circles planted after the catalogue's: a category claimed twice, a duplicate id, no name.
BAD_CIRCLES = [
    {"circle_id": "beauty2", "name_zh": "美", "name_en": "beauty too", "categories": "skincare"},
    {"circle_id": "beauty", "name_zh": "美", "name_en": "again", "categories": "nothing_else"},
    {"circle_id": "nameless", "name_zh": "", "name_en": "x", "categories": ""},
    {"circle_id": "empty_list", "name_zh": "空", "name_en": "empty", "categories": ""},
]


PLANTED_PART = "part-99999-planted.parquet"


def write_dirty(dest: Path, n_users: int = 10_000, seed: int = 0) -> Path:
    """A synthetic data set (`recsys.synth`, contract types, planted truth in truth/) plus one
    more part per table holding the hand-written valid rows and the planted bad rows, every
    column as text: the users table then has two files, and a column typed differently in the
    two parts is read as text by both engines."""
    generate(SynthConfig(n_users=n_users, seed=seed), dest, force=True)
    for csv_path in sorted(VALID.glob("*.csv")):
        name = csv_path.stem
        options = pcsv.ConvertOptions(
            column_types={c: pa.string() for c in _header(csv_path)}, strings_can_be_null=False
        )
        table = pcsv.read_csv(csv_path, convert_options=options)
        rows = table.to_pylist() + [
            {c: r.get(c, "") for c in table.column_names} for r in BAD_ROWS.get(name, [])
        ]
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), dest / name / PLANTED_PART)
    # categories stay a list: DuckDB refuses a union of its list and text columns outright.
    circles = [{**c, "categories": c["categories"].split(";")} for c in GOOD_CIRCLES + BAD_CIRCLES]
    pq.write_table(pa.Table.from_pylist(circles), dest / "circles" / PLANTED_PART)
    return dest


def _header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[0].split(",")
