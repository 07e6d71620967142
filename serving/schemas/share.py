"""Share targets: the request body and the answer (friends, completion chance, circles)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from serving.schemas.items import Reason

MAX_LIMIT = 100
Id = Annotated[str, Field(min_length=1, max_length=256)]


class ShareTargetsIn(BaseModel):
    """Whom should `user_id` share a group buy of `item_id` with?"""

    model_config = ConfigDict(extra="forbid")

    user_id: Id = Field(description="The user who shares (the initiator, or a member).")
    item_id: Id = Field(description="The item of the group buy.")
    group_id: Id | None = Field(
        None, description="An existing group buy of the item: its size and deadline fill what "
        "is left out here, and its members are never suggested.",
    )
    target_size: int | None = Field(
        None, ge=2, le=1000, description="Members the group needs, the initiator included."
    )
    deadline_ts: AwareDatetime | None = Field(
        None, description="When the group buy closes: ISO-8601 with a zone, or epoch seconds.",
        examples=["2025-01-02T12:00:00Z"],
    )
    limit: int = Field(10, ge=1, le=MAX_LIMIT, description="How many friends to return.")


class ShareTargetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: str
    score: float = Field(description="Ranking score; compares within one answer only.")
    join_probability: float = Field(description="Calibrated chance this friend joins.")
    reasons: list[Reason] = Field(
        description="`often_joins_your_groups:<n>`, `likes_circle:<circle_id>`; may be empty."
    )


class CompletionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chance: float | None = Field(
        description="Chance the group completes; null without a target size (or when the "
        "bundle's data had no failed groups to learn it from)."
    )
    target_size: int | None
    hours_to_deadline: float | None
    expected_joiners: float = Field(
        description="Sum of the join probabilities of every friend the contact rules allow."
    )
    joined: int = Field(description="Members besides the initiator already in the group.")


class ShareTargetsOut(BaseModel):
    """Built from `recsys.runtime.ShareTargets` (`model_validate(answer)`)."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    item_id: str
    group_id: str | None
    model_version: str
    targets: list[ShareTargetOut] = Field(description="Best first.")
    completion: CompletionOut
    post_circles: list[str] = Field(
        description="Circles to post the group buy in (the item's first) when the user has "
        "few contacts for it; else empty."
    )
