"""The back-test step skips, with its reason, when there is no time cut to make."""

from __future__ import annotations

import pandas as pd

from recsys.idmap import IdMap
from recsys.recipe import TrainConfig
from recsys.training.backtest import backtest_fit

DAY = 86_400_000_000


def log(ts: list[int]) -> pd.DataFrame:
    n = len(ts)
    return pd.DataFrame({"user_idx": [0] * n, "item_idx": [0] * n, "ts": ts, "weight": [1.0] * n})


def fit(events: pd.DataFrame, **backtest: object):
    config = TrainConfig.model_validate({"backtest": backtest})
    ids = IdMap(["a"])
    return backtest_fit(None, events, ids, ids, None, config)  # type: ignore[arg-type]


def test_skips_are_explained() -> None:
    assert fit(log([DAY, 2 * DAY]), enabled=False) == (
        None,
        {"skipped": "backtest.enabled is false"},
    )
    assert fit(log([0, 0]))[1] == {"skipped": "the events carry no times"}
    part, metrics = fit(log([DAY, 2 * DAY]), days=30.0)  # every event falls after the cut
    assert part is None and "no events on both sides" in metrics["skipped"]
