"""A learned linear map from content vectors to collaborative-filtering item factors.

Items with interactions have both a content vector and a CF factor vector; a ridge regression
fitted on them places an item that has only text (new or long-tail group-buy items) in the CF
space, where it can be scored against user factors like any other item.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Self

import numpy as np

from recsys.errors import BundleError, ConfigError, ContractError, NotFittedError

logger = logging.getLogger(__name__)

_FORMAT = "content-to-factor-map/1"


class ContentToFactorMap:
    """Weighted ridge regression ``factors ~ content @ coef_ + intercept_`` in closed form.

    Parameters
    ----------
    alpha : L2 penalty on `coef_`, as in sklearn's Ridge with sample weights of mean 1 (the
        weights' scale does not matter); the intercept is not penalised.

    The content dimension is small (tens to hundreds), so the normal equations
    ``(Xc' W Xc + alpha I) B = Xc' W Yc`` on weighted-centred data are solved exactly.
    """

    def __init__(self, *, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def get_params(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def fit(
        self, content: np.ndarray, factors: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> Self:
        """Fit on warm items.

        Parameters
        ----------
        content : (n, d) content vectors of items that have CF factors.
        factors : (n, f) their CF item factors.
        sample_weight : (n,) non-negative weights, e.g. ``log1p(interaction count)`` so that
            factors estimated from many interactions count more than noisy ones.
        """
        if float(self.alpha) < 0:
            raise ConfigError(f"alpha must be >= 0; got {self.alpha}")
        x = np.asarray(content, dtype=np.float64)
        y = np.asarray(factors, dtype=np.float64)
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ContractError(
                f"content (n, d) and factors (n, f) must have the same rows; "
                f"got {x.shape} and {y.shape}"
            )
        if x.shape[0] == 0:
            raise ContractError("cannot fit a ContentToFactorMap on zero items")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ContractError("content and factors must be finite (found NaN or inf)")
        w = np.ones(x.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
        if w.shape != (x.shape[0],) or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ContractError(
                f"sample_weight must be ({x.shape[0]},) finite, >= 0, with a positive sum"
            )
        w = w / w.sum()
        x_mean = w @ x
        y_mean = w @ y
        xc = x - x_mean
        yc = y - y_mean
        gram = (xc * w[:, None]).T @ xc
        # Weights now sum to 1, so alpha is divided by the number of weighted items: the fit
        # equals sklearn's Ridge(alpha) with weights rescaled to mean 1 over those items, which
        # makes alpha independent of the weights' scale and of zero-weight rows.
        gram[np.diag_indices_from(gram)] += float(self.alpha) / int((w > 0).sum())
        rhs = (xc * w[:, None]).T @ yc
        coef = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        self.coef_ = coef
        self.intercept_ = y_mean - x_mean @ coef
        residual = yc - xc @ coef
        r2 = 1.0 - float(w @ (residual**2).sum(axis=1)) / max(float(w @ (yc**2).sum(axis=1)), 1e-12)
        self.train_r2_ = r2
        logger.info(
            "content->factor map fitted on %d items (%d -> %d dims), weighted R^2 %.3f",
            x.shape[0], x.shape[1], y.shape[1], r2,
        )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("ContentToFactorMap is not fitted; call fit() or load()")

    def predict(self, content: np.ndarray) -> np.ndarray:
        """(m, d) content vectors -> (m, f) float32 CF item factors."""
        self._check_fitted()
        x = np.asarray(content, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.coef_.shape[0]:
            raise ContractError(
                f"content must be (m, {self.coef_.shape[0]}); got {x.shape}"
            )
        return (x @ self.coef_ + self.intercept_).astype(np.float32)

    def save(self, directory: str | Path) -> None:
        """Write params.json, coef.npy and intercept.npy into `directory`."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"format": _FORMAT, "params": self.get_params(), "train_r2_": self.train_r2_}
        (directory / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        np.save(directory / "coef.npy", self.coef_, allow_pickle=False)
        np.save(directory / "intercept.npy", self.intercept_, allow_pickle=False)

    @classmethod
    def load(cls, directory: str | Path) -> ContentToFactorMap:
        directory = Path(directory)
        try:
            meta = json.loads((directory / "params.json").read_text())
            coef = np.load(directory / "coef.npy", allow_pickle=False)
            intercept = np.load(directory / "intercept.npy", allow_pickle=False)
        except (FileNotFoundError, json.JSONDecodeError, ValueError) as exc:
            raise BundleError(
                f"{directory}: not a readable saved ContentToFactorMap: {exc}"
            ) from None
        if meta.get("format") != _FORMAT:
            raise BundleError(f"{directory}: format {meta.get('format')!r}, expected {_FORMAT!r}")
        if coef.ndim != 2 or intercept.shape != (coef.shape[1],):
            raise BundleError(
                f"{directory}: coef {coef.shape} and intercept {intercept.shape} disagree"
            )
        model = cls(**meta["params"])
        model.coef_ = coef
        model.intercept_ = intercept
        model.train_r2_ = float(meta["train_r2_"])
        return model
