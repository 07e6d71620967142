"""Circle answers: the catalogue, and one user's affinities and memberships."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from recsys.circles import CircleCatalogue


class CircleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
            circles=[CircleOut.model_validate(c) for c in catalogue.circles],
        )


class CircleAffinityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    circle_id: str
    affinity: float = Field(description="The user's affinity to the circle; higher is stronger.")
    member: bool = Field(description="Whether the user is placed in the circle.")


class UserCirclesOut(BaseModel):
    """Built from `recsys.runtime.UserCircles` (`model_validate(answer)`)."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    model_version: str
    circles: list[CircleAffinityOut] = Field(description="Highest affinity first.")
