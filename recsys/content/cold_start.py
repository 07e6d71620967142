"""The cold-item experiment: hide some items' interactions, place them by content, rank them.

Model-agnostic over arrays, so the training pipeline runs it with its real factor model:

1. ``train, cold = split_cold_items(user_items, created_order, share=0.1, seed=0)``
2. fit the CF model on `train`; fit the content encoder on the warm items' documents only
   (new items arrive after the encoder was fitted) and transform every document;
3. ``vectors, fmap = place_cold_items(item_factors, content, cold, item_weight=log1p(counts))``
4. ``evaluate_cold_items(user_factors, vectors, heldout_interactions(purchases, cold),
   item_category, item_popularity=train_counts, seen=train, seed=0)``

The question answered: for the users who later interacted with a cold item, does the model
place it higher among the items of its category than popularity would?
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from recsys.content.factor_map import ContentToFactorMap
from recsys.errors import ConfigError, ContractError
from recsys.item_stats import users_per_item

logger = logging.getLogger(__name__)

# Bound the dense (pairs x category items) score blocks to this many cells.
_MAX_CELLS = 1 << 22
SCORERS = ("model", "popularity", "random")


def split_cold_items(
    user_items: sp.csr_matrix,
    item_created_order: np.ndarray | None = None,
    *,
    share: float = 0.1,
    min_interactions: int = 5,
    seed: int = 0,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Choose cold items and hide all their interactions.

    Parameters
    ----------
    user_items : (n_users, n_items) interactions.
    item_created_order : (n_items,) larger = newer (e.g. creation timestamps as int64). When
        given, the newest eligible items become cold, as in production; ties broken at random
        with `seed`. When None, cold items are a seeded random sample.
    share : fraction of the *eligible* items made cold (rounded, at least one).
    min_interactions : items with fewer interacting users are not eligible: they would give
        too few evaluation pairs to be worth hiding.

    Returns
    -------
    train : (n_users, n_items) copy of `user_items` with the cold items' columns emptied.
    cold_item_ids : (n_cold,) int64 sorted item indices.
    """
    x = sp.csr_matrix(user_items, copy=True)
    x.eliminate_zeros()
    n_items = x.shape[1]
    n_users_of = users_per_item(x)
    cold = choose_cold_items(
        n_users_of,
        item_created_order,
        share=share,
        min_users=min_interactions,
        rng=np.random.default_rng(seed),
    )
    eligible = np.flatnonzero(n_users_of >= min_interactions)
    is_cold = np.zeros(n_items, dtype=bool)
    is_cold[cold] = True
    x.data[is_cold[x.indices]] = 0
    x.eliminate_zeros()
    logger.info(
        "held out %d cold items of %d eligible (%s), hiding %d interactions",
        len(cold), len(eligible), "newest" if item_created_order is not None else "random",
        int(n_users_of[cold].sum()),
    )
    return x, cold


