"""What a segment request says: a target, a size or score threshold, filters.

One typed model validates the API body (`POST /v1/segments`) and the command's REQUEST.json
(`recsys segment`) alike, so both refuse the same input with the same field names.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from recsys.config import FrozenConfig

#: Audience size when a request gives neither `size` nor `min_score`.
DEFAULT_SIZE = 1000
#: The most ids one target may name.
MAX_IDS = 10_000

Id = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TargetKind(StrEnum):
    ITEM = "item"
    BRAND = "brand"
    CATEGORY = "category"
    CIRCLE = "circle"
    SEED = "seed"


class Target(FrozenConfig):
    """Who the audience is for: items, brands, categories, circles, or seed users (look-alike)."""

    kind: TargetKind
    ids: list[Id] = Field(min_length=1, max_length=MAX_IDS)

    @model_validator(mode="after")
    def _unique(self) -> Target:
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("target.ids must not repeat an id")
        return self


class Filters(FrozenConfig):
    """Masks on the audience: members of any of `circles`; active in the last `active_days`."""

    circles: list[Id] = Field(default_factory=list, max_length=100)
    active_days: float | None = Field(None, gt=0, le=3650)


class SegmentRequest(FrozenConfig):
    """Body of `POST /v1/segments` and the contents of `recsys segment REQUEST.json`.

    `size` keeps the best `size` users; `min_score` keeps users scoring at least that; with both,
    the best `size` of those; with neither, the best `DEFAULT_SIZE`. `exclude_buyers` leaves out
    users who already bought the target's items (for a merchant: of their own items only).
    """

    target: Target
    size: int | None = Field(None, ge=1, le=100_000_000)
    min_score: float | None = None
    filters: Filters = Field(default_factory=Filters)
    exclude_buyers: bool = False

    def bound(self, n_users: int) -> int:
        """The most users this request can return (what decides whether it runs as a job)."""
        if self.size is not None:
            return min(self.size, n_users)
        return n_users if self.min_score is not None else min(DEFAULT_SIZE, n_users)
