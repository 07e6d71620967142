"""VectorIndex: every kind agrees with exact search, survives save/load, grows with add()."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from recsys.errors import BundleError, NotFittedError
from recsys.index import IndexConfig, VectorIndex, exact_search, measure_recall, recall_at_k

N, D = 2_000, 16


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    # Clustered vectors with varying norms, like factors: harder for IVF than plain noise.
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((40, D)) * 2
    x = centres[rng.integers(0, 40, N)] + rng.standard_normal((N, D))
    return (x * rng.uniform(0.5, 1.5, (N, 1))).astype(np.float32)


@pytest.fixture(scope="module")
def queries(vectors: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(8)
    return (vectors[rng.integers(0, N, 300)] + rng.standard_normal((300, D))).astype(np.float32)


def brute_force(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries.astype(np.float64) @ vectors.astype(np.float64).T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


CONFIGS = {
    "flat": IndexConfig(kind="flat"),
    "ivf": IndexConfig(kind="ivf", ivf_nlist=32, ivf_nprobe=8),
    "hnsw": IndexConfig(kind="hnsw", hnsw_m=16, hnsw_ef_construction=64, hnsw_ef_search=64),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_kinds_agree_with_exact_search(name, vectors, queries) -> None:
    index = VectorIndex(CONFIGS[name]).build(vectors)
    ids, scores = index.search(queries, 10)
    assert ids.shape == (300, 10) and ids.dtype == np.int64 and scores.dtype == np.float32
    truth = brute_force(vectors, queries, 10)
    recall = recall_at_k(ids, truth, 10)
    assert recall >= (0.999 if name == "flat" else 0.9), recall
    # Scores are the inner products of the returned ids, best first.
    expected = np.einsum("md,mkd->mk", queries, vectors[ids])
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-3)
    assert (np.diff(scores, axis=1) <= 1e-5).all()
    assert measure_recall(index, vectors, queries, 10) == pytest.approx(recall, abs=0.01)


def test_auto_picks_exact_below_threshold_and_approximate_above(vectors) -> None:
    assert VectorIndex(IndexConfig(exact_max=N + 1)).build(vectors).kind_ == "flat"
    small_hnsw = IndexConfig(exact_max=N, hnsw_m=8, hnsw_ef_construction=16)
    assert VectorIndex(small_hnsw).build(vectors).kind_ == "hnsw"
    assert VectorIndex(IndexConfig(exact_max=100, auto_kind="ivf")).build(vectors).kind_ == "ivf"


@pytest.mark.parametrize("name", ["ivf", "hnsw"])
def test_same_config_same_index(name, vectors, queries) -> None:
    # Two threads as in production; the per-call thread setting must not leak out.
    config = CONFIGS[name].model_copy(update={"threads": 2})
    a = VectorIndex(config).build(vectors).search(queries, 10)
    b = VectorIndex(config).build(vectors).search(queries, 10)
    assert faiss.omp_get_max_threads() == 1  # the setting applied to those calls only
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_cosine_metric_ranks_by_angle(vectors, queries) -> None:
    index = VectorIndex(IndexConfig(kind="flat", metric="cosine")).build(vectors)
    ids, scores = index.search(queries, 5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    np.testing.assert_array_equal(ids, brute_force(unit, q, 5))
    assert scores.max() <= 1.0 + 1e-5
    # The caller's arrays are not normalised in place.
    assert not np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


@pytest.mark.parametrize("name", CONFIGS)
def test_save_load_round_trip(name, vectors, queries, tmp_path) -> None:
    index = VectorIndex(CONFIGS[name]).build(vectors)
    index.save(tmp_path / "idx")
    for mmap in (False, True):
        loaded = VectorIndex.load(tmp_path / "idx", mmap=mmap)
        assert loaded.kind_ == name and loaded.ntotal == N and loaded.config == CONFIGS[name]
        a, sa = index.search(queries, 10)
        b, sb = loaded.search(queries, 10)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(sa, sb)


def test_load_rejects_missing_or_mismatched_files(vectors, tmp_path) -> None:
    with pytest.raises(BundleError, match="index.json"):
        VectorIndex.load(tmp_path)
    VectorIndex(CONFIGS["flat"]).build(vectors).save(tmp_path / "a")
    VectorIndex(CONFIGS["flat"]).build(vectors[:10]).save(tmp_path / "b")
    (tmp_path / "b" / "index.json").replace(tmp_path / "a" / "index.json")
    with pytest.raises(BundleError, match="holds 2000 vectors"):
        VectorIndex.load(tmp_path / "a")


@pytest.mark.parametrize("name", CONFIGS)
def test_add_appends_new_ids_for_refresh(name, vectors, queries) -> None:
    index = VectorIndex(CONFIGS[name]).build(vectors[:1_500])
    index.add(vectors[1_500:])
    assert index.ntotal == N
    # A new vector is found under its position in the full array.
    ids, _ = index.search(vectors[[1_700, 1_999]] * 10, 1)
    full = brute_force(vectors, vectors[[1_700, 1_999]] * 10, 1)
    np.testing.assert_array_equal(ids, full)


@pytest.mark.parametrize("name", CONFIGS)
def test_exclude_global_and_per_row(name, vectors, queries) -> None:
    index = VectorIndex(CONFIGS[name]).build(vectors)
    ids, _ = index.search(queries, 10)
    banned = np.unique(ids[:, :3])
    kept, kept_scores = index.search(queries, 10, exclude=banned)
    assert not np.isin(kept, banned).any()
    assert (kept >= 0).all() and np.isfinite(kept_scores).all()

    # Per row: each query item is not its own neighbour; -1 pads unused slots.
    rows = np.arange(200)
    per_row = np.full((200, 2), -1)
    per_row[:, 0] = rows
    similar, _ = index.search(vectors[rows], 5, exclude=per_row)
    assert not (similar == rows[:, None]).any()
    assert similar.shape == (200, 5) and (similar >= 0).all()
    plain, _ = index.search(vectors[rows], 6)
    # Removing the query itself shifts the rest up, order kept.
    for r in range(0, 200, 37):
        expected = [i for i in plain[r] if i != r][:5]
        assert list(similar[r]) == expected


def test_small_sets_pad_with_minus_one() -> None:
    x = np.eye(3, dtype=np.float32)
    index = VectorIndex().build(x)
    ids, scores = index.search(x[:1], 5, exclude=np.array([[0, -1]]))
    assert list(ids[0]) == [1, 2, -1, -1, -1] or list(ids[0]) == [2, 1, -1, -1, -1]
    assert np.isneginf(scores[0, 2:]).all()
    ids, _ = index.search(x, 2, exclude=np.array([0, 1, 2]))
    assert (ids == -1).all()


def test_bad_input_is_refused(vectors) -> None:
    with pytest.raises(NotFittedError):
        VectorIndex().search(vectors[:2], 3)
    index = VectorIndex().build(vectors)
    with pytest.raises(ValueError, match="dimension 3"):
        index.search(np.zeros((2, 3), np.float32), 3)
    with pytest.raises(ValueError, match="row 1"):
        index.add(np.array([[0.0] * D, [np.nan] * D]))
    with pytest.raises(ValueError, match="exclude"):
        index.search(vectors[:2], 3, exclude=np.zeros((3, 1), np.int64))


def test_recall_at_k_counts_overlap() -> None:
    exact = np.array([[1, 2, 3], [4, 5, -1], [-1, -1, -1]])
    approx = np.array([[3, 9, 1], [5, 4, 7], [1, 2, 3]])
    # Row 0: 2/3, row 1: 2/2, row 2 has no truth and is skipped.
    assert recall_at_k(approx, exact, 3) == pytest.approx((2 / 3 + 1) / 2)
    assert recall_at_k(approx[:, :1], exact[:, :1], 1) == pytest.approx(0.0)


@pytest.mark.parametrize("metric", ["ip", "cosine"])
def test_exact_search_in_blocks_matches_brute_force(metric, vectors, queries, monkeypatch) -> None:
    import recsys.index.recall as recall_module

    monkeypatch.setattr(recall_module, "_EXACT_BLOCK", 999)  # several blocks, a ragged last one
    x, q = vectors, queries
    if metric == "cosine":
        x = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    got = exact_search(vectors, queries, 10, metric=metric)
    np.testing.assert_array_equal(got, brute_force(x, q, 10))


def test_measure_recall_of_a_weak_index_is_low(vectors, queries) -> None:
    weak = VectorIndex(IndexConfig(kind="ivf", ivf_nlist=32, ivf_nprobe=1)).build(vectors)
    assert measure_recall(weak, vectors, queries, 10) < 0.8
    flat = VectorIndex(IndexConfig(kind="flat")).build(vectors)
    assert measure_recall(flat, vectors, queries, 10) == 1.0
    with pytest.raises(ValueError, match="holds 2000 vectors"):
        measure_recall(flat, vectors[:10], queries, 10)