def choose_cold_items(
    users_per_item: np.ndarray,
    item_created_order: np.ndarray | None,
    *,
    share: float,
    min_users: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sorted int64 indices of the items to treat as cold: `share` of the items with at least
    `min_users` users, the newest ones when `item_created_order` is given (larger = newer; ties
    broken at random), else a random sample. Raises ContractError when no item is eligible."""
    if not 0.0 < share < 1.0:
        raise ConfigError(f"share must be in (0, 1); got {share}")
    users_per_item = np.asarray(users_per_item)
    eligible = np.flatnonzero(users_per_item >= min_users)
    if len(eligible) == 0:
        raise ContractError(f"no item has >= {min_users} interacting users; nothing to hold out")
    n_cold = max(1, int(round(share * len(eligible))))
    if item_created_order is None:
        cold = rng.choice(eligible, size=n_cold, replace=False)
    else:
        order = np.asarray(item_created_order)
        if order.shape != users_per_item.shape:
            raise ContractError(
                f"item_created_order must be {users_per_item.shape}; got {order.shape}"
            )
        newest_first = np.lexsort((rng.random(len(eligible)), -order[eligible].astype(np.float64)))
        cold = eligible[newest_first[:n_cold]]
    return np.sort(cold).astype(np.int64)


def heldout_interactions(user_items: sp.csr_matrix, cold_item_ids: np.ndarray) -> sp.csr_matrix:
    """Same shape as `user_items`, keeping only the columns of the cold items."""
    x = sp.csr_matrix(user_items, copy=True)
    keep = np.zeros(x.shape[1], dtype=bool)
    keep[np.asarray(cold_item_ids, dtype=np.int64)] = True
    x.data[~keep[x.indices]] = 0
    x.eliminate_zeros()
    return x


def place_cold_items(
    item_factors: np.ndarray,
    content: np.ndarray,
    cold_item_ids: np.ndarray,
    *,
    alpha: float = 1.0,
    item_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, ContentToFactorMap]:
    """Replace the cold items' factors by content-mapped ones.

    The map is fitted on warm items only: those not cold and, when `item_weight` is given,
    with positive weight (an item without training interactions has a meaningless factor).

    Returns
    -------
    item_vectors : (n_items, f) float32 copy of `item_factors`, cold rows mapped from content.
    factor_map : the fitted ContentToFactorMap (to save in the bundle).
    """
    factors = np.asarray(item_factors, dtype=np.float32)
    content = np.asarray(content, dtype=np.float32)
    if factors.shape[0] != content.shape[0]:
        raise ContractError(
            f"item_factors has {factors.shape[0]} rows but content has {content.shape[0]}"
        )
    warm = np.ones(factors.shape[0], dtype=bool)
    warm[np.asarray(cold_item_ids, dtype=np.int64)] = False
    weight = None
    if item_weight is not None:
        item_weight = np.asarray(item_weight, dtype=np.float64)
        warm &= item_weight > 0
        weight = item_weight[warm]
    fmap = ContentToFactorMap(alpha=alpha).fit(content[warm], factors[warm], sample_weight=weight)
    vectors = factors.copy()
    vectors[cold_item_ids] = fmap.predict(content[cold_item_ids])
    return vectors, fmap


def _tie_broken_rank(
    scores: np.ndarray, target: np.ndarray, excluded: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """1-based rank of each row's target column among the non-excluded columns.

    Ties are broken uniformly at random: the target lands anywhere among the items that share
    its score, which is what a random tie-break of a full sort would do.
    """
    rows = np.arange(len(target))
    own = scores[rows, target][:, None]
    valid = ~excluded
    greater = ((scores > own) & valid).sum(axis=1)
    ties = ((scores == own) & valid).sum(axis=1) - 1
    return 1 + greater + rng.integers(0, ties + 1)


def evaluate_cold_items(
    user_vectors: np.ndarray,
    item_vectors: np.ndarray,
    heldout: sp.csr_matrix,
    item_category: np.ndarray,
    item_popularity: np.ndarray,
    *,
    seen: sp.csr_matrix | None = None,
    k: int = 10,
    seed: int = 0,
    max_pairs: int | None = None,
) -> dict[str, float]:
    """Rank held-out items within their category by three scorers.

    Every stored non-zero ``(u, i)`` of `heldout` is one pair. The candidates of a pair are all
    items of ``item_category[i]`` (warm and cold alike) minus the items `seen` by ``u`` in
    training (never ``i`` itself). The rank of ``i`` among them is computed for:

    * ``model``: score ``user_vectors[u] @ item_vectors[j]``;
    * ``popularity``: ``item_popularity[j]`` (training counts, so a cold item scores 0);
    * ``random``: a uniformly random order.

    Ties are broken uniformly at random with `seed`; this matters for popularity, where all
    cold items tie at zero and would otherwise sit first or last by an arbitrary convention.
    Pairs with fewer than two candidates are skipped (nothing to rank). With `max_pairs`, a
    seeded sample of that many pairs is ranked (the cost grows with pairs x category size).

    Returns
    -------
    ``{scorer}_mrr`` mean of 1/rank (in (0, 1]); ``{scorer}_hit@{k}`` share of pairs with rank
    <= k; ``{scorer}_auc`` mean over pairs of (candidates - rank) / (candidates - 1), the share
    of other candidates ranked below the item (0.5 is random); plus ``n_pairs``, ``n_users``,
    ``n_items`` (distinct held-out items) and ``mean_candidates``.
    """
    users_v = np.asarray(user_vectors, dtype=np.float32)
    items_v = np.asarray(item_vectors, dtype=np.float32)
    category = np.asarray(item_category)
    popularity = np.asarray(item_popularity, dtype=np.float64)
    n_items = items_v.shape[0]
    if category.shape != (n_items,) or popularity.shape != (n_items,):
        raise ContractError(
            f"item_category {category.shape} and item_popularity {popularity.shape} must be "
            f"({n_items},) like item_vectors"
        )
    if users_v.shape[1] != items_v.shape[1]:
        raise ContractError(
            f"user_vectors {users_v.shape} and item_vectors {items_v.shape} differ in f"
        )
    if not (np.isfinite(users_v).all() and np.isfinite(items_v).all()):
        raise ContractError("user_vectors and item_vectors must be finite (found NaN or inf)")
    if heldout.shape != (users_v.shape[0], n_items):
        raise ContractError(f"heldout must be {(users_v.shape[0], n_items)}; got {heldout.shape}")
    if seen is not None and seen.shape != heldout.shape:
        raise ContractError(f"seen must be {heldout.shape}; got {seen.shape}")

    pairs = sp.coo_matrix(heldout)
    nonzero = pairs.data != 0
    users, items = pairs.row[nonzero].astype(np.int64), pairs.col[nonzero].astype(np.int64)
    seen_csr = sp.csr_matrix(seen) if seen is not None else None
    rng = np.random.default_rng(seed)
    if max_pairs is not None and len(users) > max_pairs:
        sample = np.sort(rng.choice(len(users), max_pairs, replace=False))
        users, items = users[sample], items[sample]
    ranks = {name: np.zeros(len(users), dtype=np.int64) for name in SCORERS}
    n_cand = np.zeros(len(users), dtype=np.int64)

    codes, item_code = np.unique(category, return_inverse=True)
    pair_code = item_code[items]
    items_by_code = np.argsort(item_code, kind="stable")
    bounds = np.searchsorted(item_code[items_by_code], np.arange(len(codes) + 1))
    pair_order = np.argsort(pair_code, kind="stable")
    pair_bounds = np.searchsorted(pair_code[pair_order], np.arange(len(codes) + 1))

    for c in tqdm(np.unique(pair_code), desc="cold items by category", leave=False):
        cand = items_by_code[bounds[c] : bounds[c + 1]]  # sorted item indices of category c
        cand_v, cand_pop = items_v[cand], popularity[cand]
        idx = pair_order[pair_bounds[c] : pair_bounds[c + 1]]
        batch = max(1, _MAX_CELLS // len(cand))
        for start in range(0, len(idx), batch):
            sel = idx[start : start + batch]
            u, target = users[sel], np.searchsorted(cand, items[sel])
            rows = np.arange(len(sel))
            excluded = np.zeros((len(sel), len(cand)), dtype=bool)
            if seen_csr is not None:
                hit = sp.coo_matrix(seen_csr[u][:, cand])
                excluded[hit.row, hit.col] = True
                excluded[rows, target] = False
            n = len(cand) - excluded.sum(axis=1)
            ranks["model"][sel] = _tie_broken_rank(users_v[u] @ cand_v.T, target, excluded, rng)
            pop = np.broadcast_to(cand_pop, excluded.shape)
            ranks["popularity"][sel] = _tie_broken_rank(pop, target, excluded, rng)
            ranks["random"][sel] = rng.integers(1, n + 1)
            n_cand[sel] = n

    usable = n_cand >= 2
    if not usable.any():
        raise ContractError("no held-out pair has two or more candidates in its category")
    result: dict[str, float] = {
        "n_pairs": float(usable.sum()),
        "n_users": float(len(np.unique(users[usable]))),
        "n_items": float(len(np.unique(items[usable]))),
        "mean_candidates": float(n_cand[usable].mean()) if usable.any() else 0.0,
    }
    n = n_cand[usable].astype(np.float64)
    for name in SCORERS:
        r = ranks[name][usable].astype(np.float64)
        result[f"{name}_mrr"] = float(np.mean(1.0 / r))
        result[f"{name}_hit@{k}"] = float(np.mean(r <= k))
        result[f"{name}_auc"] = float(np.mean((n - r) / (n - 1.0)))
    logger.info(
        "cold items: %d pairs, AUC model %.3f / popularity %.3f / random %.3f",
        int(result["n_pairs"]), result["model_auc"], result["popularity_auc"], result["random_auc"],
    )
    return result
