"""The chance that a group buy completes: enough friends join before the deadline.

A group of target size s needs s - 1 joiners. The share targeter's join probabilities of the
initiator's allowed friends give the expected number of joiners E; if joins were independent
and rare, the joiners would be Poisson(E) and the chance P(Poisson(E) >= s - 1). Neither holds
exactly (friends talk, deadlines cut joins short), so a logistic regression over
[logit of that Poisson tail, log1p E, joiners needed, log hours to the deadline] maps it to a
calibrated chance, fitted on groups whose outcome is known (completed or failed) and that the
ranker did not learn from. Saved as JSON (coefficients), no pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Self

import numpy as np
from scipy.special import expit, logit
from scipy.stats import poisson
from sklearn.linear_model import LogisticRegression

from recsys.errors import BundleError, InvalidInputError, NotFittedError

MODEL_NAME = "group_completion_logistic"
_EPS = 1e-4
US_PER_HOUR = 3_600 * 1_000_000


def completion_features(
    expected_joiners: np.ndarray, target_size: np.ndarray, hours_to_deadline: np.ndarray
) -> np.ndarray:
    """(n, 4) float64 inputs of the completion model (see the module docstring).

    Parameters
    ----------
    expected_joiners : (n,) sum of the allowed friends' join probabilities.
    target_size : (n,) members the group needs, initiator included (>= 1).
    hours_to_deadline : (n,) hours left; NaN when unknown (then the median of the fit is used).
    """
    e = np.asarray(expected_joiners, np.float64)
    needed = np.maximum(np.asarray(target_size, np.float64) - 1, 0)
    tail = np.where(needed > 0, poisson.sf(needed - 1, np.maximum(e, 1e-9)), 1.0)
    hours = np.asarray(hours_to_deadline, np.float64)
    return np.stack(
        [logit(np.clip(tail, _EPS, 1 - _EPS)), np.log1p(e), needed, np.log1p(np.maximum(hours, 0))],
        axis=1,
    )


class CompletionModel:
    """P(the group completes) from expected joiners, target size and time to the deadline."""

    name = MODEL_NAME

    def __init__(self, *, C: float = 1.0) -> None:
        self.C = C

    def fit(
        self,
        expected_joiners: np.ndarray,
        target_size: np.ndarray,
        hours_to_deadline: np.ndarray,
        completed: np.ndarray,
    ) -> Self:
        """Fit on groups with a known outcome; `completed` (n,) bool."""
        completed = np.asarray(completed, bool)
        if completed.all() or not completed.any():
            raise InvalidInputError(
                "the completion model needs completed and failed groups; got "
                f"{int(completed.sum())} completed of {len(completed)}"
            )
        x = completion_features(expected_joiners, target_size, hours_to_deadline)
        self.median_hours_ = float(np.nanmedian(x[:, 3])) if np.isfinite(x[:, 3]).any() else 0.0
        x[:, 3] = np.where(np.isfinite(x[:, 3]), x[:, 3], self.median_hours_)
        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        model = LogisticRegression(C=self.C).fit((x - self.mean_) / self.scale_, completed)
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        return self

    def predict_proba(
        self, expected_joiners: np.ndarray, target_size: np.ndarray, hours_to_deadline: np.ndarray
    ) -> np.ndarray:
        """(n,) float64 chance of completing, in (0, 1)."""
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load()")
        x = completion_features(expected_joiners, target_size, hours_to_deadline)
        x[:, 3] = np.where(np.isfinite(x[:, 3]), x[:, 3], self.median_hours_)
        return expit(((x - self.mean_) / self.scale_) @ self.coef_ + self.intercept_)

    def save(self, directory: str | Path) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; nothing to save")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "model": self.name, "C": self.C, "coef": self.coef_.tolist(),
            "intercept": self.intercept_, "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(), "median_hours": self.median_hours_,
        }  # fmt: skip
        (directory / "completion.json").write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        path = Path(directory) / "completion.json"
        try:
            meta = json.loads(path.read_text())
        except FileNotFoundError:
            raise BundleError(f"{path}: missing; not a saved {cls.__name__}") from None
        if meta.get("model") != MODEL_NAME:
            raise BundleError(f"{path}: holds {meta.get('model')!r}, not {MODEL_NAME!r}")
        model = cls(C=float(meta["C"]))
        model.coef_ = np.asarray(meta["coef"], np.float64)
        model.intercept_ = float(meta["intercept"])
        model.mean_ = np.asarray(meta["mean"], np.float64)
        model.scale_ = np.asarray(meta["scale"], np.float64)
        model.median_hours_ = float(meta["median_hours"])
        return model
