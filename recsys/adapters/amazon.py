"""Amazon Beauty 5-core (S3-Rec preprocessing): review sequences become purchases.

The sequences are ordered but undated: an event's time is the constant UNDATED plus its
position in the user's sequence, in seconds. That keeps each user's order (leave-last-out
works) but is no calendar: `has_timestamps` is false and a global temporal split is meaningless.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.adapters.common import (
    UNDATED,
    AdapterInfo,
    cluster_circles,
    first_users,
    items_frame,
    read_token_lines,
    reconcile,
    require,
    users_frame,
    write_source,
)
from recsys.errors import UnusableFileError

logger = logging.getLogger(__name__)

LICENCE = (
    "Amazon review data (McAuley et al., UCSD) via S3-Rec (CIKM 2020, no licence file): research "
    "use only; cite both."
)
N_CIRCLES = 20


def adapt_amazon_beauty(
    src: Path, out_src: Path, *, limit_users: int | None = None, seed: int = 0
) -> AdapterInfo:
    """Import Beauty.txt + Beauty_item2attributes.json into `out_src`."""
    src = Path(src)
    seq_path = require(src / "Beauty.txt")
    tokens = read_token_lines(seq_path)
    user = tokens.loc[tokens["position"] == 0].set_index("line")["value"]
    body = tokens[tokens["position"] > 0]
    seqs = pd.DataFrame({
        "user": body["line"].map(user).to_numpy(), "item": body["value"].to_numpy(),
        "position": body["position"].to_numpy() - 1,
    })

    attr_path = require(src / "Beauty_item2attributes.json")
    try:
        raw_attrs = json.loads(attr_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UnusableFileError(str(attr_path), f"not valid JSON: {exc}") from None
    attrs = pd.Series(raw_attrs, name="attribute").explode().dropna().reset_index()
    attrs.columns = ["item", "attribute"]
    attrs = attrs.astype({"item": np.int64, "attribute": np.int64})

    keep = first_users(seqs["user"], limit_users)
    raw_rows = len(seqs)
    sliced = seqs[seqs["user"].isin(keep)]
    reported = {"interactions_of_users_outside_slice": raw_rows - len(sliced)}
    events = pd.DataFrame(
        {
            "event_id": "s" + sliced.index.astype(str),
            "user_id": sliced["user"].astype(str).to_numpy(),
            "item_id": sliced["item"].astype(str).to_numpy(),
            "type": "purchase",
            "ts": UNDATED + pd.to_timedelta(sliced["position"].to_numpy(), unit="s"),
        }
    )
    reconcile(raw_rows, len(events), reported, str(seq_path))

    circles, category = _attribute_circles(attrs, seed=seed)
    item_ids = pd.Series(np.union1d(seqs["item"].unique(), attrs["item"].unique()))
    cats = item_ids.map(category)
    items = items_frame(
        item_ids.astype(str), "category " + cats.fillna("none") + " item " + item_ids.astype(str),
        cats.fillna("none"), events, UNDATED, merchant="amazon-beauty",
    )
    if cats.isna().any():
        circles.loc[len(circles)] = ("none", "none", "none", ["none"])
    info = AdapterInfo(
        name="amazon-beauty", has_timestamps=False, ordered=True,
        timestamp_granularity="ordinal (position in the user's sequence, in seconds)",
        limit_users=limit_users, licence=LICENCE, reported=reported,
        notes=[
            "every review is one 'purchase' event (a 5-core review implies a purchase)",
            f"no times: ts = {UNDATED.isoformat()} + position in the user's sequence (seconds); "
            "order within a user is real (last item = leave-one-out test item), across users "
            "it means nothing",
            f"circles: the {attrs['attribute'].nunique()} anonymised attribute ids (brand + "
            f"sub-categories, not distinguishable) clustered into {N_CIRCLES} circles by "
            f"co-occurrence on items (seed {seed}); an item's category is its most common "
            "attribute within the circle holding most of its attributes; all attributes in "
            "meta/item_attributes.parquet",
            "titles are generated ('category C item I'); no prices (0.0 = unknown), one "
            "merchant (brands are anonymised among the attributes)",
        ],
    )
    meta = {
        "item_attributes": pd.DataFrame({
            "item_id": attrs["item"].astype(str), "attribute": attrs["attribute"].astype(str)}),
    }
    users = users_frame(keep.astype(str), events, UNDATED)
    tables = {"circles": circles, "users": users, "items": items, "events": events}
    return write_source(out_src, info, tables, meta)


def _attribute_circles(attrs: pd.DataFrame, *, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Attribute ids grouped into circles; item -> its most common attribute (as string)."""
    attr_codes, attr_index = pd.factorize(attrs["attribute"], sort=True)
    item_codes, _ = pd.factorize(attrs["item"])
    incidence = sp.csr_matrix(
        (np.ones(len(attrs)), (attr_codes, item_codes)),
        shape=(len(attr_index), item_codes.max() + 1),
    )
    names = np.asarray([str(a) for a in attr_index])
    circles, circle_of = cluster_circles(
        incidence, names, n_circles=N_CIRCLES, seed=seed, label="attributes "
    )
    # an item joins the circle holding most of its attributes (ties: the bigger circle), and
    # its category is its most common attribute within that circle
    a = attrs.assign(
        attr=attrs["attribute"].astype(str),
        freq=attrs["attribute"].map(attrs["attribute"].value_counts()),
    )
    a["circle"] = a["attr"].map(circle_of)
    a["votes"] = a.groupby(["item", "circle"])["attr"].transform("size")
    best = a.sort_values(
        ["item", "votes", "circle", "freq", "attribute"],
        ascending=[True, False, True, False, True],
    ).drop_duplicates("item")
    return circles, pd.Series(best["attr"].to_numpy(), index=best["item"].to_numpy())
