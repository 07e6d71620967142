"""A small synthetic circle-placement problem with planted memberships, and the check on it.

Users have Dirichlet interests over the circles; every behaviour kind draws noisy counts from
them (a share of each kind's events lands in a uniformly random circle: browsing, gifts,
mis-categorised items); ALS-like user factors are a noisy projection of the interests. Only
`poster_rate` of users write posts. Friendships are homophilous: `homophily` of each user's
friends share the user's top circle, the rest are anyone. Run the check and print its figures:

    .venv/bin/python -m tests.placement.synthetic
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.metrics.circles import placement_report
from recsys.placement import (
    CirclePlacer,
    HistoryFrequencyBaseline,
    history_counts,
    ugc_labels,
)
from recsys.placement.social import friend_matrix

# kind -> (mean events per unit of activity, share of events in a random circle)
_KINDS = {
    "posts_engaged": (6.0, 0.35),
    "purchases": (1.5, 0.25),
    "item_events": (12.0, 0.5),
}


@dataclass(frozen=True)
class Problem:
    engagement: dict[str, sp.csr_matrix]
    user_factors: np.ndarray
    truth_members: np.ndarray
    truth_weights: np.ndarray
    posters: np.ndarray
    friends: sp.csr_matrix


def make_problem(
    *,
    n_users: int = 4000,
    n_circles: int = 8,
    n_factors: int = 8,
    poster_rate: float = 0.4,
    member_weight: float = 0.15,
    friends_per_user: int = 6,
    homophily: float = 0.7,
    seed: int = 0,
) -> Problem:
    """Generate the planted problem; members are circles with interest weight >= member_weight."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(n_circles, 0.4), size=n_users)
    members = weights >= member_weight
    members[np.arange(n_users), weights.argmax(axis=1)] = True
    activity = rng.lognormal(0.0, 0.8, size=n_users)
    uniform = np.full(n_circles, 1.0 / n_circles)

    def draw(rate: float, noise: float, users: np.ndarray) -> sp.csr_matrix:
        p = (1 - noise) * weights + noise * uniform
        n = rng.poisson(rate * activity) * users
        return sp.csr_matrix(rng.multinomial(n, p / p.sum(axis=1, keepdims=True)))

    everyone = np.ones(n_users, dtype=np.int64)
    posters = rng.random(n_users) < poster_rate
    engagement = {kind: draw(rate, noise, everyone) for kind, (rate, noise) in _KINDS.items()}
    engagement["posts_written"] = draw(4.0, 0.1, posters.astype(np.int64))
    projection = rng.normal(size=(n_circles, n_factors))
    factors = weights @ projection + rng.normal(scale=0.3, size=(n_users, n_factors))
    src = np.repeat(np.arange(n_users), friends_per_user)
    top = weights.argmax(axis=1)
    by_top = np.argsort(top, kind="stable")
    start = np.searchsorted(top[by_top], top[src])
    size = np.bincount(top, minlength=n_circles)[top[src]]
    same = by_top[start + (rng.random(len(src)) * size).astype(np.int64)]
    dst = np.where(rng.random(len(src)) < homophily, same, rng.integers(0, n_users, len(src)))
    friends = friend_matrix(src, dst, n_users)
    return Problem(engagement, factors.astype(np.float32), members, weights, posters, friends)


def run_check(problem: Problem, placer: CirclePlacer | None = None) -> dict[str, dict]:
    """Fit the placer (without and with friends) and the baseline on the problem's UGC labels;
    their placement reports under "placer", "placer_friends" and "baseline"."""
    eng = problem.engagement
    Y, labelled = ugc_labels(eng["posts_written"], eng["posts_engaged"])
    factors = problem.user_factors
    placer = placer or CirclePlacer(random_state=0)
    history = history_counts(eng)
    baseline = HistoryFrequencyBaseline().fit(history, Y, labelled)
    circle_ids = [f"c{j}" for j in range(Y.shape[1])]
    masks = {"ugc": labelled, "no_ugc": ~labelled}
    reports = {}
    for name in ("placer", "placer_friends", "baseline"):
        if name == "baseline":
            proba, members = baseline.predict_proba(history), baseline.predict_members(history)
        else:
            friends = problem.friends if name == "placer_friends" else None
            proba = placer.fit(eng, factors, friends).predict_proba(eng, factors, friends)
            members = placer.members_from_proba(proba, eng)
        reports[name] = placement_report(
            members, proba, problem.truth_members, problem.truth_weights, circle_ids,
            subset_masks=masks,
        )  # fmt: skip
    return reports


def _summary(reports: dict[str, dict]) -> dict[str, dict]:
    keys = ("n_users", "micro_f1", "macro_f1", "brier", "ece", "ndcg", "mean_members_pred",
            "mean_members_truth")  # fmt: skip
    return {
        model: {
            subset: {k: round(m[k], 4) if isinstance(m[k], float) else m[k] for k in keys}
            for subset, m in report["subsets"].items()
        }
        for model, report in reports.items()
    }


if __name__ == "__main__":
    print(json.dumps(_summary(run_check(make_problem())), indent=2))
