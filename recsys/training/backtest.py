"""The back-test step: the shipped scorer fitted on the events before a time cut.

Audience segments rank users by the served vectors; to say how such a ranking would have done,
the same ranking is made with vectors that never saw the last `backtest.days` days, and the
buyers of that period are counted (`recsys.segments.reach`). The cut is the newest event minus
`days`; events at or before it are fitted, purchases after it are the held-out truth.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.bundle.parts.activity import recent_events
from recsys.bundle.parts.backtest import Backtest
from recsys.datastore import DataDir
from recsys.features._sql import connection, has_view, register_idmap
from recsys.features.interactions import PURCHASE_TYPES, US_PER_DAY, to_csr
from recsys.idmap import IdMap
from recsys.item_stats import users_per_item
from recsys.recipe import TrainConfig
from recsys.training.steps import fit_scorer

logger = logging.getLogger(__name__)


def backtest_fit(
    data: DataDir,
    log: pd.DataFrame,
    users: IdMap,
    items: IdMap,
    content: np.ndarray | None,
    config: TrainConfig,
) -> tuple[Backtest | None, dict[str, object]]:
    """The pre-cut fit and the purchases around the cut, or None and why it was skipped."""
    if not config.backtest.enabled:
        return None, {"skipped": "backtest.enabled is false"}
    ts = log["ts"].to_numpy(np.int64)
    if len(ts) == 0 or ts.min() == ts.max():
        return None, {"skipped": "the events carry no times"}
    end = int(ts.max())
    cut = end - int(round(config.backtest.days * US_PER_DAY))
    before = (ts <= cut).nonzero()[0]
    if len(before) == 0 or len(before) == len(ts):
        return None, {
            "skipped": f"no events on both sides of a cut {config.backtest.days:g} days before "
            "the newest event"
        }
    n_users, n_items = len(users), len(items)
    train = to_csr(
        log.iloc[before],
        n_users,
        n_items,
        half_life_days=config.interactions.half_life_days,
        reference_ts=cut,
    )
    model = fit_scorer(train, content, config)
    bought_before, bought_after = purchases_around(data, users, items, cut)
    part = Backtest(
        cut_ts=cut,
        end_ts=end,
        user_vectors=np.ascontiguousarray(model.user_factors_, dtype=np.float32),
        item_vectors=np.ascontiguousarray(model.item_vectors_, dtype=np.float32),
        item_users=users_per_item(train),
        user_events=np.bincount(log["user_idx"].to_numpy()[before], minlength=n_users).astype(
            np.float32
        ),
        recent_events=recent_events(
            log["user_idx"].to_numpy(), ts, n_users, cut, config.segments.recent_days
        ),
        bought_before=bought_before,
        bought_after=bought_after,
    )
    metrics: dict[str, object] = {
        "cut": datetime.fromtimestamp(cut / 1e6, UTC).isoformat(),
        "days": float(config.backtest.days),
        "events_before": int(len(before)),
        "events_after": int(len(ts) - len(before)),
        "buyers_after": int((np.diff(bought_after.indptr) > 0).sum()),
    }
    logger.info("back-test fit: %s", metrics)
    return part, metrics


def purchases_around(
    data: DataDir, users: IdMap, items: IdMap, cut_ts: int
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(n_users, n_items) 0/1 matrices of purchases (`PURCHASE_TYPES`) at or before `cut_ts`
    and after it; events naming unknown users or items are left out, as the log leaves them."""
    shape = (len(users), len(items))
    if not data.has_table("events"):
        empty = sp.csr_matrix(shape, dtype=np.float32)
        return empty, empty.copy()
    with connection(data) as con:
        if not has_view(con, "events"):
            empty = sp.csr_matrix(shape, dtype=np.float32)
            return empty, empty.copy()
        register_idmap(con, "user_map", users, "user_id", "user_idx")
        register_idmap(con, "item_map", items, "item_id", "item_idx")
        types = ", ".join(f"'{t}'" for t in PURCHASE_TYPES)
        pairs = con.execute(
            "SELECT DISTINCT u.user_idx, i.item_idx, epoch_us(e.ts) > ? AS after FROM events e "
            "JOIN user_map u ON e.user_id = u.user_id JOIN item_map i ON e.item_id = i.item_id "
            f"WHERE e.type IN ({types})",
            [int(cut_ts)],
        ).fetchnumpy()
    after = np.asarray(pairs["after"], dtype=bool)
    out = []
    for side in (~after, after):
        rows, cols = pairs["user_idx"][side], pairs["item_idx"][side]
        m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
        m.sum_duplicates()
        m.data[:] = 1.0
        m.sort_indices()
        out.append(m)
    return out[0], out[1]
