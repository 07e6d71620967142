"""One pooled map from the placer's decision values to membership probabilities.

Pooled over circles because per-circle maps fitted on a few dozen positives per circle were
noise; fitted on held-out labelled users' copies, never on the users the model was fitted on.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Calibration = Literal["sigmoid", "isotonic", "none"]


def fit_calibration(
    decision: np.ndarray, y: np.ndarray, method: Calibration
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit the map on held-out (decision, label) pairs.

    Parameters
    ----------
    decision : (n_pairs,) decision values of the model.
    y : (n_pairs,) bool labels.
    method : "sigmoid" (Platt), "isotonic", or "none" (the model's own probabilities).

    Returns
    -------
    platt : (2,) slope and intercept ([1, 0] unless "sigmoid").
    iso_x, iso_y : isotonic knots (empty unless "isotonic").
    """
    platt, iso_x, iso_y = np.array([1.0, 0.0]), np.empty(0), np.empty(0)
    if method == "sigmoid":
        model = LogisticRegression(C=1e4).fit(decision[:, None], y)
        platt = np.array([model.coef_[0, 0], model.intercept_[0]])
    elif method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(decision, y.astype(np.float64))
        iso_x, iso_y = iso.X_thresholds_, iso.y_thresholds_
    return platt, iso_x, iso_y


def calibrated(
    decision: np.ndarray, platt: np.ndarray, iso_x: np.ndarray, iso_y: np.ndarray
) -> np.ndarray:
    """Probabilities of decision values of any shape under a map from `fit_calibration`."""
    if len(iso_x):
        return np.interp(decision, iso_x, iso_y)
    return expit(decision * platt[0] + platt[1])
