"""The `[cf]` -> MLlib mapping on tiny matrices: MLlib's implicit ALS under the mapping fits
what implicit's ALS fits (scores compared, since the factors differ by their initialisation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from pyspark.sql import SparkSession

from recsys.recipe import CFConfig
from recsys.recommenders.als import ALSRecommender
from recsys.spark.als import (
    MIN_RATING,
    MLlibParams,
    factors_to_numpy,
    fit_mllib_als,
    mllib_params,
    mllib_ratings,
    reference_count,
    solve_users,
)

CF = CFConfig(factors=3, regularization=0.1, alpha=2.0, iterations=20)
WEIGHTS = np.array([1.0, 2.0, 4.0, 8.0])


def _scores_implicit(x: sp.csr_matrix) -> np.ndarray:
    model = ALSRecommender(
        factors=CF.factors, regularization=CF.regularization, alpha=CF.alpha,
        iterations=CF.iterations, random_state=0, num_threads=1,
    ).fit(x, show_progress=False)
    return model.user_factors_ @ model.item_factors_.T


def _scores_mllib(
    spark: SparkSession, x: sp.csr_matrix, p: MLlibParams, work: Path, *, resolve: bool = True
) -> np.ndarray:
    """MLlib's fit under `p`; with `resolve`, its users solved again with the flat penalty."""
    coo = x.tocoo()
    pairs = spark.createDataFrame(
        pd.DataFrame({"user_idx": coo.row, "item_idx": coo.col, "weight": coo.data.astype(float)})
    )
    model = fit_mllib_als(pairs, p, work / "checkpoints", blocks=1)
    v = factors_to_numpy(model.itemFactors, x.shape[1], p.rank, work / "v")
    if resolve:
        u = solve_users(pairs, v, CF, x.shape[0], work / "solved")
    else:
        u = factors_to_numpy(model.userFactors, x.shape[0], p.rank, work / "u")
    return u @ v.T


def _n_ref(x: sp.csr_matrix) -> float:
    return reference_count(x.nnz, int((x.getnnz(axis=0) > 0).sum()))


def test_mapping_of_the_parameters() -> None:
    p = mllib_params(CF, seed=7, n_ref=4.0)
    assert (p.rank, p.maxIter, p.alpha, p.seed) == (3, CF.iterations, 2.0, 7)
    assert p.regParam == pytest.approx(0.1 / 4.0)
    # confidence 1 + alpha * (r - 1/alpha) = alpha * r: implicit's confidence exactly
    assert 1 + p.alpha * (8.0 - p.rating_shift) == pytest.approx(CF.alpha * 8.0)
    assert reference_count(12, 4) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="ALS only"):
        mllib_params(CFConfig(model="bpr"), seed=0, n_ref=1.0)


def test_small_weights_stay_positive_preferences(spark: SparkSession) -> None:
    pairs = spark.createDataFrame(
        pd.DataFrame({"user_idx": [0, 1], "item_idx": [0, 0], "weight": [0.25, 3.0]})
    )
    rows = mllib_ratings(pairs, mllib_params(CF, 0, 1.0)).orderBy("user").collect()
    assert rows[0]["rating"] == pytest.approx(MIN_RATING)
    assert rows[1]["rating"] == pytest.approx(3.0 - 0.5)


def test_same_scores_where_every_row_has_the_reference_count(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Every user and item has 4 cells: the mapping is exact, the fits agree to solver noise."""
    n, k = 12, 4
    rows = np.repeat(np.arange(n), k)
    cols = (rows + np.tile(np.arange(k) * 3, n)) % n
    w = np.random.default_rng(0).choice(WEIGHTS, size=len(rows)).astype(np.float32)
    x = sp.csr_matrix((w, (rows, cols)), shape=(n, n))
    assert set(x.getnnz(axis=0)) == set(x.getnnz(axis=1)) == {k}
    ours = _scores_implicit(x)
    theirs = _scores_mllib(spark, x, mllib_params(CF, 0, _n_ref(x)), tmp_path, resolve=False)
    assert np.abs(ours).max() > 0.5  # a real fit, not factors collapsed to zero
    assert np.abs(ours - theirs).max() < 0.02
    assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.999


def test_mapping_beats_passing_the_recipe_as_is_where_counts_vary(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Counts from 1 to 9 per row: the count-scaled penalty cannot be matched everywhere, but
    the mapped fit (users solved again with the flat penalty) is far closer to implicit's than
    MLlib given the recipe's numbers as they are (alpha, lambda, raw weights)."""
    rng = np.random.default_rng(1)
    x = sp.random(20, 15, density=0.3, random_state=1, format="csr", dtype=np.float32)
    x.data = rng.choice(WEIGHTS, size=x.nnz).astype(np.float32)
    ours = _scores_implicit(x)
    mapped = _scores_mllib(spark, x, mllib_params(CF, 0, _n_ref(x)), tmp_path / "m")
    naive = MLlibParams(CF.factors, CF.iterations, CF.regularization, CF.alpha, 0, 0.0, 1.0)
    as_is = _scores_mllib(spark, x, naive, tmp_path / "n", resolve=False)
    corr_mapped = np.corrcoef(ours.ravel(), mapped.ravel())[0, 1]
    corr_as_is = np.corrcoef(ours.ravel(), as_is.ravel())[0, 1]
    gap_mapped = np.abs(ours - mapped).mean()
    gap_as_is = np.abs(ours - as_is).mean()
    assert corr_mapped > 0.85
    assert gap_mapped < gap_as_is
    assert corr_mapped > corr_as_is


def test_users_solved_on_the_executors_as_implicit_folds_them_in(
    spark: SparkSession, tmp_path: Path
) -> None:
    x = sp.random(30, 12, density=0.3, random_state=2, format="csr", dtype=np.float32)
    x.data = np.random.default_rng(2).choice(WEIGHTS, size=x.nnz).astype(np.float32)
    model = ALSRecommender(
        factors=CF.factors, regularization=CF.regularization, alpha=CF.alpha,
        iterations=CF.iterations, random_state=0, num_threads=1,
    ).fit(x, show_progress=False)
    coo = x.tocoo()
    pairs = spark.createDataFrame(
        pd.DataFrame({"user_idx": coo.row, "item_idx": coo.col, "weight": coo.data.astype(float)})
    )
    solved = solve_users(pairs, model.item_factors_, CF, x.shape[0], tmp_path)
    np.testing.assert_allclose(solved, model.fold_in(x), rtol=1e-4, atol=1e-5)
    empty = np.flatnonzero(x.getnnz(axis=1) == 0)
    assert not solved[empty].any()
