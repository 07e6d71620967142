from __future__ import annotations

import pytest

from recsys.adapters import adapt
from tests.adapters.helpers import check_source
from tests.conftest import shared_dataset

pytestmark = pytest.mark.datasets


def test_amazon_beauty_slice_keeps_sequence_order(tmp_path) -> None:
    src = shared_dataset("amazon_beauty")
    lines = [line.split() for line in (src / "Beauty.txt").read_text().splitlines()[:100]]
    info = adapt("amazon-beauty", src, tmp_path, limit_users=100)
    frames = check_source(tmp_path, info)
    events = frames["events"]
    assert len(events) == sum(len(t) - 1 for t in lines)
    assert set(events["type"]) == {"purchase"}
    assert len(frames["items"]) == 12101
    # the ordinal time reproduces each user's sequence, last item last
    for tokens in lines[:10]:
        seq = events[events["user_id"] == tokens[0]].sort_values("ts")["item_id"].tolist()
        assert seq == tokens[1:]
    assert not info.has_timestamps and info.ordered
    assert 10 <= len(frames["circles"]) <= 21
    assert frames["items"]["category"].nunique() > 20
