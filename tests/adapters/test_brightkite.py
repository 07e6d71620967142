from __future__ import annotations

import pandas as pd
import pytest

from recsys.adapters import adapt
from tests.adapters.helpers import check_source
from tests.conftest import shared_dataset

pytestmark = pytest.mark.datasets


def test_brightkite_slice_groups_and_friends(tmp_path) -> None:
    src = shared_dataset("brightkite_gb_j2prec")
    records = [line.split() for name in ("train_id.txt", "test.txt")
               for line in (src / name).read_text().splitlines()]
    initiators = sorted({int(r[0]) for r in records})[:25]
    kept = [r for r in records if int(r[0]) in initiators]
    info = adapt("brightkite-gb", src, tmp_path, limit_users=25)
    frames = check_source(tmp_path, info)
    groups, events = frames["group_buys"], frames["events"]
    assert len(groups) == len(kept)
    assert sorted(groups["target_size"]) == sorted(len(r) - 1 for r in kept)
    assert (events["type"] == "group_buy_start").sum() == len(kept)
    assert (events["type"] == "group_buy_join").sum() == sum(len(r) - 2 for r in kept)
    assert set(groups["status"]) == {"completed"}
    # participants are always friends of the initiator (PROVENANCE: 100%)
    joins = events[events["type"] == "group_buy_join"].merge(groups, on="group_id")
    pairs = joins[["initiator_id", "user_id"]].set_axis(["src", "dst"], axis=1)
    assert pairs.merge(frames["social_edges"], on=["src", "dst"]).shape[0] == len(pairs)
    split = pd.read_parquet(tmp_path / "meta" / "split.parquet")
    assert set(split["group_id"]) == set(groups["group_id"])
    assert info.reported["tune_txt_records_identical_to_test_txt"] == 1190
    assert len(frames["circles"]) == 1 and not info.has_timestamps
