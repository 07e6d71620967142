"""The runtime model: what feed services and merchants call (docs/runtime.md).

    model = RuntimeModel.load("models/<version>")
    model.recommend("u42", limit=20)      # Recommendations, by the policy
    model.similar_items("i7", limit=10)   # SimilarItems
    model.user_circles("u42")             # UserCircles
    model.share_targets("u42", "i7")      # ShareTargets: friends to share a group buy with
"""

from recsys.runtime.answers import (
    CircleAffinity,
    Completion,
    PolicyStep,
    Recommendations,
    ScoredItem,
    ShareTarget,
    ShareTargets,
    SimilarItems,
    UserCircles,
)
from recsys.runtime.exclusion import ExclusionRule
from recsys.runtime.model import RuntimeModel
from recsys.runtime.policy import RuntimePolicy
from recsys.runtime.reasons import ReasonCode

__all__ = [
    "CircleAffinity",
    "Completion",
    "ExclusionRule",
    "PolicyStep",
    "ReasonCode",
    "Recommendations",
    "RuntimeModel",
    "RuntimePolicy",
    "ScoredItem",
    "ShareTarget",
    "ShareTargets",
    "SimilarItems",
    "UserCircles",
]
