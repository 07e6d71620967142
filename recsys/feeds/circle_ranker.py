"""The circle feed's ranker: which posts of a circle a user will act on next.

A logistic regression over `post_features.FEATURES` (standardised), learned on a label window:
the post events in the last `label_share` of the training time become positives, every feature
is computed from the events before that cut (`training_pairs`), and `negatives` posts of the
same circle the user had not seen at the cut are drawn per positive (seeded). Small, fast at
serving (one dot product per post), and its weights say what the data rewards: with the
generator's `post_affinity` off, engagement rate and freshness; with it on, friendship and
item interest as well (docs/feeds.md).

Saved as JSON (no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from recsys.errors import BundleError, InvalidInputError, NotFittedError
from recsys.feeds.post_features import FEATURES, PostSignals, pair_lookup

MODEL_FILE = "circle_ranker.json"


class CirclePostRanker:
    """Estimator manners: settings in `__init__`, learned state ending in ``_``."""

    def __init__(self, *, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        """Learn from (n, len(FEATURES)) features and (n,) 0/1 labels (both classes needed)."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        if X.ndim != 2 or X.shape[1] != len(FEATURES) or len(X) != len(y):
            raise InvalidInputError(
                f"X must be (n, {len(FEATURES)}) with one label per row; got {X.shape}, {y.shape}")
        if len(np.unique(y)) < 2:
            raise InvalidInputError("the label window needs positive and negative pairs")
        self.means_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scales_ = np.where(scale > 0, scale, 1.0)
        model = LogisticRegression(C=self.C, max_iter=1000)
        model.fit((X - self.means_) / self.scales_, y)
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        return self

    def _check(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("CirclePostRanker is not fitted; call fit() or load()")

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(n, F) each feature's share of the score (what the reasons are made of)."""
        self._check()
        return (np.asarray(X, dtype=np.float64) - self.means_) / self.scales_ * self.coef_

    def score(self, X: np.ndarray) -> np.ndarray:
        """(n,) log-odds of acting on the post; higher is better."""
        return self.contributions(X).sum(axis=1) + self.intercept_

    def weights(self) -> dict[str, float]:
        """Feature -> weight on the standardised feature (for the report)."""
        self._check()
        return {f: float(w) for f, w in zip(FEATURES, self.coef_, strict=True)}

    def save(self, directory: str | Path) -> None:
        self._check()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        body = {"features": list(FEATURES), "C": self.C, "means": self.means_.tolist(),
                "scales": self.scales_.tolist(), "coef": self.coef_.tolist(),
                "intercept": self.intercept_}
        (path / MODEL_FILE).write_text(json.dumps(body, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> CirclePostRanker:
        path = Path(directory) / MODEL_FILE
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BundleError(f"{path}: missing from the bundle") from None
        if body.get("features") != list(FEATURES):
            raise BundleError(f"{path}: features {body.get('features')} are not {list(FEATURES)}")
        model = cls(C=float(body["C"]))
        model.means_ = np.array(body["means"], np.float64)
        model.scales_ = np.array(body["scales"], np.float64)
        model.coef_ = np.array(body["coef"], np.float64)
        model.intercept_ = float(body["intercept"])
        return model


@dataclass(frozen=True)
class Pairs:
    """(user, post) pairs with labels; `query` numbers each (user, circle) of a positive."""

    users: np.ndarray
    posts: np.ndarray
    labels: np.ndarray
    query: np.ndarray


def candidates_at(signals: PostSignals, circle: int, before_us: int) -> np.ndarray:
    """Live posts of `circle` written before `before_us`, newest first."""
    posts = signals.posts_of(circle)
    created = signals.facts.created[posts]
    # Newest first: the posts written before the time are a suffix.
    start = int(np.searchsorted(-created, -before_us, side="right"))
    while start < len(posts) and created[start] >= before_us:  # equal times
        start += 1
    return posts[start:]


def seen_or_own(signals: PostSignals, users: np.ndarray, posts: np.ndarray) -> np.ndarray:
    """(n,) bool: the user had acted on the post (before the signals' events end) or wrote it."""
    seen = pair_lookup(signals.user_posts, users, posts) > 0
    return seen | (signals.facts.author[posts] == users)


def training_pairs(
    signals: PostSignals, later: pd.DataFrame, cut_us: int, *, negatives: int,
    rng: np.random.Generator, max_positives: int = 200_000,
) -> Pairs:
    """Positives: the first action of a user on a post in `later` (events from `cut_us` on),
    for posts written before the cut that the user had not seen and did not write; for each,
    `negatives` posts of its circle drawn from the same candidates, labelled 0.

    `signals` are built from the events before the cut.
    """
    facts = signals.facts
    pairs = later[["user_idx", "post_idx"]].drop_duplicates().to_numpy(np.int64)
    if not len(pairs):
        return Pairs(*(np.empty(0, np.int64) for _ in range(4)))
    users, posts = pairs[:, 0], pairs[:, 1]
    ok = (facts.created[posts] < cut_us) & ~facts.deleted[posts] & (facts.circle[posts] >= 0)
    users, posts = users[ok], posts[ok]
    fresh = ~seen_or_own(signals, users, posts)
    users, posts = users[fresh], posts[fresh]
    if len(users) > max_positives:
        pick = np.sort(rng.choice(len(users), max_positives, replace=False))
        users, posts = users[pick], posts[pick]
    circles = facts.circle[posts].astype(np.int64)
    neg_users, neg_posts, neg_query = [], [], []
    for c in np.unique(circles):  # 21 circles, not millions of rows
        at = np.flatnonzero(circles == c)
        pool = candidates_at(signals, int(c), cut_us)
        if not len(pool):
            continue
        draw = pool[rng.integers(0, len(pool), (len(at), negatives))]
        neg_users.append(np.repeat(users[at], negatives))
        neg_posts.append(draw.ravel())
        neg_query.append(np.repeat(at, negatives))
    n_users = np.concatenate(neg_users) if neg_users else np.empty(0, np.int64)
    n_posts = np.concatenate(neg_posts) if neg_posts else np.empty(0, np.int64)
    n_query = np.concatenate(neg_query) if neg_query else np.empty(0, np.int64)
    positive_keys = np.unique(users * np.int64(len(facts)) + posts)
    keep = ~seen_or_own(signals, n_users, n_posts) & ~np.isin(
        n_users * np.int64(len(facts)) + n_posts, positive_keys)
    return Pairs(
        users=np.concatenate([users, n_users[keep]]),
        posts=np.concatenate([posts, n_posts[keep]]),
        labels=np.concatenate([np.ones(len(users), np.int64), np.zeros(int(keep.sum()),
                                                                        np.int64)]),
        query=np.concatenate([np.arange(len(users)), n_query[keep]]),
    )
