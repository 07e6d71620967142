"""Brightkite recast as group buys (J2PRec): SEMI-SYNTHETIC, built from check-ins + friendships.

Each record (initiator, item, participants...) becomes one completed group buy whose target
size is the group's size (initiator + participants), one "group_buy_start" event by the
initiator and one "group_buy_join" per participant. The data has no times, no categories and
no item names: one circle, one category ("place": items are check-in venues), constant times.
train_id.txt groups are fold "train", test.txt groups fold "test" (meta/split.parquet by group).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.adapters.common import (
    UNDATED,
    AdapterInfo,
    check_columns,
    circles_frame,
    first_users,
    items_frame,
    read_token_lines,
    reconcile,
    require,
    users_frame,
    write_source,
)

logger = logging.getLogger(__name__)

LICENCE = (
    "J2PRec repository (no licence) over SNAP Brightkite (public for research): research use "
    "only. Semi-synthetic: never draw business conclusions from it."
)
CATEGORY = "place"


def adapt_brightkite_gb(
    src: Path, out_src: Path, *, limit_users: int | None = None
) -> AdapterInfo:
    """Import train_id.txt + test.txt groups, social_relation.txt and all_items.txt.

    `limit_users` keeps the groups of the first N initiators (by id); their participants
    come along as users, and friend edges are kept between kept users.
    """
    src = Path(src)
    groups = pd.concat(
        [_read_groups(require(src / "train_id.txt"), "train"),
         _read_groups(require(src / "test.txt"), "test")],
        ignore_index=True,
    )
    reported: dict[str, int] = {}
    tune = src / "tune.txt"
    if tune.is_file():
        same = tune.read_text().split() == (src / "test.txt").read_text().split()
        if same:
            reported["tune_txt_records_identical_to_test_txt"] = int(
                _read_groups(tune, "tune")["group_id"].nunique())
        else:
            groups = pd.concat([groups, _read_groups(tune, "tune")], ignore_index=True)
    social_path = require(src / "social_relation.txt")
    social = pd.read_csv(social_path, sep=r"\s+", header=None, names=["a", "b"])
    check_columns(social, social_path, ["a", "b"])
    all_items = pd.read_csv(require(src / "all_items.txt"), sep=r"\s+", header=None)[0]

    raw_groups = groups["group_id"].nunique()
    keep_init = first_users(groups.loc[groups["role"] == "start", "user"], limit_users)
    kept_ids = groups.loc[(groups["role"] == "start") & groups["user"].isin(keep_init),
                          "group_id"]
    reported["groups_of_initiators_outside_slice"] = raw_groups - len(kept_ids)
    members = groups[groups["group_id"].isin(kept_ids)].reset_index(drop=True)
    starts = members[members["role"] == "start"]
    sizes = members.groupby("group_id").size()
    group_buys = pd.DataFrame(
        {
            "group_id": starts["group_id"].to_numpy(),
            "item_id": starts["item"].astype(str).to_numpy(),
            "initiator_id": starts["user"].astype(str).to_numpy(),
            "created_ts": UNDATED,
            "deadline_ts": UNDATED,
            "target_size": starts["group_id"].map(sizes).astype(np.int32).to_numpy(),
            "status": "completed",
        }
    )
    reconcile(raw_groups, len(group_buys), {k: v for k, v in reported.items()
                                            if k.startswith("groups_")}, "group records")
    events = pd.DataFrame(
        {
            "event_id": members["group_id"] + "-" + members["slot"].astype(str),
            "user_id": members["user"].astype(str),
            "item_id": members["item"].astype(str),
            "type": np.where(members["role"] == "start", "group_buy_start", "group_buy_join"),
            "group_id": members["group_id"],
            "ts": UNDATED,
        }
    )
    user_ids = np.unique(members["user"].to_numpy())
    if limit_users is None:
        # friends who never took part in a group are still users (they are share targets)
        user_ids = np.union1d(user_ids, social.to_numpy().ravel())
    both = social["a"].isin(user_ids) & social["b"].isin(user_ids)
    reported["friend_rows_leaving_slice"] = int((~both).sum())
    loops = social["a"] == social["b"]
    reported["friend_self_loops"] = int((both & loops).sum())
    s = social[both & ~loops]
    edges = pd.DataFrame({"src": s["a"].astype(str), "dst": s["b"].astype(str),
                          "kind": "friend", "ts": UNDATED})
    reconcile(len(social), len(edges), {k: v for k, v in reported.items()
                                        if k.startswith("friend_")}, str(social_path))
    unexplained = _unexplained_train_pairs(src / "train.txt", groups)
    if unexplained is not None:
        reported["train_txt_entries_not_imported"] = unexplained[0]
    item_ids = pd.Series(np.union1d(all_items.to_numpy(), groups["item"].to_numpy()))
    in_group = item_ids.isin(group_buys["item_id"].astype(np.int64))
    items = items_frame(
        item_ids.astype(str), "place " + item_ids.astype(str),
        pd.Series(CATEGORY, index=item_ids.index), None, UNDATED, merchant="brightkite",
        is_group_buy=in_group,
    )
    users = users_frame(user_ids.astype(str), None, UNDATED)
    info = AdapterInfo(
        name="brightkite-gb", has_timestamps=False, ordered=False, limit_users=limit_users,
        licence=LICENCE, reported=reported,
        split={"path": "meta/split.parquet", "key": ["group_id"], "folds": ["train", "test"]},
        notes=[
            "SEMI-SYNTHETIC group buys built by the J2PRec authors from check-ins; not a real "
            "group-buy log",
            "each record = one completed group buy (target_size = 1 + participants), one "
            "group_buy_start by the initiator, one group_buy_join per participant",
            f"no times: every time is the constant {UNDATED.isoformat()} (deadline unknown, set "
            "equal to created_ts); use the fixed split in meta/split.parquet (by group_id)",
            f"no categories or names: one circle and one category '{CATEGORY}' (items are "
            "check-in venues), titles 'place N'; no prices (0.0 = unknown), one merchant",
            "tune.txt is identical to test.txt and is not imported twice; train.txt (user-item "
            "projection of the train groups, with repeats) is not imported: "
            f"{unexplained[1] if unexplained else 0} of its distinct pairs match no train group",
            "friend rows: social_relation.txt lists both directions; each row is one edge",
        ],
    )
    split = pd.DataFrame({"group_id": starts["group_id"].to_numpy(),
                          "fold": starts["fold"].to_numpy()})
    circles = circles_frame([("places", "地点", "Places", [CATEGORY])])
    tables = {"circles": circles, "users": users, "items": items, "group_buys": group_buys,
              "events": events, "social_edges": edges}
    return write_source(out_src, info, tables, {"split": split})


def _unexplained_train_pairs(path: Path, groups: pd.DataFrame) -> tuple[int, int] | None:
    """(entries in train.txt, distinct pairs of it that no train group contains), if present."""
    if not path.is_file():
        return None
    tokens = read_token_lines(path)
    user = tokens.loc[tokens["position"] == 0].set_index("line")["value"]
    body = tokens[tokens["position"] > 0]
    pairs = pd.DataFrame({"user": body["line"].map(user).to_numpy(), "item": body["value"]})
    train = groups.loc[groups["fold"] == "train", ["user", "item"]].drop_duplicates()
    distinct = pairs.drop_duplicates()
    matched = distinct.merge(train, on=["user", "item"]).shape[0]
    return len(pairs), len(distinct) - matched


def _read_groups(path: Path, fold: str) -> pd.DataFrame:
    """Records `initiator item participant...` -> one row per member (role start/join)."""
    tokens = read_token_lines(path)
    item = tokens.loc[tokens["position"] == 1].set_index("line")["value"]
    members = tokens[tokens["position"] != 1]
    slot = members["position"].to_numpy()
    return pd.DataFrame({
        "group_id": f"{fold}-" + members["line"].astype(str).to_numpy(),
        "item": members["line"].map(item).to_numpy(),
        "user": members["value"].to_numpy(),
        "slot": np.where(slot == 0, 0, slot - 1),
        "role": np.where(slot == 0, "start", "join"),
        "fold": fold,
    })
