"""Taobao "EComm" sample (Tianchi CIKM 2019 via DyHATR): the one set with prices and brands.

Behaviours map to the contract as click -> view, collect (favourite) -> like, cart -> like,
buy -> purchase; the contract has no cart type, and a cart is intent short of a purchase, so it
joins favourites as "like". The raw behaviour of every event is kept in
`meta/behaviours.parquet`. Dates are days (China time), stored as local midnight in UTC.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.adapters.common import (
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
from recsys.errors import UnusableFileError

logger = logging.getLogger(__name__)

LICENCE = (
    "Tianchi CIKM 2019 EComm AI data (sampled by DyHATR, code MIT): research/competition use "
    "under Tianchi's terms; cite the competition and DyHATR."
)
BEHAVIOURS = {1: ("click", "view"), 2: ("collect", "like"), 3: ("cart", "like"),
              4: ("buy", "purchase")}
N_CIRCLES = 20
UNKNOWN_BRAND = 0  # 98% of items have brand id 0: treated as "no brand known"


def adapt_taobao(
    src: Path, out_src: Path, *, limit_users: int | None = None, seed: int = 0
) -> AdapterInfo:
    """Import the ecomm_* files into `out_src`; circles cluster leaf categories (`seed`)."""
    src = Path(src)
    edge_path = require(src / "ecomm_edge_train.txt")
    edges = pd.read_csv(edge_path, sep="\t", header=None, names=["user", "item", "b", "date"])
    check_columns(edges, edge_path, ["user", "item", "b", "date"])
    unknown_b = ~edges["b"].isin(list(BEHAVIOURS))
    if unknown_b.any():
        row = int(np.flatnonzero(unknown_b.to_numpy())[0])
        raise UnusableFileError(str(edge_path), f"unknown behaviour {edges['b'].iloc[row]}; "
                                "expected 1-4", row=row + 1, field="behaviour")
    item_path = require(src / "ecomm_item_feature.txt")
    feats = pd.read_csv(item_path, sep="\t", header=None,
                        names=["item", "cate_1", "cate", "brand", "price"])
    check_columns(feats, item_path, ["item", "cate", "brand", "price"])
    user_path = require(src / "ecomm_user_feature.txt")
    ufeats = pd.read_csv(user_path, sep="\t", header=None, dtype={6: str},
                         names=["user", "gender", "age", "education", "career", "income", "stage"])
    check_columns(ufeats, user_path, ["user", "gender", "age"])
    link = pd.read_csv(require(src / "ecomm_edge_val_lr_train_test.txt"), sep="\t", header=None,
                       names=["user", "item", "label", "split"])

    circles, circle_of = _category_circles(edges, feats, seed=seed)

    keep = first_users(ufeats["user"], limit_users)
    raw_rows = len(edges)
    sliced = edges[edges["user"].isin(keep)]
    reported = {"behaviours_of_users_outside_slice": raw_rows - len(sliced)}
    missing_item = ~sliced["item"].isin(feats["item"])
    reported["behaviours_on_items_without_features"] = int(missing_item.sum())
    sliced = sliced[~missing_item]
    day = pd.to_datetime(sliced["date"].astype(str), format="%Y%m%d")
    events = pd.DataFrame(
        {
            "event_id": "b" + sliced.index.astype(str),
            "user_id": sliced["user"].astype(str).to_numpy(),
            "item_id": sliced["item"].astype(str).to_numpy(),
            "type": sliced["b"].map({k: v[1] for k, v in BEHAVIOURS.items()}).to_numpy(),
            "ts": day.dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC").to_numpy(),
        }
    )
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    reconcile(raw_rows, len(events), reported, str(edge_path))

    u = ufeats[ufeats["user"].isin(keep)]
    default_ts = events["ts"].min() if len(events) else pd.Timestamp("2019-06-10", tz="UTC")
    users = users_frame(u["user"].astype(str).to_numpy(), events, default_ts)
    users["gender"] = _code(u["gender"]).to_numpy()
    users["age_band"] = ("level-" + u["age"].astype(str)).where(u["age"] >= 0).to_numpy()
    brand = feats["brand"].where(feats["brand"] != UNKNOWN_BRAND)
    brand_str = ("brand-" + brand.astype("Int64").astype(str)).where(brand.notna())
    items = items_frame(
        feats["item"].astype(str),
        "category " + feats["cate"].astype(str) + " item " + feats["item"].astype(str),
        feats["cate"].astype(str), events, default_ts,
        merchant=brand_str.fillna("unknown-brand"), price=feats["price"], brand=brand_str,
    )
    in_slice = link["user"].isin(keep)
    reported["link_prediction_pairs_outside_slice"] = int((~in_slice).sum())
    link = link[in_slice]
    info = AdapterInfo(
        name="taobao", has_timestamps=True, ordered=False, timestamp_granularity="day",
        limit_users=limit_users, licence=LICENCE, reported=reported,
        notes=[
            "behaviours: click -> view, collect -> like, cart -> like, buy -> purchase; the "
            "raw behaviour per event in meta/behaviours.parquet",
            "times are days (2019-06-10..19, China time) stored as local midnight in UTC: "
            "order within a day is lost; exact duplicate rows are kept as repeated events",
            f"circles: the leaf categories clustered into {N_CIRCLES} circles by co-occurrence "
            f"in users' behaviour (seed {seed}); categories nobody touched go to 'other'",
            "brand id 0 (98% of items) is read as 'unknown': brand null, merchant "
            "'unknown-brand'; other brands are the merchants ('brand-<id>'); prices are real",
            "gender and age are the published predicted codes (meaning of gender 0/1 is not "
            "documented); other demographics in meta/user_features.parquet",
            "ecomm_edge_val_lr_train_test.txt (labelled link-prediction pairs of the last "
            "snapshot, no behaviour or date) is kept in meta/link_prediction.parquet, not as "
            "events",
        ],
    )
    meta = {
        "behaviours": pd.DataFrame({
            "event_id": events["event_id"],
            "behaviour": sliced["b"].map({k: v[0] for k, v in BEHAVIOURS.items()}).to_numpy(),
        }),
        "user_features": pd.DataFrame({
            "user_id": u["user"].astype(str), "education": u["education"],
            "career": u["career"], "income": u["income"], "stage": u["stage"],
        }),
        "link_prediction": pd.DataFrame({
            "user_id": link["user"].astype(str), "item_id": link["item"].astype(str),
            "label": link["label"], "split": link["split"].map(
                {0: "validation", 1: "train", 2: "test"}),
        }),
        "category_circles": pd.DataFrame({"category": circle_of.index,
                                          "circle_id": circle_of.to_numpy()}),
    }
    tables = {"circles": circles, "users": users, "items": items, "events": events}
    return write_source(out_src, info, tables, meta)


def _category_circles(
    edges: pd.DataFrame, feats: pd.DataFrame, *, seed: int
) -> tuple[pd.DataFrame, pd.Series]:
    """Leaf categories grouped by which users touch them (category x user counts)."""
    cate = edges["item"].map(feats.set_index("item")["cate"])
    seen = cate.notna()
    cat_codes, cat_index = pd.factorize(pd.concat([cate[seen], feats["cate"]]), sort=True)
    user_codes, _ = pd.factorize(edges["user"][seen])
    n = int(seen.sum())
    incidence = sp.csr_matrix(
        (np.ones(n), (cat_codes[:n], user_codes)),
        shape=(len(cat_index), max(user_codes.max() + 1, 1) if n else 1),
    )
    names = np.asarray([str(int(c)) for c in cat_index])
    return cluster_circles(incidence, names, n_circles=N_CIRCLES, seed=seed,
                           label="categories ")


def _code(values: pd.Series) -> pd.Series:
    """Published integer codes as strings, -1 (unknown) as null."""
    return values.astype(str).where(values >= 0)
