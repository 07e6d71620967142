"""Training's ranked step: the recommender the runtime serves to known users with history.

`RankedRecommender` (candidate sources -> learned ranker, `recsys.recommenders.ranked`) is
fitted on the training matrix, the same rows the bundle's history part keeps and the runtime
scores, with the side data training has: first-event times from the log, the item catalogue's
circles, group-buy flags, prices and creation times, friendships, and the content vectors
already encoded for the shipped scorer. Its own fit report (label fold, tuning, ranker, what
serves, seconds) goes into `metrics.ranked`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.bundle.parts.ranked import RankedModel
from recsys.datastore import DataDir
from recsys.feeds.side_loader import load_side_data
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig
from recsys.recommenders.base import Recommender
from recsys.recommenders.ranked import RankedRecommender

logger = logging.getLogger(__name__)


def fit_ranked(
    data: DataDir,
    users: IdMap,
    items: IdMap,
    log: pd.DataFrame,
    user_items: sp.csr_matrix,
    content: np.ndarray | None,
    config: TrainConfig,
    prefit: Sequence[Recommender] = (),
    friends: sp.csr_matrix | None = None,
) -> tuple[RankedModel | None, dict[str, object]]:
    """The ranked part and `metrics.ranked`; (None, why) with ``[ranked] enabled = false``.

    Parameters
    ----------
    log : the interaction log training read (user_idx, item_idx, ts, ...): the times.
    user_items : (n_users, n_items) the training confidence matrix (the history part's).
    content : (n_items, d) content vectors, or None when the content map was skipped.
    prefit : models already fitted on `user_items` (the shipped scorer's CF): a source whose
        final fit would be the same model takes it (`metrics.ranked.adopted`), one fit saved.
    friends : the social graph's friendships when training has read them (None: read here).
    """
    if not config.ranked.enabled:
        return None, {"skipped": "[ranked] enabled = false: the shipped scorer serves"}
    kind = data.time_kind()
    ts = log["ts"].to_numpy() if "ts" in log.columns else np.zeros(0)
    varies = len(ts) > 0 and bool(ts.min() != ts.max())
    side = load_side_data(
        data, users, items, log, ordered=varies and kind != "none",
        global_time=varies and kind in ("real", None), content=content, friends=friends,
    )
    model = RankedRecommender(config=config.ranked.recipe(config.seed)).fit(
        user_items, side=side, show_progress=False, prefit=prefit
    )
    return RankedModel(model), dict(model.report_)
