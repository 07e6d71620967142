"""Side data read from a data directory, for training and for the evaluation harness alike.

Times come from the (training part of the) interaction log, never from anything later, so a
temporal split's test period cannot leak in; the catalogue (circle, group-buy flag, price,
creation time) and the friendships come from the contract tables when they say something.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir
from recsys.features.interactions import US_PER_DAY
from recsys.feeds.side import SideData
from recsys.idmap import IdMap
from recsys.placement.social import load_friends

logger = logging.getLogger(__name__)


def first_times(log: pd.DataFrame, n_users: int, n_items: int, t0: int) -> sp.csr_matrix:
    """(n_users, n_items) CSR of each pair's first event time in days after `t0`, plus 1 (so
    no stored time is zero)."""
    pairs = log.groupby(["user_idx", "item_idx"], sort=False, observed=True)["ts"].min()
    days = (pairs.to_numpy(np.int64) - t0) / US_PER_DAY + 1.0
    u = pairs.index.get_level_values(0).to_numpy()
    i = pairs.index.get_level_values(1).to_numpy()
    return sp.csr_matrix((days, (u, i)), shape=(n_users, n_items))


def load_side_data(data: DataDir, users: IdMap, items: IdMap, log: pd.DataFrame, *,
                   ordered: bool, global_time: bool,
                   content: np.ndarray | None = None,
                   friends: sp.csr_matrix | None = None) -> SideData:
    """Side data of the users and items of `data`, with times from `log` (the training part).

    Parameters
    ----------
    log : interaction log (user_idx, item_idx, ts, ...) the model is fitted on.
    ordered : whether `ts` orders each user's events (real times or sequence positions).
    global_time : whether `ts` is a real clock shared by all users.
    content : (n_items, d) content vectors, if encoded.
    friends : the friendships of `users` when the caller has read them (training's social
        graph), else they are read from `data`.
    """
    n_users, n_items = len(users), len(items)
    ts = log["ts"].to_numpy()
    first_ts = None
    if ordered and len(ts) and ts.min() != ts.max():
        first_ts = first_times(log, n_users, n_items, int(ts.min()))
    table = data.read_table("items", ["item_id", "category", "is_group_buy", "price",
                                      "created_ts"]).to_pandas()
    table = table.set_index("item_id").reindex(items.ids)
    circle = None
    if data.has_table("circles"):
        catalogue = CircleCatalogue.from_table(data.read_table("circles"))
        index = {cat: catalogue.index_of(c) for cat, c in catalogue.category_to_circle().items()}
        circle = table["category"].map(index).fillna(-1).to_numpy(np.int64)
    group_buy = table["is_group_buy"].fillna(False).to_numpy(bool)
    price = table["price"].fillna(0.0).to_numpy(np.float64)
    created = None
    if global_time and first_ts is not None:
        stamp = pd.to_datetime(table["created_ts"], utc=True)
        micros = (stamp - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
        created = ((micros.fillna(ts.min()).to_numpy(np.int64) - int(ts.min())) / US_PER_DAY
                   + 1.0)
    friends = load_friends(data, users) if friends is None else friends
    side = SideData(first_ts=first_ts, global_time=global_time, item_content=content,
                    item_circle=circle, item_group_buy=group_buy if group_buy.any() else None,
                    item_price=price if (price > 0).any() else None, item_created=created,
                    friends=friends if friends is not None and friends.nnz else None)
    logger.info("side data: times %s (global %s), circles %s, group buys %d, priced %d, "
                "friends %s, content %s", first_ts is not None, global_time,
                None if circle is None else len(np.unique(circle)), int(group_buy.sum()),
                int((price > 0).sum()), None if side.friends is None else side.friends.nnz,
                None if content is None else content.shape)
    return side
