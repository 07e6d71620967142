"""What the runtime answers: plain frozen dataclasses the server maps to its schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PolicyStep(StrEnum):
    """Which branch of the policy (`recsys.runtime.policy`) produced an answer."""

    SCORER = "scorer"
    #: The scorer with the user's factors folded in from events newer than the bundle.
    FOLD_IN = "fold_in"
    CIRCLE_CHAIN = "circle_chain"
    GLOBAL_CHAIN = "global_chain"


@dataclass(frozen=True)
class ScoredItem:
    """One item of an answer; `reasons` are ``code[:arg]`` strings (`recsys.runtime.reasons`)."""

    item_id: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Recommendations:
    """A user's feed, best first. Scores are comparable within one answer only."""

    user_id: str
    model_version: str
    items: list[ScoredItem] = field(default_factory=list)
    step: PolicyStep = PolicyStep.SCORER


@dataclass(frozen=True)
class SimilarItems:
    item_id: str
    model_version: str
    items: list[ScoredItem] = field(default_factory=list)


@dataclass(frozen=True)
class CircleAffinity:
    circle_id: str
    affinity: float
    member: bool


@dataclass(frozen=True)
class UserCircles:
    """Every circle of the catalogue with the user's affinity, highest first."""

    user_id: str
    model_version: str
    circles: list[CircleAffinity] = field(default_factory=list)
