"""HetRec 2011 Last.fm 2K: artists are items, tags clustered into circles, friends are edges.

Plays carry no time, so each (user, artist) pair is ONE "view" event at a constant time; the
listening count is kept in `meta/plays.parquet` (repeating the event per play would invent
69M events with fake times). Tag assignments (dated by day) are kept in `meta/user_tags.parquet`:
they are the ground truth for circle placement, not an event type of the contract.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.adapters.common import (
    UNDATED,
    AdapterInfo,
    check_columns,
    cluster_circles,
    first_users,
    items_frame,
    reconcile,
    require,
    users_frame,
    write_source,
)

logger = logging.getLogger(__name__)

LICENCE = (
    "HetRec 2011 / Last.fm: non-commercial use only (readme.txt); cite HetRec 2011. Offline "
    "research evaluation only, never in a commercial product or model bundle."
)
N_TAGS = 200  # the most used tags form the circle vocabulary
N_CIRCLES = 20
UNTAGGED = "untagged"


def adapt_lastfm_hetrec(
    src: Path, out_src: Path, *, limit_users: int | None = None, seed: int = 0
) -> AdapterInfo:
    """Import hetrec2011-lastfm-2k into `out_src`; circles from the full tag file (`seed`)."""
    src = Path(src)
    plays_path = require(src / "user_artists.dat")
    plays = pd.read_csv(plays_path, sep="\t")
    check_columns(plays, plays_path, ["userID", "artistID", "weight"])
    friends_path = require(src / "user_friends.dat")
    friends = pd.read_csv(friends_path, sep="\t")
    check_columns(friends, friends_path, ["userID", "friendID"])
    tagged = pd.read_csv(require(src / "user_taggedartists.dat"), sep="\t")
    tags = pd.read_csv(require(src / "tags.dat"), sep="\t", encoding="latin-1")
    artists = pd.read_csv(require(src / "artists.dat"), sep="\t", quoting=3, dtype={"name": str})

    circles, category = _tag_circles(tagged, tags, artists, seed=seed)

    keep = first_users(plays["userID"], limit_users)
    reported: dict[str, int] = {}
    raw_plays = len(plays)
    plays = plays[plays["userID"].isin(keep)].reset_index()
    reported["plays_of_users_outside_slice"] = raw_plays - len(plays)
    unknown = ~plays["artistID"].isin(artists["id"])
    reported["plays_of_unknown_artists"] = int(unknown.sum())
    plays = plays[~unknown]
    events = pd.DataFrame(
        {
            "event_id": "p" + plays["index"].astype(str),
            "user_id": plays["userID"].astype(str),
            "item_id": plays["artistID"].astype(str),
            "type": "view",
            "ts": UNDATED,
        }
    )
    reconcile(raw_plays, len(events), reported, str(plays_path))

    edges, edge_report = _friend_edges(friends, keep)
    reported.update(edge_report)

    users = users_frame(keep.astype(str), None, UNDATED)
    items = items_frame(
        artists["id"].astype(str), artists["name"].fillna("").astype(str),
        artists["id"].map(category).fillna(UNTAGGED), None, UNDATED, merchant="lastfm",
    )
    in_slice = tagged["userID"].isin(keep)
    user_tags = tagged[in_slice].merge(tags, on="tagID", how="left")
    reported["tag_assignments_of_users_outside_slice"] = int((~in_slice).sum())
    reported["tag_assignments_on_artists_missing_from_artists_dat"] = int(
        (~user_tags["artistID"].isin(artists["id"])).sum())
    meta = {
        "plays": events[["event_id", "user_id", "item_id"]].assign(
            plays=plays["weight"].astype(np.int64).to_numpy()),
        "user_tags": pd.DataFrame({
            "user_id": user_tags["userID"].astype(str),
            "item_id": user_tags["artistID"].astype(str),
            "tag": user_tags["tagValue"].astype(str),
            "day": pd.to_datetime(
                user_tags[["year", "month", "day"]], errors="coerce", utc=True),
        }),
    }
    info = AdapterInfo(
        name="lastfm-hetrec", has_timestamps=False, ordered=False, limit_users=limit_users,
        licence=LICENCE, reported=reported,
        notes=[
            "plays have no times: one 'view' event per (user, artist) at the constant "
            f"{UNDATED.isoformat()}; play counts in meta/plays.parquet (weight by log plays if "
            "wanted); evaluate with a random split",
            f"circles: the {N_TAGS} most used tags clustered into {N_CIRCLES} circles by "
            "co-occurrence on artists (k-means on an LSA embedding, seed "
            f"{seed}); an artist's category is its most assigned tag among those, "
            f"'{UNTAGGED}' (circle 'other') when it has none",
            "tag assignments (dated by day; all 1,892 users' ones, incl. artists missing from "
            "artists.dat) in meta/user_tags.parquet; not events",
            "friendships: every directed row of user_friends.dat is one 'friend' edge "
            "(the file lists both directions)",
            "no prices (0.0 = unknown), one merchant; demographics unknown",
        ],
    )
    tables = {
        "circles": circles, "users": users, "items": items, "events": events,
        "social_edges": edges,
    }
    return write_source(out_src, info, tables, meta)


def _tag_circles(
    tagged: pd.DataFrame, tags: pd.DataFrame, artists: pd.DataFrame, *, seed: int
) -> tuple[pd.DataFrame, pd.Series]:
    """Circles from tag co-occurrence, and each artist's category (its dominant top tag)."""
    counts = tagged["tagID"].value_counts()
    top = counts.index[:N_TAGS].to_numpy()
    names = tags.set_index("tagID")["tagValue"].reindex(top).astype(str).to_numpy()
    top_rows = tagged[tagged["tagID"].isin(top)]
    artist_codes, artist_index = pd.factorize(top_rows["artistID"])
    tag_pos = pd.Series(np.arange(len(top)), index=top)
    incidence = sp.csr_matrix(
        (np.ones(len(top_rows)), (tag_pos[top_rows["tagID"]].to_numpy(), artist_codes)),
        shape=(len(top), len(artist_index)),
    )
    circles, _ = cluster_circles(incidence, names, n_circles=N_CIRCLES, seed=seed)
    circles.loc[len(circles)] = ("other", "other", "other", [UNTAGGED])
    # dominant tag per artist: most assignments, ties to the globally more used tag
    per_pair = top_rows.groupby(["artistID", "tagID"]).size().rename("n").reset_index()
    per_pair["rank"] = per_pair["tagID"].map(tag_pos)
    best = per_pair.sort_values(["artistID", "n", "rank"], ascending=[True, False, True])
    best = best.drop_duplicates("artistID")
    category = pd.Series(names[best["rank"].to_numpy()], index=best["artistID"].to_numpy())
    logger.info("lastfm: %d of %d artists have a top-%d tag", len(category), len(artists), N_TAGS)
    return circles, category


