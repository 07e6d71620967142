"""Text -> CF item factors in one object: what a model bundle keeps for catalogue refresh.

Between retrains, `recsys refresh` meets items (and posts) the factor model never saw. The
placer fitted at training time turns their documents into item factors that score against
the existing user factors. Saved as two sub-folders of arrays and JSON, no pickle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recsys.content.encoder import ContentEncoder
from recsys.content.factor_map import ContentToFactorMap
from recsys.errors import BundleError, NotFittedError

_FORMAT = "content-placer/1"


class ContentPlacer:
    """A fitted ContentEncoder followed by a fitted ContentToFactorMap."""

    def __init__(self, encoder: ContentEncoder, factor_map: ContentToFactorMap) -> None:
        if not hasattr(encoder, "components_") or not hasattr(factor_map, "coef_"):
            raise NotFittedError("ContentPlacer needs a fitted encoder and a fitted factor map")
        if factor_map.coef_.shape[0] != encoder.n_components_:
            raise BundleError(
                f"factor map expects {factor_map.coef_.shape[0]}-dim content but the encoder "
                f"gives {encoder.n_components_}"
            )
        self.encoder = encoder
        self.factor_map = factor_map

    @property
    def n_factors(self) -> int:
        return int(self.factor_map.coef_.shape[1])

    def item_vectors(self, documents: Sequence[str]) -> np.ndarray:
        """(m, n_factors) float32 CF item factors for `documents` (see `documents.py`)."""
        return self.factor_map.predict(self.encoder.transform(documents))

    def save(self, directory: str | Path) -> None:
        """Write placer.json, encoder/ and factor_map/ into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save(directory / "encoder")
        self.factor_map.save(directory / "factor_map")
        meta = {"format": _FORMAT, "n_components": self.encoder.n_components_,
                "n_factors": self.n_factors}
        (directory / "placer.json").write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: str | Path) -> ContentPlacer:
        directory = Path(directory)
        try:
            meta = json.loads((directory / "placer.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError) as exc:
            raise BundleError(f"{directory}: not a saved ContentPlacer: {exc}") from None
        if meta.get("format") != _FORMAT:
            raise BundleError(f"{directory}: format {meta.get('format')!r}, expected {_FORMAT!r}")
        placer = cls(
            ContentEncoder.load(directory / "encoder"),
            ContentToFactorMap.load(directory / "factor_map"),
        )
        if placer.n_factors != meta.get("n_factors"):
            raise BundleError(f"{directory}: placer.json and factor_map/ disagree on n_factors")
        return placer
