"""Ranked item answers: a user's recommendations and an item's neighbours, with reasons."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, Field

from recsys.runtime import ReasonCode, Recommendations, ScoredItem, SimilarItems
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
    item_id: str
    score: float
    reasons: list[Reason]

    @classmethod
    def from_runtime(cls, item: ScoredItem) -> ScoredItemOut:
        return cls(item_id=item.item_id, score=item.score, reasons=list(item.reasons))


class RecommendationsOut(BaseModel):
    user_id: str
    model_version: str
    items: list[ScoredItemOut] = Field(description="Best first.")

    @classmethod
    def from_runtime(cls, answer: Recommendations) -> RecommendationsOut:
        return cls(
            user_id=answer.user_id,
            model_version=answer.model_version,
            items=[ScoredItemOut.from_runtime(item) for item in answer.items],
        )


class SimilarItemsOut(BaseModel):
    item_id: str
    model_version: str
    items: list[ScoredItemOut] = Field(description="Most similar first; never the item itself.")

    @classmethod
    def from_runtime(cls, answer: SimilarItems) -> SimilarItemsOut:
        return cls(
            item_id=answer.item_id,
            model_version=answer.model_version,
            items=[ScoredItemOut.from_runtime(item) for item in answer.items],
        )
