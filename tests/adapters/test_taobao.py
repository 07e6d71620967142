from __future__ import annotations

import pandas as pd
import pytest

from recsys.adapters import adapt
from tests.adapters.helpers import check_source
from tests.conftest import shared_dataset

pytestmark = pytest.mark.datasets


def test_taobao_slice_matches_raw(tmp_path) -> None:
    src = shared_dataset("taobao_ecomm_dyhatr")
    edges = pd.read_csv(src / "ecomm_edge_train.txt", sep="\t", header=None,
                        names=["u", "i", "b", "d"])
    users = pd.read_csv(src / "ecomm_user_feature.txt", sep="\t", header=None)[0]
    info = adapt("taobao", src, tmp_path, limit_users=150)
    frames = check_source(tmp_path, info)
    kept = edges[edges["u"].isin(sorted(users)[:150])]
    events = frames["events"]
    assert len(events) == len(kept)
    assert events["type"].value_counts().to_dict() == {
        k: v for k, v in {
            "view": (kept["b"] == 1).sum(), "like": kept["b"].isin([2, 3]).sum(),
            "purchase": (kept["b"] == 4).sum()}.items() if v}
    behaviours = pd.read_parquet(tmp_path / "meta" / "behaviours.parquet")
    assert (behaviours["behaviour"] == "cart").sum() == (kept["b"] == 3).sum()
    items = frames["items"].set_index("item_id")
    assert len(items) == 36224 and items.loc["224658783", "price"] == 21.8
    assert items["brand"].notna().sum() == 680  # brand id 0 read as unknown
    # dates are China days: 2019-06-10 00:00 +08:00
    assert events["ts"].min() >= pd.Timestamp("2019-06-09T16:00Z")
    assert info.has_timestamps and info.timestamp_granularity == "day"
