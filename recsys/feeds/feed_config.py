"""The feed's typed config: the `[feed]` section of the recipe (`pipelines/configs/default.toml`
shows every key with its default and says why).

Training records it in the bundle's manifest with the `tail_weight` it picked on validation;
the feed (`recsys.feeds.feed`) reads both from the bundle it serves.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from recsys.config import FrozenConfig

RerankerName = Literal["overexposed", "long_tail", "circle_diversity", "merchant_cap"]
PostRerankerName = Literal["overexposed", "author_cap"]
DEFAULT_RERANKERS: tuple[RerankerName, ...] = (
    "overexposed", "long_tail", "circle_diversity", "merchant_cap"
)
#: The tail weights training tries on validation (`recsys.feeds.tail_weight`).
DEFAULT_GRID: tuple[float, ...] = tuple(round(0.02 * i, 2) for i in range(51))


class FeedConfig(FrozenConfig):
    """The plain order -> hard rules -> these re-rankers, in this order -> reasons -> pages."""

    rerankers: tuple[RerankerName, ...] = Field(
        DEFAULT_RERANKERS, description="the re-ranking chain after the hard rules, in order")
    tail_weight: float | None = Field(
        None, ge=0,
        description="the long-tail knob; None: the value training picked on validation")
    cold_tail_weight: float | None = Field(
        None, ge=0,
        description="the long-tail knob for users served a chain (no item history, unknown "
                    "ids); None: tail_weight if set, else the value training picked for them")
    tail_weight_grid: tuple[float, ...] = Field(
        DEFAULT_GRID, min_length=1, description="tail weights tried on validation")
    max_ndcg_loss: float = Field(
        0.05, ge=0, lt=1,
        description="the picked tail_weight is the largest costing at most this relative NDCG@10")
    tail_prior_strength: float = Field(
        20.0, ge=0, description="pseudo-weight of the catalogue's mix in a user's appetites")
    max_impressions: int = Field(
        5, ge=0, description="an item the impression log shows this often is out (0: off)")
    circle_max_share: float = Field(
        0.5, gt=0, le=1, description="at most this share of a page from one circle")
    merchant_max: int = Field(3, ge=1, description="at most this many items of one merchant")
    pool: int = Field(500, ge=1, description="candidates taken from the plain order per page")
    new_item_days: float = Field(
        14.0, ge=0, description="items created this many days before the data's end are new")
    max_depth: int = Field(
        500, ge=1, description="items a cursor can pin; the feed ends after them")

    @field_validator("tail_weight_grid")
    @classmethod
    def _grid_in_range(cls, grid: tuple[float, ...]) -> tuple[float, ...]:
        if any(w < 0 for w in grid) or 0.0 not in grid:
            raise ValueError(f"tail weights must be >= 0 and include 0; got {list(grid)}")
        return tuple(sorted(set(grid)))

    @field_validator("rerankers")
    @classmethod
    def _unique(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(names)) != len(names):
            raise ValueError(f"each re-ranker at most once; got {list(names)}")
        return names


class CircleFeedConfig(FrozenConfig):
    """The circle feed (`recsys.feeds.circle_feed`): its ranker's training and its pages."""

    rerankers: tuple[PostRerankerName, ...] = Field(
        ("overexposed", "author_cap"), description="the chain after the hard rules, in order")
    author_max: int = Field(2, ge=1, description="at most this many posts of one author a page")
    max_impressions: int = Field(
        5, ge=0, description="a post the impression log shows this often is out (0: off)")
    label_share: float = Field(
        0.2, gt=0, lt=1, description="the last share of the training time the ranker learns from")
    negatives: int = Field(20, ge=1, description="unseen posts of the circle drawn per positive")
    min_positives: int = Field(
        50, ge=1, description="fewer positives: no ranker (the feed orders by engagement rate)")
    C: float = Field(1.0, gt=0, description="inverse L2 penalty of the logistic ranker")
    new_post_days: float = Field(3.0, ge=0, description="posts younger than this are new")
    max_depth: int = Field(500, ge=1, description="posts a cursor can pin")
    pool: int = Field(
        2000, ge=1,
        description="a circle's candidates: its newest `pool` posts, its `pool` most engaged, "
                    "and every post by the user's friends and by authors they engaged with")

    @field_validator("rerankers")
    @classmethod
    def _unique(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(names)) != len(names):
            raise ValueError(f"each re-ranker at most once; got {list(names)}")
        return names
