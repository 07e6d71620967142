"""The share-targeting step of training: past group buys in, the bundle's share part out.

Every past group buy is a query of the ranker (the initiator's friends at the time are its
candidates, those who joined its positives); the newest `valid_share` of them (a random share
on undated data) stop and calibrate the ranker and fit the completion chance on the groups
whose outcome is known. Features count "as of" each group and leave its own group out.

Circle affinities for the ranker come from the bundle's placer applied to engagement *without*
group starts and joins, as the evaluation computes them: with them, a training group's own
joins would raise its joiners' affinity (a label inside a feature), which a new group's
friends never have. The ranker's CF feature is left out (NaN) for the same reason: the
shipped scorer learned from group joins, and the evaluation found the ranker needs no second
CF model (bench/results/share_targeting.md).

Data without group buys or friendships, or with too few groups that a friend joined, has no
share part; the metrics say why, and the runtime answers share targets with that reason.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from recsys.bundle.parts import PostsAndGroups, ShareTargeting
from recsys.circles import CircleCatalogue
from recsys.contract import EventType
from recsys.datastore import DataDir
from recsys.errors import InvalidInputError
from recsys.features.circle_engagement import user_circle_engagement
from recsys.idmap import IdMap
from recsys.placement import CirclePlacer, HistoryFrequencyBaseline, history_counts
from recsys.recipe import TrainConfig
from recsys.social.completion import CompletionModel
from recsys.social.history import STATUS_CODES, ShareHistory, load_share_history
from recsys.social.share_features import ShareQueries
from recsys.social.share_index import ShareIndex
from recsys.social.share_targeting import ShareTargeter, allowed_candidates

logger = logging.getLogger(__name__)

_KNOWN_OUTCOME = (STATUS_CODES["completed"], STATUS_CODES["failed"])


def fit_share_targeting(
    data: DataDir,
    users: IdMap,
    items: IdMap,
    catalogue: CircleCatalogue,
    posts_groups: PostsAndGroups,
    friends: sp.csr_matrix,
    placer: CirclePlacer | None,
    user_factors: np.ndarray,
    config: TrainConfig,
) -> tuple[ShareTargeting | None, dict[str, object]]:
    """The share part, or None with the reason in the returned metrics (`skipped`)."""
    share = config.share
    if not share.enabled:
        return _skip("turned off by the recipe (share.enabled = false)")
    if not data.has_table("group_buys") or not friends.nnz:
        return _skip("the data has no group buys or no friendships to learn from")
    # The affinities first: their temporaries and the history's events (GBs each at 10M
    # users) are never held together.
    affinity = _affinity_without_groups(data, users, catalogue, friends, placer, user_factors)
    history = load_share_history(data, users, items, catalogue)
    with_joiner = np.unique(history.join_group).size
    if with_joiner < share.min_groups:
        return _skip(f"{with_joiner} group buys have a joiner; share targeting needs "
                     f"share.min_groups = {share.min_groups}")  # fmt: skip
    train, valid = _split(history, share.valid_share, config.seed)
    # Only past initiators' groups are asked about here: the index keeps what their rows
    # read (the snapshot still counts everyone's), with the bundle's graph as its friends.
    index = ShareIndex(history, circle_affinity=affinity, friends=friends,
                       asked_by=history.initiators())  # fmt: skip
    history = history.without_counted_events()  # the index counts them now
    joined = history.joiners()
    ranker = share.ranker.model_copy(update={"random_state": config.seed})
    try:
        targeter = ShareTargeter(ranker).fit(
            index, ShareQueries.of_groups(history, train), joined[train],
            valid_queries=ShareQueries.of_groups(history, valid), valid_joined=joined[valid],
        )  # fmt: skip
    except InvalidInputError as exc:
        return _skip(str(exc))
    completion, completion_facts = _fit_completion(index, targeter, history, valid)
    facts: dict[str, object] = {
        "groups": int(history.n_groups), "groups_with_joiner": int(with_joiner),
        "train_groups": int(len(train)), "valid_groups": int(len(valid)),
        "rounds": int(targeter.best_iteration_),
        "valid_ndcg@5": _best_score(targeter), "completion": completion_facts,
        "affinity": "placer over engagement without group buys"
        if placer is not None else "history shares without group buys",
    }  # fmt: skip
    part = ShareTargeting(
        targeter=targeter, completion=completion, snapshot=index.snapshot(), affinity=affinity,
        group_members=_group_members(history, posts_groups), facts=facts,
    )  # fmt: skip
    logger.info("share targeting: %s", facts)
    return part, facts


def _skip(reason: str) -> tuple[None, dict[str, object]]:
    logger.warning("share targeting skipped: %s", reason)
    return None, {"skipped": reason}


def _affinity_without_groups(
    data: DataDir,
    users: IdMap,
    catalogue: CircleCatalogue,
    friends: sp.csr_matrix,
    placer: CirclePlacer | None,
    user_factors: np.ndarray,
) -> np.ndarray:
    """(n_users, n_circles) float16 affinities from engagement without group buys, rounded as
    the bundle stores them (the ranker learns on exactly what it will read)."""
    engagement = user_circle_engagement(
        data, users, catalogue,
        exclude_types=(EventType.GROUP_BUY_START, EventType.GROUP_BUY_JOIN),
    )  # fmt: skip
    if placer is not None:
        proba = placer.predict_proba(
            engagement, user_factors if placer.centroids_.size else None,
            friends if placer.with_friends_ else None,
        )  # fmt: skip
    else:
        proba = HistoryFrequencyBaseline().predict_proba(history_counts(engagement))
    return np.asarray(proba, np.float16)


def _split(history: ShareHistory, valid_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation groups: the newest `valid_share` validate (random if undated)."""
    n_valid = max(1, int(round(history.n_groups * valid_share)))
    if history.dated:
        order = np.argsort(history.group_created, kind="stable")
    else:
        order = np.random.default_rng(seed).permutation(history.n_groups)
    return np.sort(order[: history.n_groups - n_valid]), np.sort(order[-n_valid:])


