from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from recsys.config import load_config
from recsys.datastore import DataDir
from recsys.errors import ConfigError, ContractError
from recsys.features.interactions import (
    DEFAULT_WEIGHTS,
    US_PER_DAY,
    InteractionConfig,
    load_interaction_log,
    purchase_matrix,
    to_csr,
)
from recsys.idmap import IdMap
from tests.features.conftest import T0, day, table

T0_US = int(T0.timestamp() * 1_000_000)


def test_log_rows_weights_and_attribution(data, users, items):
    log = load_interaction_log(data, users, items, InteractionConfig(post_item_factor=0.5))
    assert list(log.columns) == ["user_idx", "item_idx", "ts", "weight"]
    assert [str(t) for t in log.dtypes] == ["int32", "int32", "int64", "float32"]
    # (user, item, day, weight), sorted by user then time; hand-derived from conftest rows.
    expected = [
        (0, 0, 0, 1.0),  # view
        (0, 0, 1, 1.0),  # view
        (0, 0, 2, 8.0),  # purchase
        (0, 1, 3, 1.0),  # like (2) on post p0 naming i1, x0.5
        (1, 2, 4, 4.0),  # share
        (2, 3, 7, 10.0),  # group-buy join
        (2, 1, 8, 8.0),  # purchase
        (3, 2, 10, 1.0),  # view with item and post: the item wins at full weight
    ]
    got = list(
        zip(
            log.user_idx,
            log.item_idx,
            (log.ts - T0_US) // US_PER_DAY,
            log.weight,
            strict=True,
        )
    )
    assert got == expected
    # e5: post without item; e6: deleted post; e9: unknown user.
    assert log.attrs["read"] == 11
    assert log.attrs["dropped"] == {
        "unknown_user": 1,
        "unknown_type": 0,
        "no_item": 2,
        "zero_weight": 0,
    }


def test_deleted_posts_attribute_when_asked(data, users, items):
    config = InteractionConfig(include_deleted_posts=True)
    log = load_interaction_log(data, users, items, config)
    row = log[(log.user_idx == 1) & (log.item_idx == 0)]
    assert row.weight.tolist() == [pytest.approx(2.0 * 0.5)]
    assert log.attrs["dropped"]["no_item"] == 1


def test_zero_weight_drops_a_type(data, users, items):
    log = load_interaction_log(data, users, items, InteractionConfig(weights={"view": 0}))
    assert log.attrs["dropped"]["zero_weight"] == 3  # two views of i0 by u0 and u3's view
    assert (log.weight > 0).all()
    assert len(log) == 5


def test_unknown_item_in_items_map_falls_out(data, users):
    log = load_interaction_log(data, users, IdMap(["i0"]))
    assert set(log.item_idx) == {0}
    assert log.attrs["dropped"]["no_item"] == 11 - 1 - 3  # all but ghost and u0's i0 events


def test_missing_events_table_is_a_contract_error(tmp_path, users, items):
    with pytest.raises(ContractError, match="no usable events: no events table"):
        load_interaction_log(DataDir(tmp_path), users, items)


def test_no_usable_event_is_one_contract_error_naming_the_data(data, users, items):
    """Train and evaluate need interactions: an empty log must stop them where it is loaded,
    with the reason, not three steps later inside a model fit."""
    where = re.escape(str(data.root))
    with pytest.raises(ContractError, match=rf"^{where}: no usable events: all 11 events "
                       r"were dropped \(unknown_user 11\)") as caught:
        load_interaction_log(data, IdMap(["nobody"]), items)
    assert "\n" not in str(caught.value)
    empty = DataDir(data.root.parent / "empty_events")
    empty.write_table("events", table("events", []))
    with pytest.raises(ContractError, match="the events table has no rows"):
        load_interaction_log(empty, users, items)


