"""CirclePlacer: calibrated circle affinities and member circles for every user.

One logistic regression per circle (one-vs-rest) learns "is this user a member of circle c"
from users whose UGC shows their circles (`labels.ugc_labels`). Labelled users are split in
two: the models are fitted on one part, and on the held-out part each circle gets a
calibration map (Platt sigmoid or isotonic; the regularised model's raw probabilities are
not trustworthy as probabilities) and an F1-tuned decision threshold. Prediction is a
standardise -> matmul -> calibrate pipeline over row batches, so 10M users need no Python
loop over users. Persistence is arrays (.npy) plus params.json, never pickles.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from recsys.errors import BundleError, NotFittedError
from recsys.placement.decision import best_f1_thresholds, select_members

logger = logging.getLogger(__name__)

Calibration = Literal["sigmoid", "isotonic", "none"]
_ARRAYS = (
    "mean_", "scale_", "coef_", "intercept_", "constant_", "platt_", "iso_x_", "iso_y_",
    "thresholds_",
)  # fmt: skip


def _finite_rows(X: np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
    """X[rows] as float64; a NaN or inf feature is an error naming its row, not a NaN affinity."""
    part = np.asarray(X[rows], dtype=np.float64)
    finite = np.isfinite(part).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        row = rows.start + first if isinstance(rows, slice) else int(rows[first])
        raise ValueError(f"X has a non-finite feature at row {row}")
    return part


class CirclePlacer:
    """One-vs-rest logistic circle placement with held-out calibration and thresholds.

    Parameters
    ----------
    C : inverse L2 regularisation strength of each circle's logistic regression; > 0.
    calibration : "sigmoid" (Platt; robust with few positives), "isotonic" (non-parametric,
        wants many labelled users) or "none" (raw model probabilities).
    min_members, max_members : bounds on member circles per user (`decision.select_members`);
        max_members None means no upper bound.
    calibration_fraction : share of labelled users held out for calibration and thresholds.
    max_train_users : cap on labelled users used to fit (a uniform sample beyond it), which
        bounds fit time and memory on big platforms; the calibration fold is capped alike.
    random_state : seeds the fold split and the sample.
    """

    name = "circle_placer"

    def __init__(
        self,
        *,
        C: float = 1.0,
        calibration: Calibration = "sigmoid",
        min_members: int = 1,
        max_members: int | None = None,
        calibration_fraction: float = 0.3,
        max_train_users: int = 200_000,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.calibration = calibration
        self.min_members = min_members
        self.max_members = max_members
        self.calibration_fraction = calibration_fraction
        self.max_train_users = max_train_users
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {
            "C": self.C,
            "calibration": self.calibration,
            "min_members": self.min_members,
            "max_members": self.max_members,
            "calibration_fraction": self.calibration_fraction,
            "max_train_users": self.max_train_users,
            "random_state": self.random_state,
        }

    def _validate_params(self) -> None:
        if self.C <= 0:
            raise ValueError(f"C must be > 0; got {self.C}")
        if self.calibration not in ("sigmoid", "isotonic", "none"):
            raise ValueError(
                f"calibration must be 'sigmoid', 'isotonic' or 'none'; got {self.calibration!r}"
            )
        if not 0 < self.calibration_fraction < 1:
            raise ValueError(
                f"calibration_fraction must be in (0, 1); got {self.calibration_fraction}"
            )
        if self.min_members < 0 or (
            self.max_members is not None and self.max_members < max(self.min_members, 1)
        ):
            raise ValueError(
                f"need 0 <= min_members <= max_members; got {self.min_members}, {self.max_members}"
            )

    # -- fitting -----------------------------------------------------------------------------

    def fit(self, X: np.ndarray, Y: np.ndarray, labelled_mask: np.ndarray) -> Self:
        """Learn from the labelled rows of X.

        Parameters
        ----------
        X : (n_users, n_features) features of all users (`features.placement_features`).
        Y : (n_users, n_circles) bool labels; rows outside `labelled_mask` are ignored.
        labelled_mask : (n_users,) bool, users whose labels are known.
        """
        self._validate_params()
        labelled_mask = np.asarray(labelled_mask, dtype=bool)
        if not (len(X) == len(Y) == len(labelled_mask)):
            raise ValueError(
                f"X, Y and labelled_mask disagree on users: {len(X)}, {len(Y)}, "
                f"{len(labelled_mask)}"
            )
        rows = np.flatnonzero(labelled_mask)
        if len(rows) < 10:
            raise ValueError(f"need at least 10 labelled users to fit; got {len(rows)}")
        rng = np.random.default_rng(self.random_state)
        rows = rng.permutation(rows)
        n_cal = max(1, int(round(len(rows) * self.calibration_fraction)))
        cal_rows, train_rows = rows[:n_cal], rows[n_cal:]
        if max(len(train_rows), len(cal_rows)) > self.max_train_users:
            logger.info("using samples of at most %d of %d train / %d calibration users",
                        self.max_train_users, len(train_rows), len(cal_rows))  # fmt: skip
        train_rows = np.sort(train_rows[: self.max_train_users])
        cal_rows = np.sort(cal_rows[: self.max_train_users])
        X_train = _finite_rows(X, train_rows)
        Y_train = np.asarray(Y[train_rows], dtype=bool)
        Y_cal = np.asarray(Y[cal_rows], dtype=bool)
        n_circles = Y.shape[1]

        self.mean_ = X_train.mean(axis=0)
        scale = X_train.std(axis=0)
        # Constant columns (e.g. a kind nobody uses) keep scale 1 instead of dividing by zero.
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        Z_train = (X_train - self.mean_) / self.scale_
        self.coef_ = np.zeros((n_circles, X.shape[1]))
        self.intercept_ = np.zeros(n_circles)
        self.constant_ = np.full(n_circles, np.nan)
        for c in tqdm(range(n_circles), desc="placement: fit circles", leave=False):
            y = Y_train[:, c]
            if y.all() or not y.any():
                self.constant_[c] = float(Y[rows, c].mean())
                logger.warning(
                    "circle column %d has %s among %d training users; affinity fixed at %.3f",
                    c, "only positives" if y.any() else "no positives", len(y), self.constant_[c],
                )  # fmt: skip
                continue
            # newton-cholesky suits many users x ~100 features, and is far faster than lbfgs here.
            model = LogisticRegression(C=self.C, solver="newton-cholesky", max_iter=200)
            model.fit(Z_train, y)
            self.coef_[c] = model.coef_[0]
            self.intercept_[c] = model.intercept_[0]

        cal_decision = self._decision(_finite_rows(X, cal_rows))
        self._fit_calibration(cal_decision, Y_cal)
        self.thresholds_ = best_f1_thresholds(self._proba_from_decision(cal_decision), Y_cal)
        self.n_features_ = X.shape[1]
        self.n_circles_ = n_circles
        logger.info(
            "CirclePlacer fitted: %d circles, %d features, %d train / %d calibration users, "
            "%d constant circles",
            n_circles, X.shape[1], len(train_rows), len(cal_rows),
            int((~np.isnan(self.constant_)).sum()),
        )  # fmt: skip
        return self

    def _fit_calibration(self, decision: np.ndarray, Y_cal: np.ndarray) -> None:
        """Per-circle maps from decision value to probability, fitted on the held-out fold."""
        n_circles = Y_cal.shape[1]
        # Identity in logit space ([a, b] with p = expit(a * z + b)) is the "none" map.
        self.platt_ = np.tile([1.0, 0.0], (n_circles, 1))
        self.iso_x_ = np.full((n_circles, 0), np.nan)
        self.iso_y_ = np.full((n_circles, 0), np.nan)
        if self.calibration == "none":
            return
        iso: list[tuple[np.ndarray, np.ndarray]] = []
        for c in range(n_circles):
            y = Y_cal[:, c]
            learned = np.isnan(self.constant_[c])
            if learned and y.any() and not y.all():
                z = decision[:, c]
                if self.calibration == "sigmoid":
                    platt = LogisticRegression(C=1e4, solver="newton-cholesky")
                    platt.fit(z[:, None], y)
                    self.platt_[c] = [platt.coef_[0, 0], platt.intercept_[0]]
                else:
                    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                    model.fit(z, y.astype(np.float64))
                    iso.append((model.X_thresholds_, model.y_thresholds_))
                    continue
            elif learned:
                logger.warning(
                    "circle column %d: calibration fold has %s; using raw model probabilities",
                    c, "only positives" if y.any() else "no positives",
                )  # fmt: skip
            # Isotonic falls back to the raw sigmoid through an empty table (length 0).
            iso.append((np.empty(0), np.empty(0)))
        if self.calibration == "isotonic":
            width = max(len(x) for x, _ in iso)
            self.iso_x_ = np.full((n_circles, width), np.nan)
            self.iso_y_ = np.full((n_circles, width), np.nan)
            for c, (x, y_) in enumerate(iso):
                self.iso_x_[c, : len(x)] = x
                self.iso_y_[c, : len(y_)] = y_

    # -- prediction --------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load()")

    def _decision(self, X: np.ndarray) -> np.ndarray:
        """(n, n_circles) float64 logits of the per-circle models."""
        return ((np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_) @ self.coef_.T + (
            self.intercept_
        )

    def _proba_from_decision(self, decision: np.ndarray) -> np.ndarray:
        if self.iso_x_.shape[1] == 0:
            proba = expit(decision * self.platt_[:, 0] + self.platt_[:, 1])
        else:
            proba = expit(decision)
            for c in range(decision.shape[1]):
                valid = ~np.isnan(self.iso_x_[c])
                if valid.any():
                    proba[:, c] = np.interp(
                        decision[:, c], self.iso_x_[c, valid], self.iso_y_[c, valid]
                    )
        constant = ~np.isnan(self.constant_)
        proba[:, constant] = self.constant_[constant]
        return proba

    def predict_proba(self, X: np.ndarray, *, batch_size: int = 1 << 18) -> np.ndarray:
        """Calibrated affinities, P(user is a member of circle c).

        Parameters
        ----------
        X : (n_users, n_features) features; may be a memory map, read batch by batch.

        Returns
        -------
        (n_users, n_circles) float32 in [0, 1].
        """
        self._check_fitted()
        if X.ndim != 2 or X.shape[1] != self.n_features_:
            raise ValueError(
                f"X must be (n_users, {self.n_features_}); got shape {X.shape}"
            )
        out = np.empty((len(X), self.n_circles_), dtype=np.float32)
        starts = range(0, len(X), batch_size)
        for start in tqdm(starts, desc="placement: predict", disable=len(starts) <= 1):
            rows = slice(start, min(start + batch_size, len(X)))
            out[rows] = self._proba_from_decision(self._decision(_finite_rows(X, rows)))
        return out

    def predict_members(self, X: np.ndarray, *, batch_size: int = 1 << 18) -> np.ndarray:
        """(n_users, n_circles) bool member circles (tuned thresholds, min/max members)."""
        return self.members_from_proba(self.predict_proba(X, batch_size=batch_size))

    def members_from_proba(self, proba: np.ndarray) -> np.ndarray:
        """Member circles from affinities already computed by `predict_proba`."""
        self._check_fitted()
        return select_members(
            proba, self.thresholds_, min_members=self.min_members, max_members=self.max_members
        )

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write params.json and one .npy per learned array into `directory`."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "model": self.name,
            "params": self.get_params(),
            "n_features": int(self.n_features_),
            "n_circles": int(self.n_circles_),
        }
        (directory / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        for key in _ARRAYS:
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
        model.n_features_ = int(meta["n_features"])
        model.n_circles_ = int(meta["n_circles"])
        if model.coef_.shape != (model.n_circles_, model.n_features_):
            raise BundleError(
                f"{directory}: coef shape {model.coef_.shape} does not match "
                f"({model.n_circles_}, {model.n_features_}) in params.json"
            )
        return model
