"""Saving and loading a fitted `CirclePlacer`: params.json plus one .npy per learned array.

No pickles: a bundle's placer is read with ``allow_pickle=False``. Arrays added after a placer
format shipped load with a neutral default, so older bundles keep loading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recsys.errors import BundleError
from recsys.placement.switch import SEGMENTS, upgrade_use_rule

if TYPE_CHECKING:
    from recsys.placement.placer import CirclePlacer

#: Learned arrays every saved placer has.
ARRAYS = ("centroids_", "coef_", "circle_bias_", "platt_", "iso_x_", "iso_y_", "thresholds_")


def _optional_defaults() -> dict[str, np.ndarray]:
    """Arrays that placers saved before they existed lack, with what such a placer meant:
    no prior block, never the rule, no switch evidence."""
    return {
        "priors_": np.empty(0),
        "use_rule_": np.zeros(len(SEGMENTS), bool),
        "segment_f1_": np.full((len(SEGMENTS), 2), np.nan),
        "segment_wins_": np.full(len(SEGMENTS), np.nan),
    }


def _file(directory: Path, key: str) -> Path:
    return directory / f"{key.rstrip('_')}.npy"


def save_placer(placer: CirclePlacer, directory: str | Path) -> None:
    """Write params.json and one .npy per learned array into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"model": placer.name, "params": placer.get_params(), "kinds": placer.kinds_,
            "n_circles": int(placer.n_circles_), "friends": placer.with_friends_}  # fmt: skip
    (directory / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    for key in (*ARRAYS, *_optional_defaults()):
        np.save(_file(directory, key), getattr(placer, key), allow_pickle=False)


def load_placer(cls: type[CirclePlacer], directory: str | Path) -> CirclePlacer:
    """Rebuild a placer saved by `save_placer`; BundleError when incomplete or inconsistent."""
    directory = Path(directory)
    try:
        meta = json.loads((directory / "params.json").read_text())
    except FileNotFoundError:
        raise BundleError(f"{directory}: no params.json; not a saved {cls.__name__}") from None
    if meta.get("model") != cls.name:
        raise BundleError(f"{directory}: holds model {meta.get('model')!r}, not {cls.name!r}")
    model = cls(**meta["params"])
    for key in ARRAYS:
        try:
            setattr(model, key, np.load(_file(directory, key), allow_pickle=False))
        except FileNotFoundError:
            raise BundleError(
                f"{_file(directory, key)}: missing; the saved placer is incomplete"
            ) from None
    for key, default in _optional_defaults().items():
        path = _file(directory, key)
        setattr(model, key, np.load(path, allow_pickle=False) if path.exists() else default)
    # Placers saved with one labelled segment: its flag covers every labelled band.
    model.use_rule_ = upgrade_use_rule(model.use_rule_)
    if len(model.segment_f1_) != len(SEGMENTS):
        model.segment_f1_ = np.full((len(SEGMENTS), 2), np.nan)
        model.segment_wins_ = np.full(len(SEGMENTS), np.nan)
    model.kinds_ = list(meta["kinds"])
    model.n_circles_ = int(meta["n_circles"])
    model.with_friends_ = bool(meta.get("friends", False))
    expected = model.n_features()
    if model.coef_.shape != (expected,) or model.circle_bias_.shape != (model.n_circles_,):
        raise BundleError(
            f"{directory}: coef {model.coef_.shape} / circle_bias {model.circle_bias_.shape} "
            f"do not match {len(model.kinds_)} kinds and {model.n_circles_} circles"
        )
    return model
