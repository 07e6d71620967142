"""One contract, every registered recommender (after implicit's `recommender_base_test`).

The data is a checkerboard: two user groups, two item groups, each user touching only items of
their own group. A model that learns anything recommends unseen items of the user's own group.
A model added to the registry is tested here with no change; give it fast settings in `PARAMS`
if its defaults are slow, and list it in `NON_PERSONALISED` if it ranks the same for everyone.
A registered model whose options change how it learns (item-kNN's RP3beta similarity) gets an
extra case in `VARIANTS`.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import NotFittedError, UnknownItemError
from recsys.recommenders.base import Recommender
from recsys.recommenders.registry import RECOMMENDERS

# Small, fast settings for the tiny matrix; models not named here use their defaults.
# Two groups make the matrix rank 2: ALS with more factors memorises it instead of generalising.
PARAMS: dict[str, dict] = {
    "als": {"factors": 2, "regularization": 0.01, "iterations": 10, "num_threads": 1},
    "bpr": {"factors": 8, "learning_rate": 0.05, "iterations": 100},
    "itemknn": {"k": 20, "num_threads": 1},
    "ease": {"l2": 1.0},
    "shipped": {"config": {"cf": {"factors": 2, "regularization": 0.01, "iterations": 10}}},
    # The ranked chain on the checkerboard: two model sources, a quick tuning and a small ranker.
    "ranked": {"config": {
        "tune_budget_s": 5, "tune_trials": 2,
        "ranker": {"num_leaves": [7], "max_rounds": 50},
        "sources": [
            {"name": "ease", "kind": "ease", "n": 5, "params": {"l2": 1.0}, "tune": False},
            {"name": "als", "kind": "als", "n": 5, "params": {
                "factors": 2, "regularization": 0.01, "iterations": 10, "num_threads": 1}},
            {"name": "popularity", "kind": "popularity", "n": 3},
        ]}},
}
# Extra cases: case name -> (registered model, its settings).
VARIANTS: dict[str, tuple[str, dict]] = {
    "itemknn-rp3beta": ("itemknn", {"k": 20, "similarity": "rp3beta", "rp3_alpha": 0.8,
                                    "rp3_beta": 0.3}),
    "shipped-blend": ("shipped", {"config": {
        "cf": {"factors": 2, "regularization": 0.01, "iterations": 10},
        "item_knn": {"weight": 0.5, "k": 20}}}),
}
CASES: dict[str, tuple[str, dict]] = {
    **{name: (name, PARAMS.get(name, {})) for name in RECOMMENDERS}, **VARIANTS}
# Models whose ranking ignores the user (they cannot separate the groups by design).
NON_PERSONALISED: set[str] = {"popularity"}
# Models without a notion of item similarity (`similar_items` raises NotImplementedError).
NO_ITEM_SIMILARITY: set[str] = {"popularity"}

N_USERS, N_ITEMS = 40, 20  # two groups of 20 users, two groups of 10 items


def group_of_user(u: np.ndarray) -> np.ndarray:
    return np.asarray(u) // (N_USERS // 2)


def group_of_item(i: np.ndarray) -> np.ndarray:
    return np.asarray(i) // (N_ITEMS // 2)


def checkerboard(seed: int = 0) -> sp.csr_matrix:
    """Each user has 5..7 of their group's 10 items, with confidences 1..5."""
    rng = np.random.default_rng(seed)
    same = group_of_user(np.arange(N_USERS))[:, None] == group_of_item(np.arange(N_ITEMS))
    # Rank the group's items at random (others last) and keep each user's first 5..7.
    rank = np.where(same, rng.random((N_USERS, N_ITEMS)), np.inf).argsort(axis=1).argsort(axis=1)
    keep = same & (rank < rng.integers(5, 8, size=N_USERS)[:, None])
    values = rng.integers(1, 6, size=(N_USERS, N_ITEMS)).astype(np.float32)
    return sp.csr_matrix(np.where(keep, values, 0).astype(np.float32))


@pytest.fixture(scope="module")
def user_items() -> sp.csr_matrix:
    return checkerboard()


def make(case: str) -> Recommender:
    name, params = CASES[case]
    return RECOMMENDERS[name](**params)


def fit(name: str, user_items: sp.csr_matrix) -> Recommender:
    return make(name).fit(user_items)


@pytest.fixture(scope="module", params=sorted(CASES))
def fitted(request, user_items) -> tuple[str, Recommender]:
    return request.param, fit(request.param, user_items)


def all_users() -> np.ndarray:
    return np.arange(N_USERS)


def test_registry_names_match_classes():
    for name, cls in RECOMMENDERS.items():
        assert cls.name == name


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_returns_self(name, user_items):
    model = make(name)
    assert model.fit(user_items) is model