def _friend_edges(friends: pd.DataFrame, keep: np.ndarray) -> tuple[pd.DataFrame, dict[str, int]]:
    """Friend edges among kept users; self-loops, duplicates and out-of-slice rows reported."""
    report = {}
    both = friends["userID"].isin(keep) & friends["friendID"].isin(keep)
    report["friend_rows_leaving_slice"] = int((~both).sum())
    f = friends[both]
    loops = f["userID"] == f["friendID"]
    report["friend_self_loops"] = int(loops.sum())
    f = f[~loops]
    dup = f.duplicated()
    report["friend_duplicate_rows"] = int(dup.sum())
    f = f[~dup]
    # a friendship listed in one direction only still means both: add the reverse, say so
    rev = f.rename(columns={"userID": "friendID", "friendID": "userID"})
    missing = rev.merge(f, how="left", indicator=True)["_merge"].eq("left_only").to_numpy()
    added = int(missing.sum())
    f = pd.concat([f, rev[missing]], ignore_index=True)
    edges = pd.DataFrame(
        {"src": f["userID"].astype(str), "dst": f["friendID"].astype(str), "kind": "friend",
         "ts": UNDATED}
    )
    reconcile(len(friends) + added, len(edges), report, "user_friends.dat")
    report["friend_reverse_rows_added"] = added
    return edges, report
