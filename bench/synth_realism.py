"""Realism check of `recsys synth`: ALS must beat most-popular clearly but stay far from perfect.

Trains implicit's ALS (64 factors) on a random 80/20 split of the user-item interactions of a
synthetic sample and prints recall@10 / ndcg@10 next to most-popular. Used by synth_bench.py.

    .venv/bin/python bench/synth_realism.py --users 5000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from recsys.datastore import DataDir  # noqa: E402
from recsys.synth import SynthConfig, generate  # noqa: E402

K = 10


def interactions(data_dir: Path) -> tuple[sp.csr_matrix, int, int]:
    """Binary user x item matrix of every item event (views, likes, purchases, group buys...)."""
    con = DataDir(data_dir).connect()
    rows = con.execute(
        "SELECT u.r - 1, i.r - 1 FROM (SELECT DISTINCT user_id, item_id FROM events "
        "WHERE item_id IS NOT NULL) e "
        "JOIN (SELECT user_id, row_number() OVER (ORDER BY user_id) r FROM users) u "
        "USING (user_id) "
        "JOIN (SELECT item_id, row_number() OVER (ORDER BY item_id) r FROM items) i USING (item_id)"
    ).fetchnumpy()
    n_users = con.execute("SELECT count(*) FROM users").fetchone()[0]
    n_items = con.execute("SELECT count(*) FROM items").fetchone()[0]
    u, i = rows[list(rows)[0]].astype(np.int64), rows[list(rows)[1]].astype(np.int64)
    m = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(n_users, n_items))
    return m, n_users, n_items


def split(m: sp.csr_matrix, seed: int, test_share: float = 0.2):
    coo = m.tocoo()
    rng = np.random.default_rng(seed)
    test = rng.random(coo.nnz) < test_share
    mk = lambda sel: sp.csr_matrix(  # noqa: E731
        (coo.data[sel], (coo.row[sel], coo.col[sel])), shape=m.shape
    )
    return mk(~test), mk(test)


def metrics(top: np.ndarray, test: sp.csr_matrix, users: np.ndarray) -> dict[str, float]:
    """recall@K = hits / min(K, |test items|); ndcg@K with binary gains; averaged over users."""
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    recalls, ndcgs = [], []
    for row, u in zip(top, users, strict=True):
        truth = set(test.indices[test.indptr[u] : test.indptr[u + 1]].tolist())
        hits = np.array([i in truth for i in row[:K]], dtype=float)
        n_rel = min(K, len(truth))
        recalls.append(hits.sum() / n_rel)
        ndcgs.append((hits * discounts).sum() / discounts[:n_rel].sum())
    return {f"recall@{K}": float(np.mean(recalls)), f"ndcg@{K}": float(np.mean(ndcgs))}


def run(n_users: int = 5000, seed: int = 0, factors: int = 64) -> dict:
    from implicit.cpu.als import AlternatingLeastSquares

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sample"
        generate(SynthConfig(n_users=n_users, seed=seed), out)
        m, n_u, n_i = interactions(out)
    train, test = split(m, seed)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    users = users[np.diff(train.indptr)[users] > 0]
    # Most popular, excluding each user's training items.
    pop = np.asarray(train.sum(axis=0)).ravel()
    pop_top = []
    for u in users:
        s = pop.astype(float).copy()
        s[train.indices[train.indptr[u] : train.indptr[u + 1]]] = -np.inf
        pop_top.append(np.argsort(-s, kind="stable")[:K])
    result = {
        "users": n_u,
        "items": n_i,
        "interactions": int(m.nnz),
        "eval_users": int(len(users)),
        "most_popular": metrics(np.array(pop_top), test, users),
    }
    model = AlternatingLeastSquares(
        factors=factors, regularization=0.05, alpha=10.0, iterations=15, random_state=seed
    )
    model.fit(train, show_progress=False)
    ids, _ = model.recommend(users, train[users], N=K, filter_already_liked_items=True)
    result["als"] = metrics(ids, test, users)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args.users, args.seed), indent=2))


if __name__ == "__main__":
    main()