def _fit_completion(
    index: ShareIndex, targeter: ShareTargeter, history: ShareHistory, valid: np.ndarray
) -> tuple[CompletionModel | None, dict[str, object]]:
    """The completion chance fitted on validation groups with an outcome (None when they all
    completed or all failed)."""
    status = history.group_status[valid]
    known = np.isin(status, _KNOWN_OUTCOME)
    done = status[known] == STATUS_CODES["completed"]
    if not known.any() or done.all() or not done.any():
        return None, {"skipped": f"{int(done.sum())} of {int(known.sum())} validation groups "
                                 "with an outcome completed: need both outcomes"}  # fmt: skip
    groups = valid[known]
    queries = ShareQueries.of_groups(history, groups)
    uncapped = targeter.config.model_copy(update={"max_suggestions": None})
    row, friend = allowed_candidates(index, queries, uncapped)
    _, proba = targeter.score(index.features(queries, row, friend))
    expected = np.bincount(row, weights=proba, minlength=len(groups))
    hours = (history.group_deadline[groups] - history.group_created[groups]) / 3.6e9
    model = CompletionModel().fit(expected, history.group_target[groups], hours, done)
    return model, {"groups": int(len(groups)), "completed": int(done.sum())}


def _group_members(history: ShareHistory, posts_groups: PostsAndGroups) -> sp.csr_matrix:
    """(n_groups of the bundle, n_users) who started or joined each group buy."""
    rows = posts_groups.groups.to_index(history.group_id)
    r = np.concatenate([rows, rows[history.join_group]])
    c = np.concatenate([history.group_initiator, history.join_user])
    ok = r >= 0
    m = sp.csr_matrix((np.ones(int(ok.sum()), np.float32), (r[ok], c[ok])),
                      shape=(len(posts_groups.groups), history.n_users))  # fmt: skip
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _best_score(targeter: ShareTargeter) -> float | None:
    scores = getattr(targeter.booster_, "best_score", {}) or {}
    for metrics in scores.values():
        for name, value in metrics.items():
            if name.startswith("ndcg"):
                return round(float(value), 4)
    return None
