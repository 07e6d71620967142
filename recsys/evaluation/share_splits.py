"""Held-out share-targeting tasks: which groups (or friend-item edges) the ranker never saw.

Two protocols:

* **group buys** (`split_groups`): dated data holds out the newest `test_share` of the group
  buys; features of every query may only know what happened before the cut, and validation
  (early stopping, calibration, the completion model) is the newest `valid_share` of the
  groups before it. Undated data with a fixed split (Brightkite's `train_id.txt` / `test.txt`)
  uses it as given and carves validation at random from the training fold: its `tune.txt` is
  the test set again, so it is never used.
* **friend-item edges** (`edge_holdout`, Last.fm): random (user, item) edges are hidden; a
  query is a user and an item they have, and the friends holding a hidden edge to the item are
  the ones to find. A second hidden slice teaches the ranker; features know only the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.social.event_counts import pair_keys
from recsys.social.history import ShareHistory
from recsys.social.share_features import ShareQueries


@dataclass(frozen=True)
class ShareTask:
    """Queries and who joined each, plus the history their features may use.

    `train`, `valid` and `test` are (queries, joined) pairs; joined is (n_queries, n_users)
    0/1 CSR. Training and validation queries index groups of `history` (their own group is
    left out of their features); test queries are new (group -1).
    """

    history: ShareHistory
    train: tuple[ShareQueries, sp.csr_matrix]
    valid: tuple[ShareQueries, sp.csr_matrix]
    test: tuple[ShareQueries, sp.csr_matrix]
    #: Per test query: group size wanted, hours to the deadline at creation, outcome code
    #: (`history.STATUS_CODES`); empty for edge tasks.
    test_groups: dict[str, np.ndarray]
    valid_groups: dict[str, np.ndarray]
    #: Share of training + validation groups that completed (the base-rate predictor).
    base_rate: float
    description: str


def _group_facts(history: ShareHistory, groups: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "target_size": history.group_target[groups],
        "hours": (history.group_deadline[groups] - history.group_created[groups]) / 3.6e9,
        "status": history.group_status[groups],
    }


def split_groups(
    history: ShareHistory,
    *,
    test_fold: np.ndarray | None = None,
    test_share: float = 0.2,
    valid_share: float = 0.15,
    seed: int = 0,
) -> ShareTask:
    """Hold out group buys (see the module docstring).

    Parameters
    ----------
    history : every group buy and event of the data set.
    test_fold : (G,) bool fixed test groups (undated data); None splits by time.
    """
    if not 0 < test_share < 1 or not 0 < valid_share < 1:
        raise InvalidInputError(f"test_share and valid_share must be in (0, 1); got {test_share}, "
                         f"{valid_share}")  # fmt: skip
    joined = history.joiners()
    if test_fold is None:
        if not history.dated:
            raise InvalidInputError("undated data needs a fixed test fold (times cannot split it)")
        order = np.argsort(history.group_created, kind="stable")
        test = np.sort(order[int(round(len(order) * (1 - test_share))):])
        cut = int(history.group_created[test].min())
        # The friendship graph is no outcome: a test query may use friendships made after
        # the cut (candidates are still the friends the user had at the query's time).
        known = replace(history.until(cut), friend_src=history.friend_src,
                        friend_dst=history.friend_dst, friend_ts=history.friend_ts)
        n_valid = int(round(known.n_groups * valid_share))
        by_time = np.argsort(known.group_created, kind="stable")
        valid = np.sort(by_time[known.n_groups - n_valid:])
        how = (f"by time: test = the newest {test_share:.0%} of group buys (created from "
               f"{np.datetime64(cut, 'us')}), validation = the newest {valid_share:.0%} before")
    else:
        test_fold = np.asarray(test_fold, bool)
        if len(test_fold) != history.n_groups:
            raise InvalidInputError(
                f"test_fold has {len(test_fold)} entries; {history.n_groups} groups"
            )
        test = np.flatnonzero(test_fold)
        known = history.select_groups(~test_fold)
        rng = np.random.default_rng(seed)
        valid = np.sort(rng.permutation(known.n_groups)[: int(round(known.n_groups * valid_share))])
        how = (f"fixed split: {len(test)} test groups; validation = a random {valid_share:.0%} "
               f"of the {known.n_groups} training groups (seed {seed})")
    train_mask = np.ones(known.n_groups, bool)
    train_mask[valid] = False
    known_joined = known.joiners()
    train = np.flatnonzero(train_mask)
    test_queries = replace(ShareQueries.of_groups(history, test), group=np.full(len(test), -1))
    outcome = np.isin(known.group_status, (1, 2))
    return ShareTask(
        history=known,
        train=(ShareQueries.of_groups(known, train), known_joined[train]),
        valid=(ShareQueries.of_groups(known, valid), known_joined[valid]),
        test=(test_queries, joined[test]),
        test_groups=_group_facts(history, test),
        valid_groups=_group_facts(known, valid),
        base_rate=float((known.group_status[outcome] == 1).mean()) if outcome.any() else 0.0,
        description=how,
    )


def edge_holdout(
    history: ShareHistory,
    *,
    test_share: float = 0.1,
    label_share: float = 0.1,
    valid_share: float = 0.2,
    max_queries: int = 20_000,
    seed: int = 0,
) -> ShareTask:
    """Hide random (user, item) edges of `history`'s item events (see the module docstring).

    Every remaining event counts as the user having the item (`event_bought`), so the
    bought-before rule leaves out friends who already have it: the task is to find friends who
    will take it up.
    """
    rng = np.random.default_rng(seed)
    pairs = np.unique(pair_keys(history.event_user, history.event_item, history.n_items))
    draw = rng.random(len(pairs))
    test_pairs = pairs[draw < test_share]
    label_pairs = pairs[(draw >= test_share) & (draw < test_share + label_share)]
    kept = pairs[draw >= test_share + label_share]
    n_items = history.n_items
    # Undated edges: every event and query at the latest time anything happened.
    time = int(max(history.event_ts.max(initial=0), history.friend_ts.max(initial=0)))
    known = replace(
        history,
        event_user=kept // n_items, event_item=kept % n_items,
        event_ts=np.full(len(kept), time),
        event_bought=np.ones(len(kept), bool),
    )  # fmt: skip
    friends = known.friends()
    # Validation holds the hidden edges of other friends than training: a ranker that learnt
    # which friends happen to hold many hidden edges (their activity fingerprints them) must
    # not look good on validation.
    valid_user = rng.random(history.n_users) < valid_share
    is_valid = valid_user[label_pairs // n_items]
    train_q = _edge_queries(label_pairs[~is_valid], kept, friends, n_items, time, rng,
                            max_queries)  # fmt: skip
    valid_q = _edge_queries(label_pairs[is_valid], kept, friends, n_items, time, rng,
                            max_queries)  # fmt: skip
    test_q, test_j = _edge_queries(test_pairs, kept, friends, n_items, time, rng, max_queries)
    return ShareTask(
        history=known,
        train=train_q,
        valid=valid_q,
        test=(test_q, test_j),
        test_groups={}, valid_groups={}, base_rate=float("nan"),
        description=(f"random edge holdout: {test_share:.0%} of (user, item) edges hidden for "
                     f"test, {label_share:.0%} to train the ranker (those of {valid_share:.0%} of "
                     f"the users validate), features from the other {len(kept):,} (seed {seed})"),
    )  # fmt: skip


def _edge_queries(
    hidden: np.ndarray,
    kept: np.ndarray,
    friends: sp.csr_matrix,
    n_items: int,
    time: int,
    rng: np.random.Generator,
    max_queries: int,
) -> tuple[ShareQueries, sp.csr_matrix]:
    """Queries (u, i) with u having i among `kept` and a friend f with (f, i) in `hidden`."""
    f, item = hidden // n_items, hidden % n_items
    # Each hidden (f, i) pairs with every friend u of f: u is a query user when (u, i) is kept.
    lo, hi = friends.indptr[f], friends.indptr[f + 1]
    rep = np.repeat(np.arange(len(f)), hi - lo)
    pos = np.arange(len(rep)) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo) + lo[rep]
    u = friends.indices[pos].astype(np.int64)
    has = np.isin(u * n_items + item[rep], kept)
    u, rep = u[has], rep[has]
    query_key = u * n_items + item[rep]
    keys, inverse = np.unique(query_key, return_inverse=True)
    chosen = np.sort(rng.permutation(len(keys))[:max_queries])
    remap = np.full(len(keys), -1)
    remap[chosen] = np.arange(len(chosen))
    q = remap[inverse]
    sel = q >= 0
    n_users = friends.shape[0]
    joined = sp.csr_matrix(
        (np.ones(int(sel.sum()), np.float32), (q[sel], f[rep][sel])), shape=(len(chosen), n_users)
    )
    joined.data[:] = 1.0
    keys = keys[chosen]
    queries = ShareQueries(
        user=keys // n_items, item=keys % n_items, time=np.full(len(keys), time, np.int64),
        group=np.full(len(keys), -1, np.int64),
    )  # fmt: skip
    return queries, joined
