"""Every knob of the synthetic generator, with its default.

The defaults are FROZEN: results, tests and benchmarks of later work are measured on data made with
them, so a default is never changed. New behaviour comes in as a new knob whose default keeps the
old output. `docs/synth.md` documents each knob and what it models.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field, model_validator

from recsys.config import FrozenConfig


class SynthConfig(FrozenConfig):
    """Configuration of `recsys.synth.generate` (frozen defaults; see docs/synth.md)."""

    # --- size, seed, time --------------------------------------------------------------------
    n_users: int = Field(10_000, ge=1, description="Number of users.")
    n_items: int | None = Field(
        None, ge=1, description="Number of items; None = max(50, round(n_users * items_per_user))."
    )
    items_per_user: float = Field(0.1, gt=0, description="Items per user when n_items is None.")
    seed: int = Field(0, ge=0, description="Root seed; same config -> byte-identical tables.")
    end: datetime = Field(
        datetime(2025, 1, 1, tzinfo=UTC), description="Fixed end of the log (never now())."
    )
    span_days: int = Field(366, ge=7, description="Length of the event log, ending at `end`.")
    signup_history_days: int = Field(
        730, ge=0, description="Users who joined before the log start joined in this many days."
    )
    signup_before_start_share: float = Field(
        0.6, ge=0, le=1, description="Share of users already signed up when the log starts."
    )

    # --- interests (the planted truth) ---------------------------------------------------------
    interests_per_user: float = Field(
        3.0, ge=1, description="Mean number of circles a user has interest in (1 + Poisson)."
    )
    max_interests: int = Field(8, ge=1, description="Cap on circles per user.")
    dirichlet_alpha: float = Field(
        1.0, gt=0, description="Dirichlet concentration of a user's weights over their circles."
    )
    circle_popularity_exponent: float = Field(
        0.7, ge=0, description="Zipf exponent of circle sizes (a few big circles, many small)."
    )
    member_threshold: float = Field(
        0.2,
        gt=0,
        le=1,
        description="A user is a member of a circle if its weight >= this "
        "(the top circle always counts).",
    )
    tier_boost: float = Field(
        20.0,
        ge=1,
        description="How much more an item in the user's own price tier (budget / "
        "mid / premium) is drawn than others of the circle (20 -> ~90% of in-interest actions).",
    )
    noise_share: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Share of actions ignoring interests (picked by popularity "
        "over the whole catalogue).",
    )

    # --- activity --------------------------------------------------------------------------------
    events_per_user: float = Field(10.0, gt=0, description="Mean events per user.")
    activity_sigma: float = Field(
        1.0, ge=0, description="Lognormal sigma of per-user activity (heavy users vs lurkers)."
    )
    post_event_share: float = Field(
        0.3, ge=0, le=1, description="Share of a user's events that are on posts, not items."
    )
    extra_views: float = Field(0.3, ge=0, description="Mean repeat views per item interaction.")
    like_prob: float = Field(0.2, ge=0, le=1, description="P(like) per item interaction.")
    comment_prob: float = Field(0.05, ge=0, le=1, description="P(comment) per item interaction.")
    share_prob: float = Field(0.05, ge=0, le=1, description="P(share) per item interaction.")
    purchase_prob: float = Field(0.12, ge=0, le=1, description="P(purchase) per item interaction.")
    post_like_prob: float = Field(0.15, ge=0, le=1, description="P(like) per post view.")
    post_comment_prob: float = Field(0.05, ge=0, le=1, description="P(comment) per post view.")
    post_share_prob: float = Field(0.02, ge=0, le=1, description="P(share) per post view.")
    post_affinity: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of in-interest post interactions that are personal: a post by a "
        "friend, or about an item the user would pick, instead of one by attention alone "
        "(0 keeps the output of earlier versions).",
    )

    # --- items -----------------------------------------------------------------------------------
    popularity_exponent: float = Field(
        0.8, ge=0, description="Zipf exponent of item base popularity (head vs long tail)."
    )
    head_share: float = Field(
        0.2, gt=0, lt=1, description="Top share of items by base popularity called 'head'."
    )
    group_buy_item_share: float = Field(
        0.15, ge=0, le=1, description="Share of items sold as group buys."
    )
    group_buy_tail_share: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Share of group-buy items placed in the tail (all items: 1 - head_share).",
    )
    new_item_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Share of items created during the log (the rest exist at "
        "its start); late ones are cold items.",
    )
    delisted_share: float = Field(0.03, ge=0, le=1, description="Share of items delisted.")

    # --- posts -----------------------------------------------------------------------------------
    posts_per_user: float = Field(1.0, ge=0, description="Mean posts per user.")
    posting_sigma: float = Field(
        1.5, ge=0, description="Lognormal sigma of posting propensity (few prolific authors)."
    )
    review_post_share: float = Field(
        0.4, ge=0, le=1, description="Share of posts that show off / review a bought item."
    )
    deleted_post_share: float = Field(0.02, ge=0, le=1, description="Share of posts deleted.")
    post_words: int = Field(12, ge=1, description="Mean words per post text.")
    circle_word_share: float = Field(
        0.5, ge=0, le=1, description="Share of a post's words from its circle's vocabulary."
    )

    # --- social graph ----------------------------------------------------------------------------
    friends_per_user: float = Field(8.0, ge=0, description="Mean number of friends (degree).")
    friends_sigma: float = Field(
        1.0, ge=0, description="Lognormal sigma of friend-making propensity (degree spread)."
    )
    homophily: float = Field(
        0.7, ge=0, le=1, description="Share of friendships made inside a circle of the user."
    )
    friend_delay_days: float = Field(
        30.0, gt=0, description="Mean days between the later signup and a friendship."
    )
    blocked_share: float = Field(0.01, ge=0, le=1, description="Share of users blocking someone.")
    opt_out_share: float = Field(
        0.05, ge=0, le=1, description="Share of users with share_opt_out (never share targets)."
    )

    # --- group buys ------------------------------------------------------------------------------
    group_buy_start_prob: float = Field(
        0.7,
        ge=0,
        le=1,
        description="P(a purchase of a group-buy item starts a group), if the buyer has a friend.",
    )
    group_buy_fanout: float = Field(
        4.0, ge=1, description="Mean friends an initiator shares the group with (1 + Poisson)."
    )
    join_prob_interested: float = Field(
        0.6, ge=0, le=1, description="P(join) for a friend who is a member of the item's circle."
    )
    join_prob_other: float = Field(
        0.1, ge=0, le=1, description="P(join) for any other friend shared with."
    )
    group_sizes: tuple[int, ...] = Field(
        (2, 3, 5), min_length=1, description="Target sizes (initiator included), drawn uniformly."
    )
    group_duration_hours: float = Field(24.0, gt=0, description="Deadline after creation.")

    # --- execution -------------------------------------------------------------------------------
    chunk_users: int = Field(
        100_000, ge=1, description="Users per chunk (one part file per chunk); part of the sample."
    )
    progress: bool = Field(False, description="Show a tqdm bar over chunks.")

    @model_validator(mode="after")
    def _check(self) -> SynthConfig:
        if self.end.tzinfo is None:
            raise ValueError("end must be timezone-aware (UTC)")
        if any(s < 2 for s in self.group_sizes):
            raise ValueError("group_sizes must all be >= 2 (the initiator counts)")
        return self

    @property
    def items(self) -> int:
        """The resolved number of items."""
        if self.n_items is not None:
            return self.n_items
        return max(50, round(self.n_users * self.items_per_user))
