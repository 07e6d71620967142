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

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from recsys.errors import BundleError, InvalidInputError, MissingInputError, NotFittedError
from recsys.placement.augment import ENGAGED, POSTS, training_copy
from recsys.placement.calibration import Calibration, calibrated, fit_calibration
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
from recsys.placement.labels import InsufficientLabelsError
from recsys.placement.plain_rule import PLAIN_RULE_KIND
from recsys.placement.social import PER_FRIENDS, FriendHistory
from recsys.placement.switch import SEGMENTS, Copies, apply_switch, segment_f1

logger = logging.getLogger(__name__)

Engagement = Mapping[str, sp.spmatrix]
_ARRAYS = ("centroids_", "coef_", "circle_bias_", "platt_", "iso_x_", "iso_y_", "thresholds_")
#: Arrays that placers saved before they existed may lack; loaded as empty (block left out).
_OPTIONAL_ARRAYS = ("priors_",)


def _check_factors(user_factors: np.ndarray, n_users: int) -> None:
    if len(user_factors) != n_users:
        raise InvalidInputError(
            f"user_factors has {len(user_factors)} rows; engagement has {n_users}"
        )
    finite = np.isfinite(user_factors).all(axis=1)
    if not finite.all():
        raise InvalidInputError(
            f"user_factors has a non-finite value at row {int(np.argmin(finite))}"
        )


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
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        keys = ("C", "calibration", "min_members", "max_members", "calibration_fraction",
                "max_train_users", "n_copies", "min_ugc", "min_label_posts", "min_share",
                "engaged_weight", "feature_post_share", "prior_strength", "min_labelled",
                "member_count", "random_state")  # fmt: skip
        return {k: getattr(self, k) for k in keys}

    def _validate_params(self) -> None:
        if self.C <= 0:
            raise InvalidInputError(f"C must be > 0; got {self.C}")
        if self.calibration not in ("sigmoid", "isotonic", "none"):
            raise InvalidInputError(
                f"calibration must be 'sigmoid', 'isotonic' or 'none'; got {self.calibration!r}"
            )
        if not 0 < self.calibration_fraction < 1:
            raise InvalidInputError(
                f"calibration_fraction must be in (0, 1); got {self.calibration_fraction}"
            )
        if not 0 <= self.feature_post_share < 1:
            raise InvalidInputError(
                f"feature_post_share must be in [0, 1); got {self.feature_post_share}"
            )
        if self.n_copies < 1 or self.max_train_users < 1 or self.min_ugc < self.min_label_posts:
            raise InvalidInputError(
                "need n_copies >= 1, max_train_users >= 1 and min_ugc >= min_label_posts; got "
                f"{self.n_copies}, {self.max_train_users}, {self.min_ugc} < {self.min_label_posts}"
            )
        if self.member_count not in ("expected", "f1"):
            raise InvalidInputError(
                f"member_count must be 'expected' or 'f1'; got {self.member_count!r}"
            )
        if self.min_labelled < 2:
            raise InvalidInputError(f"min_labelled must be >= 2; got {self.min_labelled}")
        if self.min_members < 0 or (
            self.max_members is not None and self.max_members < max(self.min_members, 1)
        ):
            raise InvalidInputError(
                f"need 0 <= min_members <= max_members; got {self.min_members}, {self.max_members}"
            )

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
        self._validate_params()
        missing = {POSTS, ENGAGED} - set(engagement)
        if missing:
            raise MissingInputError(f"engagement lacks the label kinds {sorted(missing)}")
        kinds = sorted(engagement)
        csr = {k: sp.csr_matrix(engagement[k]) for k in kinds}
        n_users, n_circles = csr[POSTS].shape
        if {m.shape for m in csr.values()} != {(n_users, n_circles)}:
            raise InvalidInputError(
                f"engagement matrices differ in shape: {[m.shape for m in csr.values()]}"
            )
        if user_factors is not None:
            _check_factors(user_factors, n_users)
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
        social = self._friend_history(csr, friends, n_users)
        target = None if totals is None else totals[unlabelled]
        X, y, _, _ = self._copies(csr, user_factors, train_rows, rng, target, social)
        model = LogisticRegression(C=self.C, max_iter=500)
        mean, scale = X[:, :-n_circles].mean(axis=0), X[:, :-n_circles].std(axis=0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        X[:, :-n_circles] = (X[:, :-n_circles] - mean) / scale
        model.fit(X, y, sample_weight=np.full(len(y), 1.0 / self.n_copies))
        w = model.coef_[0]
        # Standardisation folded into the weights: predict is one matmul plus a bias per circle.
        self.coef_ = w[:-n_circles] / scale
        self.circle_bias_ = w[-n_circles:] + model.intercept_[0] - float(self.coef_ @ mean)
        del X
        X_cal, y_cal, cal_items, cal_copy = self._copies(
            csr, user_factors, cal_rows, rng, target, social
        )
        d = X_cal.shape[1] - n_circles
        decision = X_cal[:, :d] @ self.coef_ + X_cal[:, d:] @ self.circle_bias_
        self.platt_, self.iso_x_, self.iso_y_ = fit_calibration(decision, y_cal, self.calibration)
        proba = self._proba_from_decision(decision)
        threshold = best_f1_thresholds(proba[:, None], y_cal[:, None])[0]
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
        X_np, y_np, np_items, _ = self._copies(
            csr, user_factors, cal_rows, rng, target, social, feature_post_share=0.0
        )
        proba_np = self._proba_from_decision(
            X_np[:, :d] @ self.coef_ + X_np[:, d:] @ self.circle_bias_
        )
        del X_np
        self._choose_rule_segments(
            (proba_np.reshape(-1, n_circles), y_np.reshape(-1, n_circles), np_items),
            (proba.reshape(-1, n_circles)[cal_copy == 0],
             y_cal.reshape(-1, n_circles)[cal_copy == 0], cal_items[cal_copy == 0]),
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
        fit already scored everyone (``member_count="expected"``): at 1M users that pass is
        the largest part of placement (bench/results/train_cost.md)."""
        proba = self._fit(engagement, user_factors, friends)
        return proba if proba is not None else self.predict_proba(engagement, user_factors, friends)

    def _choose_rule_segments(self, bands: Copies, labelled: Copies) -> None:
        """Which segments use the plain rule (`switch.segment_f1` on validation copies)."""
        self.segment_f1_ = segment_f1(
            bands, labelled, self.thresholds_, min_members=self.min_members,
            max_members=self.max_members,
        )  # fmt: skip
        self.use_rule_ = self.segment_f1_[:, 1] > self.segment_f1_[:, 0]
        logger.info(
            "placement switch (validation micro F1 model / rule): %s",
            {SEGMENTS[s]: f"{m:.3f} / {r:.3f}{' -> rule' if self.use_rule_[s] else ''}"
             for s, (m, r) in enumerate(self.segment_f1_)},
        )  # fmt: skip

    def _friend_history(
        self, csr: dict[str, sp.csr_matrix], friends: sp.spmatrix | None, n_users: int
    ) -> FriendHistory | None:
        if not self.with_friends_:
            if friends is not None:
                raise InvalidInputError("friends given, but the placer was fitted without them")
            return None
        if friends is None:
            raise InvalidInputError(
                f"friends must be ({n_users}, {n_users}); the placer was fitted with them"
            )
        return FriendHistory(friends, csr, self.kinds_, self.prior_strength)

    def _copies(
        self,
        csr: dict[str, sp.csr_matrix],
        user_factors: np.ndarray | None,
        rows: np.ndarray,
        rng: np.random.Generator,
        target: np.ndarray | None,
        social: FriendHistory | None,
        feature_post_share: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(pairs, d + n_circles) pair features with circle one-hots; (pairs,) labels; and
        per copied user (rows = pairs / n_circles) the item-event counts the plain rule reads
        and the copy number (0 = not thinned)."""
        xs, ys, items, copies = [], [], [], []
        eye = np.eye(self.n_circles_)
        # Friends are not copied: their history is the same for every copy of a user.
        friend_block = None if social is None else social.features(rows)
        for copy in tqdm(range(self.n_copies), desc="placement: copies", leave=False):
            counts, labels, labelled = training_copy(
                csr, rows, rng, target_totals=target if copy else None,
                feature_post_share=self.feature_post_share if feature_post_share is None
                else feature_post_share, min_label_posts=self.min_label_posts,
                min_share=self.min_share, engaged_weight=self.engaged_weight,
            )  # fmt: skip
            F = self._features(
                counts, None if user_factors is None else user_factors[rows], friend_block
            )
            F, labels = F[labelled], labels[labelled]
            items.append(np.asarray(counts.get(PLAIN_RULE_KIND, np.zeros(labels.shape)))[labelled])
            copies.append(np.full(len(F), copy))
            onehot = np.broadcast_to(eye, (len(F), *eye.shape))
            xs.append(np.concatenate([F, onehot], axis=2).reshape(-1, F.shape[2] + len(eye)))
            ys.append(labels.ravel())
        X, y = np.concatenate(xs).astype(np.float64), np.concatenate(ys)
        if not y.any() or y.all():
            raise InsufficientLabelsError(
                "labelled users give only one label class; cannot fit circle placement"
            )
        return X, y, np.concatenate(items).astype(np.float64), np.concatenate(copies)

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

    def _n_features(self) -> int:
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
        missing = [k for k in self.kinds_ if k not in engagement]
        if missing:
            raise MissingInputError(f"engagement lacks kinds {missing} the placer was fitted on")
        csr = {k: sp.csr_matrix(engagement[k]) for k in self.kinds_}
        n_users = csr[self.kinds_[0]].shape[0]
        if any(m.shape != (n_users, self.n_circles_) for m in csr.values()):
            raise InvalidInputError(f"engagement matrices must be (n_users, {self.n_circles_})")
        if self.centroids_.size:
            if user_factors is None or user_factors.shape[1] != self.centroids_.shape[1]:
                raise InvalidInputError(
                    f"user_factors must be (n_users, {self.centroids_.shape[1]}); fitted with them"
                )
            _check_factors(user_factors, n_users)
        social = self._friend_history(csr, friends, n_users)
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
        """Write params.json and one .npy per learned array into `directory`."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"model": self.name, "params": self.get_params(), "kinds": self.kinds_,
                "n_circles": int(self.n_circles_), "friends": self.with_friends_}  # fmt: skip
        (directory / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        for key in (*_ARRAYS, *_OPTIONAL_ARRAYS, "use_rule_", "segment_f1_"):
            np.save(directory / f"{key.rstrip('_')}.npy", getattr(self, key), allow_pickle=False)

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Rebuild a placer saved by `save`."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "params.json").read_text())
        except FileNotFoundError:
            raise BundleError(f"{directory}: no params.json; not a saved {cls.__name__}") from None
        if meta.get("model") != cls.name:
            raise BundleError(f"{directory}: holds model {meta.get('model')!r}, not {cls.name!r}")
        model = cls(**meta["params"])
        for key in _ARRAYS:
            path = directory / f"{key.rstrip('_')}.npy"
            try:
                setattr(model, key, np.load(path, allow_pickle=False))
            except FileNotFoundError:
                raise BundleError(f"{path}: missing; the saved placer is incomplete") from None
        for key in _OPTIONAL_ARRAYS:
            path = directory / f"{key.rstrip('_')}.npy"
            setattr(model, key, np.load(path, allow_pickle=False) if path.exists() else np.empty(0))
        # Placers saved before the switch existed never use the rule.
        for key, empty in (("use_rule_", np.zeros(len(SEGMENTS), bool)),
                           ("segment_f1_", np.full((len(SEGMENTS), 2), np.nan))):  # fmt: skip
            path = directory / f"{key.rstrip('_')}.npy"
            setattr(model, key, np.load(path, allow_pickle=False) if path.exists() else empty)
        model.kinds_ = list(meta["kinds"])
        model.n_circles_ = int(meta["n_circles"])
        model.with_friends_ = bool(meta.get("friends", False))
        expected = model._n_features()
        if model.coef_.shape != (expected,) or model.circle_bias_.shape != (model.n_circles_,):
            raise BundleError(
                f"{directory}: coef {model.coef_.shape} / circle_bias {model.circle_bias_.shape} "
                f"do not match {len(model.kinds_)} kinds and {model.n_circles_} circles"
            )
        return model
