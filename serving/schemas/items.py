"""Ranked item answers: a user's recommendations and an item's neighbours, with reasons."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from recsys.runtime import ReasonCode
from recsys.runtime.reasons import ARGUMENTS, reason_grammar

#: A reason is "code:arg" for the codes that take an argument, else "code" alone.
REASON_PATTERN = (
    "^("
    + "|".join(re.escape(code.value) + (":.+" if code in ARGUMENTS else "") for code in ReasonCode)
    + ")$"
)

Reason = Annotated[
    str,
    Field(
        pattern=REASON_PATTERN,
        description=(
            "Why the item is here, one of: "
            + ", ".join(f"`{reason_grammar(code)}`" for code in ReasonCode)
            + " (the codes are the ReasonCode enum)."
        ),
        examples=["similar_to:i000123", "popular_in_circle:beauty", "popular"],
    ),
]


class ScoredItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    item_id: str
    score: float
    reasons: list[Reason]


class RecommendationsOut(BaseModel):
    """Built from `recsys.runtime.Recommendations` (`model_validate(answer)`)."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    model_version: str
    items: list[ScoredItemOut] = Field(description="Best first.")


class SimilarItemsOut(BaseModel):
    """Built from `recsys.runtime.SimilarItems` (`model_validate(answer)`)."""

    model_config = ConfigDict(from_attributes=True)

    item_id: str
    model_version: str
    items: list[ScoredItemOut] = Field(description="Most similar first; never the item itself.")
