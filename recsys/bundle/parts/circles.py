"""The circles part: the catalogue trained with, every user's affinities and memberships."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_array, save_array
from recsys.circles import CircleCatalogue
from recsys.errors import BundleError
from recsys.placement.placer import CirclePlacer


@dataclass(frozen=True)
class Circles:
    """Where each user belongs.

    Attributes
    ----------
    catalogue : the circle catalogue the bundle was trained with (index = column below).
    affinities : (n_users, n_circles) float32 calibrated affinities.
    members : (n_users, n_circles) bool placed memberships.
    placer : the learned placer, or None when too few users' UGC showed their circles (then
        affinities are history shares, `recsys.placement.baseline`).
    """

    catalogue: CircleCatalogue
    affinities: np.ndarray
    members: np.ndarray
    placer: CirclePlacer | None = None

    def __post_init__(self) -> None:
        expected = (self.affinities.shape[0], len(self.catalogue))
        if self.affinities.shape != expected or self.members.shape != expected:
            raise BundleError(
                f"circle arrays must be (n_users, {len(self.catalogue)}); got affinities "
                f"{self.affinities.shape} and members {self.members.shape}"
            )

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        target = paths.path(layout.CIRCLE_CATALOGUE)
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.catalogue.to_table(), target)
        save_array(paths.path(layout.CIRCLE_AFFINITIES), self.affinities.astype(np.float32))
        save_array(paths.path(layout.CIRCLE_MEMBERS), self.members.astype(bool))
        if self.placer is not None:
            self.placer.save(paths.path(layout.CIRCLE_PLACER))

    @staticmethod
    def load_catalogue(root: str | Path) -> CircleCatalogue:
        path = BundleLayout(root).path(layout.CIRCLE_CATALOGUE)
        try:
            return CircleCatalogue.from_table(pq.read_table(path))
        except FileNotFoundError:
            raise BundleError(f"{path}: missing from the bundle") from None

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> Circles:
        paths = BundleLayout(root)
        placer_dir = paths.path(layout.CIRCLE_PLACER)
        return cls(
            catalogue=cls.load_catalogue(root),
            affinities=load_array(paths.path(layout.CIRCLE_AFFINITIES), mmap=mmap),
            members=load_array(paths.path(layout.CIRCLE_MEMBERS), mmap=mmap),
            placer=CirclePlacer.load(placer_dir) if placer_dir.is_dir() else None,
        )
