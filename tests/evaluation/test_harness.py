"""The evaluation harness on a tiny planted data directory (two taste groups, timed events)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from recsys.adapters.common import DATASET_JSON, AdapterInfo
from recsys.bundle import Bundle, BundleWriter
from recsys.config import load_config
from recsys.contract import table_spec
from recsys.datastore import DataDir
from recsys.errors import ConfigError
from recsys.evaluation.harness import (
    evaluation_entry,
    placement_f1,
    prepare,
    record_in_bundle,
    resolve_split,
    run_evaluation,
    write_tuned_configs,
)
from recsys.evaluation.splits import LOG_COLUMNS
from recsys.feeds.config import RankedConfig
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WORDS = ("lipstick serum makeup", "phone charger cable")


def _table(name: str, rows: list[dict]) -> pa.Table:
    spec = table_spec(name)
    defaults = {"title": "t", "merchant_id": "m", "price": 1.0, "status": "listed",
                "is_group_buy": False, "share_opt_out": False, "created_ts": T0,
                "signup_ts": T0}
    cols = {f.name: pa.array([r.get(f.name, defaults.get(f.name)) for r in rows], type=f.type)
            for f in spec.schema}
    return pa.table(cols, schema=spec.schema)


def make_data_dir(root: Path, *, n_users: int = 60, n_items: int = 40, seed: int = 0,
                  fixed_split: bool = False, timed: bool = True) -> Path:
    """Users of group g interact mostly with items of group g (items i{2k+g}), 12 events each.

    Two items (the last of each group) get a single user, so the shipped model content-maps
    them. Titles carry the group's words, so content vectors separate the groups.
    """
    rng = np.random.default_rng(seed)
    data = DataDir(root)
    users = [f"u{u}" for u in range(n_users)]
    items = [f"i{i}" for i in range(n_items)]
    rows, n = [], 0
    for u in range(n_users):
        group = u % 2
        own = np.arange(group, n_items - 2, 2)
        picks = rng.choice(own, size=10, replace=False).tolist() + rng.choice(
            n_items - 2, size=2, replace=False).tolist()
        for j, i in enumerate(picks):
            ts = T0 + timedelta(hours=(j * 24 + u) if timed else 0)
            rows.append(dict(event_id=f"e{n}", user_id=f"u{u}", item_id=f"i{i}",
                             type="view", ts=ts))
            n += 1
    for u, i in ((0, n_items - 2), (1, n_items - 1)):
        rows.append(dict(event_id=f"e{n}", user_id=f"u{u}", item_id=f"i{i}", type="purchase",
                         ts=T0 + timedelta(days=1)))
        n += 1
    data.write_table("users", _table("users", [dict(user_id=u) for u in users]))
    data.write_table("items", _table("items", [
        dict(item_id=f"i{i}", title=f"{WORDS[i % 2]} model {i}", category=f"c{i % 2}")
        for i in range(n_items)]))
    data.write_table("events", _table("events", rows))
    data.idmap_dir.mkdir(parents=True, exist_ok=True)
    IdMap(users).save(data.idmap_path("users"))
    IdMap(items).save(data.idmap_path("items"))
    info = AdapterInfo(name="tiny", has_timestamps=timed, ordered=timed)
    if fixed_split:
        ev = pd.DataFrame(rows)
        fold = np.where(np.random.default_rng(1).random(len(ev)) < 0.2, "test", "train")
        (root / "meta").mkdir(exist_ok=True)
        pd.DataFrame({"user_id": ev["user_id"], "item_id": ev["item_id"], "fold": fold}).to_parquet(
            root / "meta" / "split.parquet")
        info.split = {"path": "meta/split.parquet", "key": ["user_id", "item_id"],
                      "folds": ["train", "test"]}
    (root / DATASET_JSON).write_text(info.to_json())
    return root


FAST = TrainConfig.model_validate(
    {"cf": {"factors": 8, "iterations": 5}, "content": {"n_components": 4, "min_df": 1}}
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("tiny"))


def _pairs(m) -> set[tuple[int, int]]:
    coo = m.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


def test_resolve_split_prefers_fixed_then_times_then_random() -> None:
    timed = pd.DataFrame({c: [0, 0] for c in LOG_COLUMNS}).assign(ts=[1, 2])
    untimed = timed.assign(ts=[0, 0])
    with_split = AdapterInfo(name="x", has_timestamps=False, ordered=False,
                             split={"path": "meta/split.parquet"})
    assert resolve_split("auto", with_split, untimed) == ("fixed", None)
    assert resolve_split("auto", None, timed) == ("temporal", None)
    method, why = resolve_split("auto", None, untimed)
    assert method == "random" and "every ts is the same" in why
    assert resolve_split("leave_last_out", with_split, timed) == ("leave_last_out", None)
    with pytest.raises(ConfigError, match="no predefined split"):
        resolve_split("fixed", None, timed)


def test_resolve_split_believes_the_import_over_varying_ts() -> None:
    # Amazon: ts is the position in the user's sequence, so it varies, but is no time.
    positions = pd.DataFrame({c: [0, 0] for c in LOG_COLUMNS}).assign(ts=[1, 2])
    sequence = AdapterInfo(name="amazon", has_timestamps=False, ordered=True)
    for requested in ("auto", "temporal"):
        method, why = resolve_split(requested, sequence, positions)
        assert method == "random"
        assert "has_timestamps=false" in why and "only an order" in why
    # an ordered sequence still supports each user's last item
    assert resolve_split("leave_last_out", sequence, positions) == ("leave_last_out", None)
    dated = AdapterInfo(name="taobao", has_timestamps=True, ordered=False)
    assert resolve_split("auto", dated, positions) == ("temporal", None)


def test_auto_split_on_an_undated_sequence_is_random_and_says_so(tmp_path: Path) -> None:
    root = make_data_dir(tmp_path / "seq")  # timed events ...
    info = AdapterInfo.read(root)
    info.has_timestamps = False  # ... that the import says are only an order
    (root / DATASET_JSON).write_text(info.to_json())
    p = prepare(root, config=FAST, with_content=False)
    assert p.split.info["method"] == "random" and p.split.info["requested"] == "auto"
    assert p.split.info["validation"]["method"] == "random"
    assert p.split.info["has_timestamps"] is False
    assert "has_timestamps=false" in p.split.info["fallback"]
    timed = prepare(make_data_dir(tmp_path / "timed"), config=FAST, with_content=False)
    assert timed.split.info["method"] == "temporal" and "fallback" not in timed.split.info


def test_train_events_count_every_training_event_per_item(tmp_path: Path) -> None:
    root = make_data_dir(tmp_path / "repeats")
    data = DataDir(root)
    events = data.read_table("events")
    first = events.slice(0, 1)  # u0's first item, viewed 3 more times
    repeat = pa.concat_tables([first] * 3).set_column(
        0, events.schema.field(0), pa.array(["r0", "r1", "r2"]))
    data.write_table("events", pa.concat_tables([events, repeat]))
    p = prepare(root, split="random", config=FAST, with_content=False)
    assert p.train_events.sum() == p.split.info["n_train"]
    item_id = first.column("item_id")[0].as_py()
    item = IdMap.load(root / "idmap/items.parquet").to_index(np.array([item_id]))[0]
    assert p.train[0, item] != 0  # the seeded split kept the repeated pair in train
    users_of_item = int((p.train[:, item] != 0).sum())
    assert p.train_events[item] == users_of_item + 3  # events, not users
    result = run_evaluation(p, config=FAST, baselines=("popularity",), n_trials=1,
                            tune_shipped_recipe=False)
    np.testing.assert_array_equal(result.comparison.item_interactions, p.train_events)


@pytest.mark.parametrize("method", ["temporal", "leave_last_out", "random"])
def test_prepare_keeps_test_and_validation_out_of_training(tiny: Path, method: str) -> None:
    p = prepare(tiny, split=method, config=FAST, seed=3)
    assert p.train.shape == p.test.shape == p.valid.shape == (60, 40)
    train, inner = _pairs(p.train), _pairs(p.inner_train)
    test, valid = _pairs(p.test), _pairs(p.valid)
    assert test and valid
    assert not test & train  # never evaluate on what was trained on
    assert not valid & inner
    assert valid <= train and inner <= train  # validation is carved from train only
    assert p.split.info["method"] == method and p.split.info["validation"]["method"] == method
    assert p.content.shape == (40, 4)


def test_prepare_is_seeded(tiny: Path) -> None:
    a = prepare(tiny, split="random", config=FAST, seed=1, with_content=False)
    b = prepare(tiny, split="random", config=FAST, seed=1, with_content=False)
    c = prepare(tiny, split="random", config=FAST, seed=2, with_content=False)
    assert _pairs(a.test) == _pairs(b.test) != _pairs(c.test)


def test_fixed_split_follows_the_data_sets_folds(tmp_path: Path) -> None:
    root = make_data_dir(tmp_path / "fixed", fixed_split=True)
    p = prepare(root, config=FAST, with_content=False)  # auto -> fixed
    assert p.split.info["method"] == "fixed"
    folds = pd.read_parquet(root / "meta" / "split.parquet")
    users = IdMap.load(root / "idmap/users.parquet")
    items = IdMap.load(root / "idmap/items.parquet")
    key = users.to_index(folds["user_id"]) * 40 + items.to_index(folds["item_id"])
    in_train = set(key[folds["fold"] == "train"].tolist())
    expected = set(key[folds["fold"] == "test"].tolist()) - in_train
    got = {u * 40 + i for u, i in _pairs(p.test)}
    dropped = p.split.info["dropped_unknown_user"] + p.split.info["dropped_unknown_item"]
    assert got <= expected and len(expected) - len(got) <= dropped
    assert {u * 40 + i for u, i in _pairs(p.train)} == in_train


@pytest.fixture(scope="module")
def result(tiny: Path):
    p = prepare(tiny, split="random", config=FAST, seed=0)
    return run_evaluation(p, config=FAST, baselines=("popularity", "als"), n_trials=2, seed=0,
                          with_cf_only=True)


def test_run_evaluation_compares_every_model_on_the_same_split(result) -> None:
    assert set(result.metrics) == {
        "popularity", "als", "shipped", "shipped_tuned", "shipped_cf_only", "feed"}
    users = {r["n_users"] for r in result.metrics.values()}
    assert len(users) == 1
    for r in result.metrics.values():
        assert 0.0 <= r["ndcg@10"] <= 1.0 and "long_tail_share@20" in r
    # the planted groups are learnable: a factor model beats most-popular
    assert result.metrics["shipped"]["ndcg@10"] > result.metrics["popularity"]["ndcg@10"]
    assert set(result.tuning) == {"popularity", "als", "shipped"}
    assert set(result.tuning["shipped"].best_params) == {
        "factors", "regularization", "alpha", "item_knn.k", "item_knn.similarity",
        "item_knn.rp3_alpha", "item_knn.rp3_beta", "item_knn.weight"}


def test_the_feed_picks_its_tail_weight_on_validation_and_draws_both_curves(result) -> None:
    feed = result.feed
    grid = [p["tail_weight"] for p in feed["ours"]]
    assert feed["tail_weight"] in grid and grid == [p["tail_weight"] for p in feed["naive"]]
    plain = next(p for p in feed["validation"] if p["tail_weight"] == 0.0)
    at = next(p for p in feed["validation"] if p["tail_weight"] == feed["tail_weight"])
    assert at["ndcg@10"] >= 0.95 * plain["ndcg@10"]
    # At weight 0 both methods are the plain order, which the table measures as "shipped".
    assert feed["ours"][0]["ndcg@10"] == feed["naive"][0]["ndcg@10"]
    assert abs(feed["ours"][0]["ndcg@10"] - result.metrics["shipped"]["ndcg@10"]) < 1e-9
    tails = [p["long_tail_share@10"] for p in feed["ours"]]
    assert tails[-1] >= tails[0]
    assert result.metrics["feed"]["long_tail_share@10"] >= \
        result.metrics["shipped"]["long_tail_share@10"]


def test_rp3beta_is_a_tuned_item_knn_baseline_and_a_start_of_the_recipe(
        tiny: Path, tmp_path: Path) -> None:
    p = prepare(tiny, split="random", config=FAST, seed=0, with_content=False)
    r = run_evaluation(p, config=FAST, baselines=("itemknn", "rp3beta", "als"), n_trials=3,
                       seed=0)
    rp3 = r.tuning["rp3beta"]
    assert rp3.model_name == "rp3beta" and "rp3beta" in r.metrics
    assert {t.params["similarity"] for t in rp3.trials} == {"rp3beta"}
    assert {t.params["similarity"] for t in r.tuning["itemknn"].trials} <= {
        "cosine", "bm25", "tfidf"}
    assert 0.2 <= rp3.best_params["rp3_alpha"] <= 1.2
    assert 0.0 <= rp3.best_params["rp3_beta"] <= 0.8
    # tune_shipped's fits: the recipe, tuned ALS + tuned item-kNN, tuned ALS + tuned RP3beta
    fits = [t.params for t in r.tuning["shipped"].trials if t.params["item_knn.weight"] == 0.0]
    assert fits[1]["item_knn.similarity"] == r.tuning["itemknn"].best_params["similarity"]
    assert fits[2]["factors"] == r.tuning["als"].best_params["factors"]
    assert {key: fits[2][f"item_knn.{key}"] for key in rp3.best_params} == rp3.best_params
    baselines = [f for f in write_tuned_configs(r, tmp_path) if "baselines" in f.name][0]
    assert '[rp3beta]\nk = ' in baselines.read_text()
    assert 'similarity = "rp3beta"' in baselines.read_text()


def test_unknown_baseline_is_a_config_error(tiny: Path) -> None:
    p = prepare(tiny, split="random", config=FAST, with_content=False)
    with pytest.raises(ConfigError, match="unknown baseline"):
        run_evaluation(p, baselines=("slim",), n_trials=1)


def test_tuned_configs_are_a_valid_recipe_and_a_baselines_file(result, tmp_path: Path) -> None:
    recipe, baselines = sorted(write_tuned_configs(result, tmp_path), key=lambda p: p.name)[::-1]
    cfg = load_config(TrainConfig, recipe)
    best = result.tuning["shipped"].best_params
    assert cfg.cf.factors == best["factors"] and cfg.cf.alpha == pytest.approx(best["alpha"])
    assert cfg.content == TrainConfig().content  # only [cf] is tuned
    text = baselines.read_text()
    assert baselines.name == "tiny.baselines.toml" and "[als]" in text and "[popularity]" in text


def test_record_in_bundle_keeps_the_bundle_valid(result, tiny: Path, tmp_path: Path) -> None:
    per_circle = {"beauty": {"f1": 0.5, "precision": 1.0, "recall": 0.3, "support": 3},
                  "digital": {"f1": None, "precision": None, "recall": 0.0, "support": 0}}
    metrics = {"placement": {"model": {"subsets": {"all": {"per_circle": per_circle}}}}}
    with BundleWriter(tmp_path / "models") as writer:
        writer.write_array("items/factors", np.ones((3, 2), np.float32))
        root = writer.commit(config=FAST.model_dump(mode="json"), metrics=metrics)
    entry = evaluation_entry(result, tiny)
    record_in_bundle(root, entry)
    bundle = Bundle.open(root)  # checksums still verify
    assert bundle.manifest.metric("evaluation.models.shipped.ndcg@10") == pytest.approx(
        result.metrics["shipped"]["ndcg@10"])
    assert bundle.manifest.metrics["placement"] == metrics["placement"]
    assert placement_f1(bundle.manifest) == {"beauty": 0.5}
    stored = json.loads((root / "manifest.json").read_text())
    assert stored["metrics"]["evaluation"]["dataset"] == "tiny"
    assert not list(root.glob(".*tmp"))


def test_items_without_usable_text_evaluate_the_recipe_without_a_content_map(
        tmp_path: Path) -> None:
    """As in training: titles that do not tell items apart ("place N") give no content map;
    the shipped recipe is measured on its CF factors and the reason is kept."""
    root = make_data_dir(tmp_path / "places")
    DataDir(root).write_table("items", _table("items", [
        dict(item_id=f"i{i}", title=f"place {i}", category="place") for i in range(40)]))
    p = prepare(root, split="random", config=FAST, seed=0)
    assert p.content is None
    assert p.content_skipped.startswith("items have no usable text: 25.0% of 40")
    result = run_evaluation(p, config=FAST, baselines=(), n_trials=1, tune_shipped_recipe=False)
    assert 0.0 <= result.metrics["shipped"]["ndcg@10"] <= 1.0


def test_ranked_is_evaluated_beside_the_baselines_with_side_data(tiny: Path) -> None:
    p = prepare(tiny, split="temporal", config=FAST, seed=0, with_side=True)
    assert p.side is not None and p.side.first_ts is not None and p.side.global_time
    # The side data's times are the train split's: no pair of the test fold has one.
    assert p.side.first_ts.multiply(p.test).nnz == 0
    ranked = RankedConfig.model_validate({
        "tune_budget_s": 0, "ranker": {"num_leaves": [7], "max_rounds": 20},
        "sources": [{"name": "rp3beta", "kind": "rp3beta", "n": 10, "params": {"k": 20}},
                    {"name": "popularity", "kind": "popularity", "n": 5},
                    {"name": "content", "kind": "content", "n": 5}]})
    result = run_evaluation(p, config=FAST, baselines=("popularity",), n_trials=1, seed=0,
                            tune_shipped_recipe=False, ranked=ranked, with_feed=False)
    assert {"popularity", "shipped", "ranked"} == set(result.metrics)
    assert result.fit_reports["ranked"]["label_split"] == "temporal"  # as the test fold was cut
    per_user = result.comparison.per_user_ndcg
    assert len({len(v) for v in per_user.values()}) == 1
    assert np.nanmean(per_user["ranked"]) == pytest.approx(result.metrics["ranked"]["ndcg@10"])
