"""Circle answers: the catalogue, and one user's affinities and memberships."""

from __future__ import annotations

from pydantic import BaseModel, Field

from recsys.circles import CircleCatalogue
from recsys.runtime import UserCircles


class CircleOut(BaseModel):
    circle_id: str
    name_zh: str
    name_en: str
    categories: list[str]


class CatalogueOut(BaseModel):
    model_version: str
    circles: list[CircleOut]

    @classmethod
    def from_catalogue(cls, catalogue: CircleCatalogue, model_version: str) -> CatalogueOut:
        return cls(
            model_version=model_version,
            circles=[
                CircleOut(
                    circle_id=c.circle_id,
                    name_zh=c.name_zh,
                    name_en=c.name_en,
                    categories=list(c.categories),
                )
                for c in catalogue.circles
            ],
        )


class CircleAffinityOut(BaseModel):
    circle_id: str
    affinity: float = Field(description="The user's affinity to the circle; higher is stronger.")
    member: bool = Field(description="Whether the user is placed in the circle.")


class UserCirclesOut(BaseModel):
    user_id: str
    model_version: str
    circles: list[CircleAffinityOut] = Field(description="Highest affinity first.")

    @classmethod
    def from_runtime(cls, answer: UserCircles) -> UserCirclesOut:
        return cls(
            user_id=answer.user_id,
            model_version=answer.model_version,
            circles=[
                CircleAffinityOut(circle_id=c.circle_id, affinity=c.affinity, member=c.member)
                for c in answer.circles
            ],
        )
