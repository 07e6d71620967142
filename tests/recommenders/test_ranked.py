"""The ranked recommender with every kind of side data (the contract test covers none)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ContractError
from recsys.feeds.side import SideData
from recsys.recommenders.ranked import RankedRecommender

N_USERS, N_ITEMS, N_CIRCLES = 90, 30, 3


def world(seed: int = 0) -> tuple[sp.csr_matrix, SideData]:
    """Users like items of their own circle; friends share a circle; times grow."""
    rng = np.random.default_rng(seed)
    user_circle = np.arange(N_USERS) % N_CIRCLES
    item_circle = np.arange(N_ITEMS) % N_CIRCLES
    likes = (user_circle[:, None] == item_circle[None, :]) & (rng.random((N_USERS, N_ITEMS)) < 0.5)
    x = sp.csr_matrix(likes.astype(np.float32))
    times = sp.csr_matrix(x.multiply(rng.integers(1, 100, size=x.shape)).astype(np.float64))
    same = user_circle[:, None] == user_circle[None, :]
    friends = sp.csr_matrix((same & (rng.random((N_USERS, N_USERS)) < 0.2)
                             & ~np.eye(N_USERS, dtype=bool)).astype(np.float32))
    content = np.eye(N_CIRCLES, dtype=np.float32)[item_circle] + rng.normal(
        0, 0.1, (N_ITEMS, N_CIRCLES)).astype(np.float32)
    side = SideData(first_ts=times, item_content=content, item_circle=item_circle,
                    item_group_buy=np.arange(N_ITEMS) % 4 == 0,
                    item_price=rng.uniform(5, 50, N_ITEMS),
                    item_created=np.zeros(N_ITEMS), friends=friends)
    return x, side


CONFIG = {
    "tune_budget_s": 0, "recent_items": 3,
    "ranker": {"num_leaves": [7], "max_rounds": 30, "objectives": ["lambdarank"]},
    "sources": [
        {"name": "rp3beta", "kind": "rp3beta", "n": 8, "params": {"k": 20}},
        {"name": "popularity", "kind": "popularity", "n": 4},
        {"name": "friends", "kind": "friends", "n": 4},
        {"name": "circle_trending", "kind": "circle_trending", "n": 4},
        {"name": "content", "kind": "content", "n": 4},
    ],
}


@pytest.fixture(scope="module")
def fitted() -> tuple[RankedRecommender, sp.csr_matrix]:
    x, side = world()
    return RankedRecommender(config=CONFIG).fit(x, side=side), x


def test_every_side_feature_is_built_and_recorded(fitted):
    model, _ = fitted
    names = set(model.features_.feature_names_)
    assert {"friends_score", "circle_trending_rank", "content_sim", "circle_share", "trend",
            "age", "group_buy", "price_gap", "rp3beta_last_sim", "rp3beta_recent_sim"} <= names
    report = model.report_
    assert report["label_split"] == "temporal" and report["skipped_sources"] == {}
    assert {"first_fit", "ranker", "refit_s", "serves"} <= set(report)


def test_recommends_unseen_items_of_the_users_circle(fitted):
    model, x = fitted
    users = np.arange(N_USERS)
    ids, _ = model.recommend(users, x, k=3)
    assert not np.isin(ids, -1).any()
    assert (ids % N_CIRCLES == (users % N_CIRCLES)[:, None]).mean() > 0.9
    for row, seen in zip(ids, x.tolil().rows, strict=True):
        assert not set(row.tolist()) & set(seen)


def test_save_load_round_trip_with_side_state(fitted, tmp_path):
    model, x = fitted
    model.save(tmp_path / "m")
    loaded = RankedRecommender.load(tmp_path / "m")
    users = np.r_[np.arange(N_USERS), -1]  # -1: a user unknown to the fit
    rows = sp.vstack([x, x[:1]]).tocsr()
    a, b = model.recommend(users, rows, k=5), loaded.recommend(users, rows, k=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-6)


def test_side_data_of_the_wrong_shape_fails_clearly():
    x, side = world()
    bad = SideData(item_circle=np.zeros(N_ITEMS + 1, np.int64))
    with pytest.raises(ContractError, match="item_circle has 31 rows; expected 30"):
        RankedRecommender(config=CONFIG).fit(x, side=bad)


def test_a_prefit_model_the_refit_would_make_is_taken_not_refitted():
    """Training hands the shipped ALS to the ranked recommender: the source whose final fit
    would make the same model takes it (threads aside), and serves exactly what a refit would;
    a model with other settings is not taken."""
    from recsys.recommenders.als import ALSRecommender

    x, side = world()
    als = {"name": "als", "kind": "als", "n": 8, "params": {"factors": 8, "alpha": 2.0}}
    config = {**CONFIG, "sources": [*CONFIG["sources"], als]}
    refitted = RankedRecommender(config=config).fit(x, side=side)
    shipped = ALSRecommender(factors=8, alpha=2.0, random_state=0, num_threads=1).fit(x)
    other = ALSRecommender(factors=4, alpha=2.0, random_state=0).fit(x)
    taken = RankedRecommender(config=config).fit(x, side=side, prefit=[other, shipped])
    assert refitted.report_["adopted"] == [] and taken.report_["adopted"] == ["als"]
    assert taken.sources_[-1].model_ is shipped
    np.testing.assert_array_equal(refitted.sources_[-1].model_.item_factors_,
                                  shipped.item_factors_)
    users = np.arange(N_USERS)
    np.testing.assert_array_equal(taken.recommend(users, x, 5)[0],
                                  refitted.recommend(users, x, 5)[0])
    assert RankedRecommender(config=config).fit(x, side=side, prefit=[other]).report_[
        "adopted"] == []


def test_the_first_fit_runs_on_a_user_sample_and_the_final_fit_on_everyone():
    """Above `max_fit_users`, fold, sources and ranker learn on a seeded sample (what lets a
    10M-user platform train in the memory a 1M one needs); the model then serves everyone."""
    x, side = world()
    model = RankedRecommender(config={**CONFIG, "max_fit_users": 60}).fit(x, side=side)
    whole = RankedRecommender(config=CONFIG).fit(x, side=side)
    assert model.report_["fit_users"] == 60 and whole.report_["fit_users"] is None
    assert model.report_["fit_pairs"] + model.report_["label_pairs"] < x.nnz
    assert model.features_.state_["recent"].shape[0] == N_USERS  # the final fit: everyone
    users = np.arange(N_USERS)
    ids, _ = model.recommend(users, x, k=3)
    assert (ids % N_CIRCLES == (users % N_CIRCLES)[:, None]).mean() > 0.9


def test_restricting_side_data_to_users_keeps_their_rows_and_friendships_among_them():
    from recsys.feeds.side import restrict_users

    _, side = world()
    rows = np.array([0, 3, 6, 9])
    part = restrict_users(side, rows)
    np.testing.assert_array_equal(part.first_ts.toarray(), side.first_ts[rows].toarray())
    np.testing.assert_array_equal(part.friends.toarray(),
                                  side.friends.toarray()[np.ix_(rows, rows)])
    assert part.item_circle is side.item_circle


def test_item_counts_are_features_per_user_so_a_sample_and_the_whole_agree():
    """The ranker learns on a sample of users and serves on all of them: popularity and trend
    count users, so they are read per user, or a sample would see every item as rarer."""
    from recsys.feeds.features import CandidateBatch, FeatureBuilder

    x, side = world()
    cand = np.tile(np.arange(N_ITEMS), (2, 1))
    columns = []
    for copies in (20, 40):  # the platform and a half sample of it (counts big enough to log)
        m = sp.vstack([x] * copies).tocsr()
        t = sp.vstack([side.first_ts] * copies).tocsr()
        builder = FeatureBuilder().fit(m, SideData(first_ts=t), [])
        batch = CandidateBatch(user_ids=np.arange(2), candidates=cand, scores={}, lists={})
        feats = builder.transform(batch, m[:2])
        names = builder.feature_names_
        columns.append(feats[:, [names.index("item_pop"), names.index("trend")]])
    # Raw counts would differ by log 2 throughout; per user, only items no one counted lately
    # (log1p(0) in the trend) still do.
    gap = np.abs(columns[0] - columns[1])
    assert gap[:, 0].max() < np.log(2) / 8 and np.median(gap[:, 1]) < np.log(2) / 8


def test_scored_cells_cap_the_users_the_rows_and_the_choice_are_built_from():
    """On a big catalogue each label user's candidates cost a dense pass over every item per
    source: `max_scored_cells` bounds that work by sampling fewer users."""
    x, side = world()
    cells = N_ITEMS * len(CONFIG["sources"])
    capped = {**CONFIG, "ranker": {**CONFIG["ranker"], "max_scored_cells": 16 * cells}}
    whole = RankedRecommender(config=CONFIG).fit(x, side=side).report_
    model = RankedRecommender(config=capped).fit(x, side=side)
    report = model.report_
    assert report["ranker"]["n_groups"] <= 16 < whole["ranker"]["n_groups"]
    assert report["first_fit"]["users"] == 4 < whole["first_fit"]["users"]
    ids, _ = model.recommend(np.arange(N_USERS), x, k=3)
    assert (ids >= 0).all()


def test_checking_side_data_never_writes_into_the_callers_friendships():
    weighted = sp.csr_matrix(np.array([[0, 2], [3, 0]], np.float32))
    checked = SideData(friends=weighted).checked(2, 0)
    np.testing.assert_array_equal(weighted.data, [2.0, 3.0])
    np.testing.assert_array_equal(checked.friends.data, [1.0, 1.0])
