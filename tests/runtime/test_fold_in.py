"""Fold-in: live events change the next answer through implicit's own recalculate_user.

These tests read the shipped scorer's path, which serves known users with history when the
policy's `ranked` is off (or the bundle has no ranked part); `test_ranked.py` covers the ranked
step's live events."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from recsys.events.judge import Judge, Outcome
from recsys.events.references import References
from recsys.events.store import SQLiteEventStore
from recsys.recipe import with_cf_params
from recsys.recommenders.als import ALSRecommender
from recsys.runtime import PolicyStep, RuntimeModel, RuntimePolicy
from recsys.runtime.fold_in import FoldIn
from recsys.runtime.reasons import ReasonCode, parse_reason
from tests.runtime.conftest import history_sizes, user_ids


def _after(model: RuntimeModel, **delta: float) -> str:
    base = datetime.fromtimestamp(model.watermark_us / 1e6, UTC)
    return (base + timedelta(**delta)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def model(small_bundle: dict[str, Path]) -> RuntimeModel:
    """The session's bundle served by the shipped scorer (its ranked part left unused)."""
    return RuntimeModel.load(small_bundle["bundle"], policy=RuntimePolicy(ranked=False))


@pytest.fixture
def store(tmp_path: Path) -> SQLiteEventStore:
    return SQLiteEventStore(tmp_path / "events.sqlite3")


def _post(model: RuntimeModel, store: SQLiteEventStore, rows: list[dict]) -> None:
    results = Judge(References(model.parts, store)).judge("events", rows)
    assert all(r.status is Outcome.ACCEPTED for r in results), results


def _warm(model: RuntimeModel, n: int) -> list[str]:
    return user_ids(model, np.flatnonzero(history_sizes(model) >= 3)[:n])


def test_fold_in_is_als_least_squares_step_by_implicit(model) -> None:
    scorer = model.parts.scorer.model
    vectors = np.array(scorer.item_vectors_)
    rng = np.random.default_rng(0)
    cols = rng.choice(vectors.shape[0], size=6, replace=False)
    row = sp.csr_matrix((rng.uniform(1, 10, 6).astype(np.float32), (np.zeros(6), cols)),
                        shape=(1, vectors.shape[0]))
    got = FoldIn(scorer).user_factors(row)
    cf = scorer.config.cf
    reference = AlternatingLeastSquares(factors=vectors.shape[1], regularization=cf.regularization,
                                        alpha=cf.alpha, num_threads=1)
    reference.item_factors = vectors
    np.testing.assert_allclose(got, reference.recalculate_user(0, row), rtol=1e-5, atol=1e-6)
    # the same step solved independently (our own ALS wrapper's exact least squares)
    als = ALSRecommender(factors=vectors.shape[1], regularization=cf.regularization, alpha=cf.alpha)
    als.item_factors_, als.user_factors_, als.n_items_ = vectors, vectors[:1], vectors.shape[0]
    np.testing.assert_allclose(got, als.fold_in(row)[0], rtol=1e-3, atol=1e-4)


def test_fold_in_writes_nothing_to_the_shared_arrays(model, small_bundle, store) -> None:
    vectors = model.parts.scorer.model.item_vectors_
    path = Path(vectors.filename)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    user = _warm(model, 1)[0]
    item = str(model.parts.ids.items.ids[0])
    _post(model, store, [{"user_id": user, "item_id": item, "type": "like",
                          "ts": _after(model, hours=1)}])
    assert model.recommend(user, 10, events=store).step is PolicyStep.FOLD_IN
    assert not vectors.flags.writeable
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_new_users_next_answer_is_already_personal(model, store) -> None:
    catalogue = model.parts.ids.items.ids
    cold = model.recommend("never-seen", 10, events=store)
    assert cold.step is PolicyStep.GLOBAL_CHAIN
    answers = {}
    for user, picks in (("new-a", catalogue[:4]), ("new-b", catalogue[-4:])):
        _post(model, store, [{"user_id": user, "item_id": str(i), "type": "purchase",
                              "ts": _after(model, hours=1)} for i in picks])
        answer = model.recommend(user, 10, events=store)
        assert answer.step is PolicyStep.FOLD_IN
        named = {parse_reason(i.reasons[0])[1] for i in answer.items}
        assert named <= {str(i) for i in picks}  # similar_to one of their own items
        assert not {i.item_id for i in answer.items} & {str(i) for i in picks}
        answers[user] = [i.item_id for i in answer.items]
    assert answers["new-a"] != answers["new-b"]
    assert answers["new-a"] != [i.item_id for i in cold.items]


def test_a_posted_purchase_never_comes_back(model, store) -> None:
    for user in _warm(model, 5):
        before = model.recommend(user, 10, events=store)
        top = before.items[0].item_id
        _post(model, store, [{"user_id": user, "item_id": top, "type": "purchase",
                              "ts": _after(model, minutes=1)}])
        after = model.recommend(user, 10, events=store)
        assert after.step is PolicyStep.FOLD_IN
        assert top not in {i.item_id for i in after.items}
        assert len(after.items) == 10


def test_events_at_or_before_the_watermark_are_already_in_the_model(model, store) -> None:
    user = _warm(model, 1)[0]
    plain = model.recommend(user, 10)
    top = plain.items[0].item_id
    at_mark = datetime.fromtimestamp(model.watermark_us / 1e6, UTC).isoformat()
    _post(model, store, [{"user_id": user, "item_id": top, "type": "purchase", "ts": at_mark}])
    again = model.recommend(user, 10, events=store)
    assert again.step is PolicyStep.SCORER and again == plain


def test_concurrent_folded_answers_equal_sequential_ones(model, store) -> None:
    users = _warm(model, 12)
    item = str(model.parts.ids.items.ids[5])
    _post(model, store, [{"user_id": u, "item_id": item, "type": "share",
                          "ts": _after(model, hours=2)} for u in users])
    expected = [model.recommend(u, 10, events=store) for u in users]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda u: model.recommend(u, 10, events=store), users * 3))
    assert got == expected * 3
    assert all(a.step is PolicyStep.FOLD_IN for a in expected)


def test_a_scorer_without_fold_in_falls_back_with_the_exclusions(model, store) -> None:
    scorer = copy.copy(model.parts.scorer.model)
    scorer.config = with_cf_params(scorer.config, {"model": "bpr"})
    parts = dataclasses.replace(model.parts, scorer=dataclasses.replace(model.parts.scorer,
                                                                        model=scorer))
    bpr = RuntimeModel(parts, model.version, model.policy, watermark=datetime.fromtimestamp(
        model.watermark_us / 1e6, UTC))
    assert bpr.fold_in is None
    user = _warm(model, 1)[0]
    top = bpr.recommend(user, 10).items[0].item_id
    item = str(model.parts.ids.items.ids[0])
    _post(model, store, [
        {"user_id": user, "item_id": top, "type": "purchase", "ts": _after(model, hours=1)},
        {"user_id": "new-c", "item_id": item, "type": "purchase", "ts": _after(model, hours=1)},
    ])
    known = bpr.recommend(user, 10, events=store)
    assert known.step is PolicyStep.SCORER and top not in {i.item_id for i in known.items}
    new = bpr.recommend("new-c", 10, events=store)
    assert new.step is PolicyStep.GLOBAL_CHAIN and item not in {i.item_id for i in new.items}
    assert all(parse_reason(i.reasons[0])[0] in (ReasonCode.TRENDING, ReasonCode.POPULAR)
               for i in new.items)