def test_recommend_shapes_and_order(fitted, user_items):
    _, model = fitted
    ids, scores = model.recommend(all_users(), user_items, k=3)
    assert ids.shape == scores.shape == (N_USERS, 3)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert (np.diff(scores, axis=1) <= 0).all()
    # k beyond the catalogue: every eligible item once, then -1 padding.
    ids, scores = model.recommend(all_users()[:2], user_items[:2], k=N_ITEMS + 5)
    assert ids.shape == (2, N_ITEMS)
    for row, seen in zip(ids, user_items[:2].tolil().rows, strict=True):
        valid = row[row >= 0]
        assert sorted(valid.tolist()) == sorted(set(range(N_ITEMS)) - set(seen))
        assert (row[len(valid) :] == -1).all()


def test_filter_already_liked(fitted, user_items):
    _, model = fitted
    ids, _ = model.recommend(all_users(), user_items, k=5)
    for row, seen in zip(ids, user_items.tolil().rows, strict=True):
        assert not set(row.tolist()) & set(seen)
    ids, _ = model.recommend(all_users(), user_items, k=N_ITEMS, filter_already_liked_items=False)
    assert (ids >= 0).all()  # nothing filtered: the whole catalogue ranks


def test_excluded_items_never_appear(fitted, user_items):
    _, model = fitted
    excluded = np.array([0, 3, 12, 19])
    ids, _ = model.recommend(all_users(), user_items, k=N_ITEMS, exclude_items=excluded)
    assert not np.isin(ids, excluded).any()


def test_recommends_within_the_users_group(fitted, user_items):
    name, model = fitted
    if name in NON_PERSONALISED:
        pytest.skip(f"{name} ranks the same for every user")
    # Every user has at least 3 unseen items of their group; those must rank first.
    ids, _ = model.recommend(all_users(), user_items, k=3)
    assert (group_of_item(ids) == group_of_user(all_users())[:, None]).all()


def test_save_load_round_trip(fitted, user_items, tmp_path):
    name, model = fitted
    model.save(tmp_path / name)
    # Arrays, JSON and (the ranked model's LightGBM ranker) text: never a pickle.
    files = [p for p in (tmp_path / name).rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".json", ".npy", ".txt"}
    expected = model.recommend(all_users(), user_items, k=5)
    for mmap in (False, True):
        loaded = type(model).load(tmp_path / name, mmap=mmap)
        assert loaded.get_params() == model.get_params()
        got = loaded.recommend(all_users(), user_items, k=5)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_same_seed_same_recommendations(fitted, user_items):
    name, model = fitted
    again = fit(name, user_items)
    np.testing.assert_array_equal(
        again.recommend(all_users(), user_items, k=5)[0],
        model.recommend(all_users(), user_items, k=5)[0],
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_unfitted_use_raises(name, user_items, tmp_path):
    model = make(name)
    with pytest.raises(NotFittedError):
        model.recommend(all_users(), user_items)
    with pytest.raises(NotFittedError):
        model.save(tmp_path)


def test_wrong_shapes_raise(fitted, user_items):
    _, model = fitted
    with pytest.raises(ValueError, match="rows"):
        model.recommend(all_users()[:3], user_items[:2])
    with pytest.raises(ValueError, match="columns"):
        model.recommend(all_users()[:2], user_items[:2, :-1])


def test_excluded_cells_never_reach_their_user_only(fitted, user_items):
    _, model = fitted
    users = all_users()[:4]
    # Exclude every item for user 0 and item 0..9 for user 1; users 2 and 3 are untouched.
    cells = np.zeros((4, N_ITEMS), np.float32)
    cells[0, :] = 1
    cells[1, :10] = 1
    rows = user_items[users]
    ids, _ = model.recommend(users, rows, k=N_ITEMS, exclude_cells=sp.csr_matrix(cells))
    assert (ids[0] == -1).all()
    assert not np.isin(ids[1], np.arange(10)).any()
    plain, _ = model.recommend(users[2:], rows[2:], k=N_ITEMS)
    np.testing.assert_array_equal(ids[2:], plain)
    with pytest.raises(ValueError, match="exclude_cells"):
        model.recommend(users, rows, k=3, exclude_cells=sp.csr_matrix(cells[:2]))


def test_similar_items_stay_in_the_items_group_and_never_name_the_item(fitted):
    name, model = fitted
    items = np.arange(N_ITEMS)
    if CASES[name][0] in NO_ITEM_SIMILARITY:
        with pytest.raises(NotImplementedError):
            model.similar_items(items[:1], k=3)
        return
    ids, scores = model.similar_items(items, k=3)
    assert ids.shape == scores.shape == (N_ITEMS, 3)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert (np.diff(scores, axis=1) <= 0).all()
    assert not (ids == items[:, None]).any(), "an item is never similar to itself"
    assert (group_of_item(ids) == group_of_item(items)[:, None]).mean() > 0.9
    excluded = np.array([1, 2, 11])
    ids, _ = model.similar_items(items, k=N_ITEMS, exclude_items=excluded)
    assert not np.isin(ids, excluded).any()
    with pytest.raises(UnknownItemError):
        model.similar_items([N_ITEMS], k=3)
