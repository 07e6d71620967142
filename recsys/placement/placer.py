"""CirclePlacer: calibrated circle affinities and member circles for every user.

One logistic regression over (user, circle) pairs with shared weights (`features.pair_features`)
plus a per-circle bias learns "is this user a member of circle c" from users whose posts show
their circles. Labelled users enter as augmented copies (`augment.training_copy`: posts split
between features and labels, activity thinned to the population's), because they are few and
much heavier than the users to place. Labelled users are split in two: the model is fitted on
one part; on the held-out part one pooled calibration map (`calibration`) and one F1-tuned
threshold are fitted; per-circle thresholds from a few dozen positives per circle were noise
(macro F1 -0.02 on the pipeline data). Prediction is features -> matmul -> calibrate over row
batches. Persistence is .npy plus params.json, never pickles.

Inputs beyond the user's own behaviour: CF user factors (affinity to circle centroids) and,
when given, the friendship graph (`social`): friends' circles are the strongest evidence for
users who never posted. The copies of one user share one unit of sample weight, so `C` is a
per-user regularisation strength however many copies are made.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from recsys.errors import InvalidInputError, NotFittedError
from recsys.placement.augment import ENGAGED, POSTS
from recsys.placement.calibration import Calibration, calibrated, fit_calibration
from recsys.placement.copies import CopyDesign, copy_design
from recsys.placement.decision import (
    best_f1_thresholds,
    count_matching_threshold,
    select_members,
)
from recsys.placement.features import (
    circle_centroids,
    circle_priors,
    n_pair_features,
    pair_features,
)
from recsys.placement.inputs import check_factors, engagement_csr, friend_history
from recsys.placement.labels import InsufficientLabelsError
from recsys.placement.params import PLACER_PARAMS, check_placer_params
from recsys.placement.persistence import load_placer, save_placer
from recsys.placement.social import PER_FRIENDS, FriendHistory
from recsys.placement.switch import SEGMENTS, ValidationCopies, apply_switch, choose_segments

__all__ = ["SEGMENTS", "CirclePlacer"]

logger = logging.getLogger(__name__)

Engagement = Mapping[str, sp.spmatrix]


class CirclePlacer:
    """Shared-weight pairwise logistic circle placement, calibrated on held-out labelled users.

    Parameters
    ----------
    C : inverse L2 regularisation strength of the logistic regression; > 0.
    calibration : "sigmoid" (Platt), "isotonic" or "none" (raw model probabilities).
    min_members, max_members : bounds on member circles per user (`decision.select_members`).
    calibration_fraction : share of labelled users held out for calibration and threshold.
    max_train_users : cap on labelled users per fold (a uniform sample beyond it); the shared
        model needs few, and it bounds fit time and memory on big platforms.
    n_copies : augmented copies of each labelled user (the first is not thinned).
    min_ugc : posts a user must have written to be labelled.
    min_label_posts, min_share, engaged_weight : label rule applied to the label part of the
        posts of a copy (`labels.ugc_labels`).
    feature_post_share : upper bound of the per-user share of posts moved to the features.
    prior_strength : pseudo-events of the prior in the shares and lifts.
    min_labelled : fewer users with `min_ugc` posts raise `InsufficientLabelsError`.
    member_count : "expected" sets the member threshold so members per user average the
        calibrated expectation over the users placed (`decision.count_matching_threshold`);
        "f1" keeps the threshold that maximises F1 on the held-out labelled copies.
    switch_confidence : a segment keeps the model's members only when they beat the plain
        rule's in this share of paired bootstrap resamples of the validation copies
        (`switch.choose_segments`); otherwise the rule places its users.
    random_state : seeds folds, samples and copies.
    """

    name = "circle_placer_pairwise"

    def __init__(
        self,
        *,
        C: float = 1.0,
        calibration: Calibration = "sigmoid",
        min_members: int = 1,
        max_members: int | None = None,
        calibration_fraction: float = 0.3,
        max_train_users: int = 10_000,
        n_copies: int = 4,
        min_ugc: int = 3,
        min_label_posts: int = 2,
        min_share: float = 0.2,
        engaged_weight: float = 0.25,
        feature_post_share: float = 0.5,
        prior_strength: float = 3.0,
        min_labelled: int = 10,
        member_count: Literal["expected", "f1"] = "expected",
        switch_confidence: float = 0.95,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.calibration = calibration
        self.min_members = min_members
        self.max_members = max_members
        self.calibration_fraction = calibration_fraction
        self.max_train_users = max_train_users
        self.n_copies = n_copies
        self.min_ugc = min_ugc
        self.min_label_posts = min_label_posts
        self.min_share = min_share
        self.engaged_weight = engaged_weight
        self.feature_post_share = feature_post_share
        self.prior_strength = prior_strength
        self.min_labelled = min_labelled
        self.member_count = member_count
        self.switch_confidence = switch_confidence
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in PLACER_PARAMS}

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self,
        engagement: Engagement,
        user_factors: np.ndarray | None = None,
        friends: sp.spmatrix | None = None,
    ) -> Self:
        """Learn from users with at least `min_ugc` written posts.

        Parameters
        ----------
        engagement : kind -> (n_users, n_circles) sparse counts; needs "posts_written" and
            "posts_engaged" (the label sources), any other kinds are features too.
        user_factors : (n_users, f) CF user factors, or None for behaviour only.
        friends : (n_users, n_users) sparse friendships (`social.friend_matrix`), or None.

        Raises
        ------
        InsufficientLabelsError : fewer than `min_labelled` users wrote `min_ugc` posts, or
            their labels are all of one class.
        """
        self._fit(engagement, user_factors, friends)
        return self

    def _fit(
        self,
        engagement: Engagement,
        user_factors: np.ndarray | None,
        friends: sp.spmatrix | None,
    ) -> np.ndarray | None:
        """`fit`'s work; returns the affinities of every user when it computed them (for the
        member threshold), else None."""
        everyone = None
        check_placer_params(self)
        kinds = sorted({*engagement, POSTS, ENGAGED})
        csr = engagement_csr(engagement, kinds)
        n_users, n_circles = csr[POSTS].shape
        if user_factors is not None:
            check_factors(user_factors, n_users)
        rows = np.flatnonzero(np.asarray(csr[POSTS].sum(axis=1)).ravel() >= self.min_ugc)
        if len(rows) < self.min_labelled:
            raise InsufficientLabelsError(
                f"need at least {self.min_labelled} labelled users (>= {self.min_ugc} posts "
                f"written) to fit circle placement; got {len(rows)}"
            )
        rng = np.random.default_rng(self.random_state)
        rows = rng.permutation(rows)
        n_cal = max(1, int(round(len(rows) * self.calibration_fraction)))
        cal_rows = np.sort(rows[:n_cal][: self.max_train_users])
        train_rows = np.sort(rows[n_cal:][: self.max_train_users])
        others = [k for k in kinds if k != POSTS]
        unlabelled = np.ones(n_users, bool)
        unlabelled[rows] = False
        totals = np.asarray(sum(csr[k] for k in others).sum(axis=1)).ravel() if others else None
        self.kinds_ = kinds
        self.n_circles_ = n_circles
        history = sum(csr.values())
        self.centroids_ = (
            np.zeros((0, 0)) if user_factors is None else circle_centroids(user_factors, history)
        )
        self.priors_ = circle_priors(csr, kinds)
        self.with_friends_ = friends is not None
        social = friend_history(self.with_friends_, csr, friends, kinds, self.prior_strength)
        target = None if totals is None else totals[unlabelled]
        train = self._copies(csr, user_factors, train_rows, rng, target, social)
        X, y = train.X, train.y
        del train
        model = LogisticRegression(C=self.C, max_iter=500)
        mean, scale = X[:, :-n_circles].mean(axis=0), X[:, :-n_circles].std(axis=0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        X[:, :-n_circles] -= mean  # in place: no temporary the size of the design
        X[:, :-n_circles] /= scale
        model.fit(X, y, sample_weight=np.full(len(y), 1.0 / self.n_copies))
        w = model.coef_[0]
        # Standardisation folded into the weights: predict is one matmul plus a bias per circle.
        self.coef_ = w[:-n_circles] / scale
        self.circle_bias_ = w[-n_circles:] + model.intercept_[0] - float(self.coef_ @ mean)
        del X
        cal = self._copies(csr, user_factors, cal_rows, rng, target, social)
        d = cal.X.shape[1] - n_circles
        decision = self._decision(cal)
        self.platt_, self.iso_x_, self.iso_y_ = fit_calibration(decision, cal.y, self.calibration)
        proba = self._proba_from_decision(decision)
        threshold = best_f1_thresholds(proba[:, None], cal.y[:, None])[0]
        self.thresholds_ = np.full(n_circles, threshold)
        if self.member_count == "expected":
            # The users to place, not the copies, say how many circles to expect.
            everyone = self.predict_proba(engagement, user_factors, friends)
            threshold = count_matching_threshold(
                everyone, min_members=self.min_members, max_members=self.max_members
            )
            self.thresholds_ = np.full(n_circles, threshold)
        # The bands are judged on copies without posts among their features: the rule never
        # reads posts, and most users to place have none.
        no_posts = self._copies(
            csr, user_factors, cal_rows, rng, target, social, feature_post_share=0.0
        )
        first = cal.copy == 0
        self._choose_rule_segments(
            ValidationCopies(
                self._proba_from_decision(self._decision(no_posts)).reshape(-1, n_circles),
                no_posts.y.reshape(-1, n_circles), no_posts.items, no_posts.users,
            ),
            ValidationCopies(
                proba.reshape(-1, n_circles)[first], cal.y.reshape(-1, n_circles)[first],
                cal.items[first], cal.users[first],
            ),
        )  # fmt: skip
        logger.info(
            "CirclePlacer fitted: %d kinds, %d pair features%s, %d train / %d calibration users "
            "x %d copies, threshold %.3f",
            len(kinds), d, " (friends included)" if social is not None else "", len(train_rows),
            len(cal_rows), self.n_copies, threshold,
        )  # fmt: skip
        return everyone

    def fit_predict_proba(
        self,
        engagement: Engagement,
        user_factors: np.ndarray | None = None,
        friends: sp.spmatrix | None = None,
    ) -> np.ndarray:
        """`fit`, then `predict_proba` of the same users, without a second pass over them when
        fit already scored everyone (``member_count="expected"``); training placed every user
        twice before (bench/results/train_cost.md)."""
        proba = self._fit(engagement, user_factors, friends)
        return proba if proba is not None else self.predict_proba(engagement, user_factors, friends)

    def _choose_rule_segments(self, bands: ValidationCopies, labelled: ValidationCopies) -> None:
        """Which segments use the plain rule (`switch.choose_segments` on validation copies)."""
        choice = choose_segments(
            bands, labelled, self.thresholds_, min_members=self.min_members,
            max_members=self.max_members, confidence=self.switch_confidence,
            random_state=self.random_state,
        )  # fmt: skip
        self.segment_f1_, self.segment_wins_, self.use_rule_ = (
            choice.f1, choice.model_wins, choice.use_rule
        )
        logger.info(
            "placement switch (validation micro F1 model / rule, bootstrap wins): %s",
            {SEGMENTS[s]: f"{m:.3f} / {r:.3f} ({w:.2f}){' -> rule' if choice.use_rule[s] else ''}"
             for s, ((m, r), w) in enumerate(zip(choice.f1, choice.model_wins, strict=True))},
        )  # fmt: skip

    def _copies(
        self,
        csr: dict[str, sp.csr_matrix],
        user_factors: np.ndarray | None,
        rows: np.ndarray,
        rng: np.random.Generator,
        target: np.ndarray | None,
        social: FriendHistory | None,
        feature_post_share: float | None = None,
    ) -> CopyDesign:
        """The design of `n_copies` copies of the labelled users `rows` (`copies.copy_design`)."""
        factors = None if user_factors is None else user_factors[rows]
        # Friends are not copied: their history is the same for every copy of a user.
        friend_block = None if social is None else social.features(rows)
        return copy_design(
            csr, rows, rng, lambda counts: self._features(counts, factors, friend_block),
            n_copies=self.n_copies, n_circles=self.n_circles_, target_totals=target,
            feature_post_share=self.feature_post_share if feature_post_share is None
            else feature_post_share, min_label_posts=self.min_label_posts,
            min_share=self.min_share, engaged_weight=self.engaged_weight,
        )  # fmt: skip

    def _decision(self, design: CopyDesign) -> np.ndarray:
        d = design.X.shape[1] - self.n_circles_
        return design.X[:, :d] @ self.coef_ + design.X[:, d:] @ self.circle_bias_

    def _features(
        self,
        counts: Mapping[str, Any],
        factors: np.ndarray | None,
        friend_block: np.ndarray | None = None,
    ) -> np.ndarray:
        centroids = self.centroids_ if self.centroids_.size else None
        F = pair_features(
            counts, factors if centroids is not None else None, centroids,
            kinds=self.kinds_, prior_strength=self.prior_strength,
            priors=self.priors_ if self.priors_.size else None,
        )  # fmt: skip
        return F if friend_block is None else np.concatenate([F, friend_block], axis=2)

    def n_features(self) -> int:
        """Length of the learned weight vector (own pair features, then the friend block)."""
        own = n_pair_features(len(self.kinds_), bool(self.centroids_.size), bool(self.priors_.size))
        return own + (PER_FRIENDS if self.with_friends_ else 0)

    # -- prediction --------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load()")

    def _proba_from_decision(self, decision: np.ndarray) -> np.ndarray:
        return calibrated(decision, self.platt_, self.iso_x_, self.iso_y_)

    def predict_proba(
        self,
        engagement: Engagement,
        user_factors: np.ndarray | None = None,
        friends: sp.spmatrix | None = None,
        *,
        batch_size: int = 1 << 15,
    ) -> np.ndarray:
        """Calibrated affinities, P(user is a member of circle c).

        Parameters
        ----------
        engagement : kind -> (n_users, n_circles) sparse counts with the fitted kinds.
        user_factors : (n_users, f) CF user factors; required when fitted with them.
        friends : (n_users, n_users) sparse friendships; required when fitted with them.

        Returns
        -------
        (n_users, n_circles) float32 in [0, 1].
        """
        self._check_fitted()
        csr = engagement_csr(engagement, self.kinds_, self.n_circles_)
        n_users = csr[self.kinds_[0]].shape[0]
        if self.centroids_.size:
            if user_factors is None:
                raise InvalidInputError("user_factors must be given: fitted with them")
            check_factors(user_factors, n_users, self.centroids_.shape[1])
        social = friend_history(self.with_friends_, csr, friends, self.kinds_, self.prior_strength)
        out = np.empty((n_users, self.n_circles_), dtype=np.float32)
        starts = range(0, n_users, batch_size)
        for start in tqdm(starts, desc="placement: predict", disable=len(starts) <= 1):
            rows = slice(start, min(start + batch_size, n_users))
            counts = {k: m[rows].toarray() for k, m in csr.items()}
            F = self._features(
                counts,
                None if user_factors is None else user_factors[rows],
                None if social is None else social.features(rows),
            )
            decision = F @ self.coef_.astype(np.float32) + self.circle_bias_.astype(np.float32)
            out[rows] = self._proba_from_decision(decision)
        return out

    def predict_members(
        self,
        engagement: Engagement,
        user_factors: np.ndarray | None = None,
        friends: sp.spmatrix | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """(n_users, n_circles) bool member circles (tuned threshold, min/max members; the
        plain rule in the segments where it won on validation)."""
        return self.members_from_proba(
            self.predict_proba(engagement, user_factors, friends, **kwargs), engagement
        )

    def members_from_proba(
        self, proba: np.ndarray, engagement: Engagement | None = None
    ) -> np.ndarray:
        """Member circles from affinities already computed by `predict_proba`; `engagement`
        (the same users' counts) applies the per-segment switch to the plain rule."""
        self._check_fitted()
        members = select_members(
            proba, self.thresholds_, min_members=self.min_members, max_members=self.max_members
        )
        return apply_switch(members, self.use_rule_, engagement, self.min_ugc)

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write params.json and one .npy per learned array (`persistence.save_placer`)."""
        self._check_fitted()
        save_placer(self, directory)

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Rebuild a placer saved by `save`."""
        return load_placer(cls, directory)  # type: ignore[return-value]
