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


@dataclass(frozen=True)
class ShareTarget:
    """One friend to share a group buy with: ranking score, join probability, reasons."""

    user_id: str
    score: float
    join_probability: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Completion:
    """The chance the group buy completes (None without a target size or a completion model)
    and what it was computed from."""

    chance: float | None
    target_size: int | None
    hours_to_deadline: float | None
    expected_joiners: float
    joined: int


@dataclass(frozen=True)
class ShareTargets:
    """Whom to share a group buy with, best first; `post_circles` (circle ids) is empty unless
    the user has few contacts for it."""

    user_id: str
    item_id: str
    group_id: str | None
    model_version: str
    targets: list[ShareTarget]
    completion: Completion
    post_circles: list[str] = field(default_factory=list)