def test_config_merges_defaults_and_rejects_typos(tmp_path):
    config = InteractionConfig(weights={"share": 5})
    assert config.weights["share"] == 5.0
    assert config.weights["view"] == DEFAULT_WEIGHTS["view"]
    with pytest.raises(ValidationError, match="unknown event type"):
        InteractionConfig(weights={"veiw": 1})
    with pytest.raises(ValidationError, match=">= 0"):
        InteractionConfig(weights={"view": -1})
    path = tmp_path / "c.toml"
    path.write_text("post_item_factor = 0.25\n[weights]\nlike = 3.0\n")
    loaded = load_config(InteractionConfig, path)
    assert (loaded.post_item_factor, loaded.weights["like"]) == (0.25, 3.0)
    path.write_text("half_life = 3\n")
    with pytest.raises(ConfigError, match="half_life"):
        load_config(InteractionConfig, path)


def _log(rows: list[tuple[int, int, float, float]]) -> pd.DataFrame:
    users, items, days, weights = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_idx": np.array(users, np.int32),
            "item_idx": np.array(items, np.int32),
            "ts": (T0_US + np.array(days) * US_PER_DAY).astype(np.int64),
            "weight": np.array(weights, np.float32),
        }
    )


def test_to_csr_sums_duplicates():
    m = to_csr(_log([(0, 1, 0, 1.0), (0, 1, 1, 2.0), (2, 0, 0, 8.0)]), 3, 2)
    assert m.dtype == np.float32 and m.shape == (3, 2) and m.nnz == 2
    np.testing.assert_array_equal(m.toarray(), [[0, 3], [0, 0], [8, 0]])


def test_to_csr_decay_halves_per_half_life():
    log = _log([(0, 0, 0, 4.0), (0, 0, 10, 2.0), (1, 1, 20, 1.0)])
    m = to_csr(log, 2, 2, half_life_days=10)
    # reference = newest event (day 20): ages 20, 10, 0 days
    np.testing.assert_allclose(m.toarray(), [[4 / 4 + 2 / 2, 0], [0, 1]], rtol=1e-6)
    ref = T0_US + 30 * US_PER_DAY
    m = to_csr(log, 2, 2, half_life_days=10, reference_ts=ref)
    np.testing.assert_allclose(m.toarray(), [[4 / 8 + 2 / 4, 0], [0, 0.5]], rtol=1e-6)
    # events after the reference are not boosted
    m = to_csr(log, 2, 2, half_life_days=10, reference_ts=T0_US)
    np.testing.assert_allclose(m.toarray(), [[4 + 2, 0], [0, 1]], rtol=1e-6)


def test_to_csr_end_to_end_with_config_half_life(data, users, items):
    config = InteractionConfig(half_life_days=1.0)
    log = load_interaction_log(data, users, items, config)
    m = to_csr(
        log,
        len(users),
        len(items),
        half_life_days=config.half_life_days,
        reference_ts=int(day(2).timestamp() * 1_000_000),
    )
    # u0 on i0: views at day 0 and 1 (ages 2, 1), purchase at day 2
    assert m[0, 0] == pytest.approx(0.25 + 0.5 + 8.0)


def test_to_csr_rejects_out_of_range_and_handles_empty():
    with pytest.raises(ValueError, match="item_idx"):
        to_csr(_log([(0, 5, 0, 1.0)]), 1, 2)
    empty = to_csr(_log([(0, 0, 0, 1.0)]).iloc[:0], 2, 3, half_life_days=1)
    assert empty.shape == (2, 3) and empty.nnz == 0


def test_purchase_matrix_marks_buyers_once(data, users, items):
    bought = purchase_matrix(data, users, items)
    assert bought.shape == (len(users), len(items))
    got = {(users.ids[u], items.ids[i]) for u, i in zip(*bought.nonzero(), strict=True)}
    # e2 purchase, e7 group-buy join, e8 purchase; views/likes/shares and the ghost are not
    assert got == {("u0", "i0"), ("u2", "i3"), ("u2", "i1")}
    assert set(bought.data) == {1.0}


def test_purchase_matrix_without_events_is_empty(tmp_path, users, items):
    assert purchase_matrix(DataDir(tmp_path), users, items).nnz == 0
