"""Feed pages: a user's home feed and a circle feed for a user, with reasons and a cursor."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from serving.schemas.items import Reason

NEXT_CURSOR = (
    "Pass as `cursor` for the next page; null when the feed ends. Opaque and signed: it pins "
    "what this and earlier pages showed, so no page repeats an item, even across a model swap."
)


class FeedItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    item_id: str
    score: float = Field(description="The plain order's score (comparable within one page).")
    reasons: list[Reason]
    group_id: str | None = Field(
        None, description="The friend's group buy this entry offers to join, if any.")


class FeedOut(BaseModel):
    """Built from `recsys.feeds.feed.FeedPage` (`model_validate(page)`)."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    model_version: str
    page: int = Field(description="1 for the first page.")
    items: list[FeedItemOut] = Field(description="In display order.")
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class FeedPostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    post_id: str
    score: float = Field(description="The circle ranker's log-odds (comparable within a page).")
    reasons: list[Reason]
    author_id: str | None
    item_id: str | None = Field(description="The item the post is about, if any.")


class CircleFeedOut(BaseModel):
    """Built from `recsys.feeds.circle_feed.PostPage` (`model_validate(page)`)."""

    model_config = ConfigDict(from_attributes=True)

    circle_id: str
    user_id: str
    model_version: str
    page: int
    posts: list[FeedPostOut] = Field(description="Best first.")
    next_cursor: str | None = Field(description=NEXT_CURSOR)
