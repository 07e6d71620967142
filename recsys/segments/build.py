"""Building a segment: resolve the request under the caller's scope, mask, rank, back-test.

`Segmenter` is made once per loaded bundle (it measures every user's vector norm once) and then
answers any number of requests; every call reads shared read-only state, so threads may share
one. The HTTP API, its background jobs and `recsys segment` all call `Segmenter.build`, so the
same request under the same scope gets the same answer everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from recsys.bundle.parts import BundleParts
from recsys.config import FrozenConfig
from recsys.errors import InvalidInputError, SegmentTooSmallError
from recsys.segments.reach import Reach, backtest_reach, samples
from recsys.segments.request import SegmentRequest, TargetKind
from recsys.segments.scope import Resolved, Scope, buyers_of, item_popularity, resolve
from recsys.segments.scorer import Progress, Query, SegmentScorer

logger = logging.getLogger(__name__)


class SegmentConfig(FrozenConfig):
    """How segments are refused and measured at serve time. How they score is the bundle's:
    its recipe's `[segments]` section (`recsys.recipe.SegmentsConfig`), chosen on validation."""

    #: Segments smaller than this are refused (a small audience singles people out).
    floor: int = Field(100, ge=1)
    #: Fewer buyers after the cut than this: no reach curve.
    min_buyers: int = Field(20, ge=1)
    curve_sizes: tuple[int, ...] = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)
    #: Users the reach curve ranks besides the target's buyers, a seeded sample of the eligible
    #: ones, from 10x as many on (0: rank everyone): the curve is then an estimate, within
    #: about 0.2% of the audience at 200k, and reads a fiftieth of the vectors at 10M users
    #: instead of a second full pass (`recsys.segments.reach`).
    reach_sample: int = Field(200_000, ge=0)
    block_cells: int = Field(1 << 22, ge=1)


@dataclass(frozen=True)
class Segment:
    """A ranked audience: user ids and scores only, best first, plus its back-tested reach.

    `eligible` counts the users the filters leave and the target can rank (the audience the
    size or threshold is taken from).
    """

    model_version: str
    kind: TargetKind
    user_ids: np.ndarray
    scores: np.ndarray
    eligible: int
    reach: Reach

    def __len__(self) -> int:
        return len(self.user_ids)


class Segmenter:
    """Segments over one bundle's parts (served vectors, circles, activity, back-test)."""

    def __init__(
        self, parts: BundleParts, version: str, config: SegmentConfig | None = None
    ) -> None:
        self.parts = parts
        self.version = version
        self.config = config or SegmentConfig()
        model = parts.scorer.model
        recipe = model.config.segments
        kwargs = {"pooling": recipe.pooling, "seed_method": recipe.seed_method,
                  "knn_k": recipe.knn_k, "block_cells": self.config.block_cells,
                  "activity_weight": recipe.activity_weight}  # fmt: skip
        self.scorer = SegmentScorer(**kwargs).fit(  # type: ignore[arg-type]
            model.user_factors_,
            model.item_vectors_,
            parts.circles.affinities,
            parts.activity.recent_events,
        )
        bt = parts.backtest
        self.backtest_scorer = (
            None if bt is None
            else SegmentScorer(**kwargs).fit(  # type: ignore[arg-type]
                bt.user_vectors, bt.item_vectors, activity=bt.recent_events
            )
        )  # fmt: skip
        self.popularity = item_popularity(parts)

    @property
    def n_users(self) -> int:
        return len(self.parts.ids.users)

    def work(self, request: SegmentRequest) -> int:
        """User rows `build` scores (for a progress bar): one pass, plus the back-test's
        (everyone, or its sample and the buyers: a little more or less)."""
        if self.backtest_scorer is None or request.target.kind == "circle":
            return self.n_users
        sample = self.config.reach_sample
        return self.n_users + (sample if samples(self.n_users, sample) else self.n_users)

    def resolve(self, request: SegmentRequest, scope: Scope) -> Resolved:
        """Scope check alone (cheap): raises ScopeError before any work is queued."""
        return resolve(self.parts, request, scope, popularity=self.popularity)

    def build(
        self, request: SegmentRequest, scope: Scope, *, progress: Progress | None = None
    ) -> Segment:
        """The segment of `request` under `scope`; refuses one smaller than the floor."""
        resolved = self.resolve(request, scope)
        floor = self.config.floor
        if request.size is not None and request.size < floor:
            raise SegmentTooSmallError(
                f"size {request.size} is below the floor of {floor} users; ask for {floor} or more"
            )
        eligible = self._eligible(resolved, request)
        if int(eligible.sum()) < floor:
            raise SegmentTooSmallError(self._too_small(floor))
        size = request.size
        if size is None and request.min_score is None:
            size = min(1000, self.n_users)
        users, scores = self.scorer.top(
            self._query(resolved, self.popularity),
            eligible,
            size=size,
            min_score=request.min_score,
            progress=progress,
        )
        if len(users) < floor:
            raise SegmentTooSmallError(self._too_small(floor))
        reach = backtest_reach(
            self.parts.backtest,
            self.backtest_scorer,
            resolved,
            exclude_buyers=request.exclude_buyers,
            size=len(users),
            members=self.parts.circles.members,
            sizes=self.config.curve_sizes,
            min_buyers=self.config.min_buyers,
            sample=self.config.reach_sample,
            progress=progress,
        )
        ids = self.parts.ids.users.to_ids(users)
        logger.info("segment %s for %s: %d users", resolved.kind.value, scope.owner, len(users))
        return Segment(self.version, resolved.kind, np.asarray(ids), scores,
                       int(eligible.sum()), reach)  # fmt: skip

    def _eligible(self, resolved: Resolved, request: SegmentRequest) -> np.ndarray:
        """(n_users,) bool: who may be in the audience (the filters as masks)."""
        parts = self.parts
        if resolved.kind == TargetKind.CIRCLE:
            eligible = np.ones(self.n_users, dtype=bool)
        else:
            eligible = self.scorer.has_vector().copy()
        if len(resolved.filter_circles):
            eligible &= np.asarray(parts.circles.members[:, resolved.filter_circles]).any(axis=1)
        if request.filters.active_days is not None:
            eligible &= parts.activity.active_since(request.filters.active_days)
        if request.exclude_buyers and len(resolved.exclude_items):
            eligible &= ~buyers_of(parts.history.purchased, resolved.exclude_items)
        eligible[resolved.seeds] = False
        return eligible

    @staticmethod
    def _query(resolved: Resolved, popularity: np.ndarray) -> Query:
        if resolved.kind == TargetKind.CIRCLE:
            return Query("circles", resolved.circles)
        if resolved.kind == TargetKind.SEED:
            return Query("seeds", resolved.seeds)
        if len(resolved.items) == 0:
            raise InvalidInputError("the target has no items to score with")
        return Query("items", resolved.items, resolved.item_weights)

    @staticmethod
    def _too_small(floor: int) -> str:
        return (
            f"the segment would hold fewer than the floor of {floor} users; widen the target, "
            "loosen the filters or lower min_score"
        )
