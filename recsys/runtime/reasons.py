"""Why an item is in an answer, as short machine-readable strings: ``code`` or ``code:arg``.

The code says which source put the item there, the argument names what it came from (an item
id for `similar_to`, a circle id for the circle lists). One enum for every source; later
sources add their codes here. Everything after the first ``:`` is the argument, so ids may
contain colons.
"""

from __future__ import annotations

from enum import StrEnum

from recsys.errors import ContractError


class ReasonCode(StrEnum):
    #: The scorer ranked it; the argument is the user's history item closest to it.
    SIMILAR_TO = "similar_to"
    #: Among the most popular items of a circle the user is placed in (argument: circle id).
    POPULAR_IN_CIRCLE = "popular_in_circle"
    #: Rising in a circle the user is placed in (argument: circle id).
    TRENDING_IN_CIRCLE = "trending_in_circle"
    #: Among the most popular items of the whole catalogue.
    POPULAR = "popular"
    #: Rising in the whole catalogue.
    TRENDING = "trending"
    #: A friend opened a group buy of it since the model was trained (argument: group id).
    FRIEND_STARTED_GROUP = "friend_started_group"
    #: This many friends joined a group buy of it since the model was trained (argument: n).
    FRIENDS_JOINED = "friends_joined"
    #: A long-tail item the feed's long-tail re-ranker brought onto the page (recsys.feeds).
    LONG_TAIL_PICK = "long_tail_pick"
    #: An item added to the catalogue shortly before (or since) the model was trained.
    NEW_ITEM = "new_item"
    #: Circle feed: a friend wrote the post (argument: the author's user id).
    FRIEND_POSTED = "friend_posted"
    #: Circle feed: the user often engages with this author's posts (argument: user id).
    ENGAGED_WITH_AUTHOR = "engaged_with_author"
    #: Circle feed: the post is about an item close to the user's interests (argument: item id).
    ABOUT_ITEM = "about_item"
    #: Circle feed: a recent post.
    NEW_POST = "new_post"
    #: Circle feed: a post many users engaged with.
    POPULAR_POST = "popular_post"
    #: Share targets: the friend joined this many of the user's earlier group buys (argument: n).
    OFTEN_JOINS_YOUR_GROUPS = "often_joins_your_groups"
    #: Share targets: the friend is drawn to the item's circle (argument: circle id).
    LIKES_CIRCLE = "likes_circle"


#: Codes that carry an argument, and what the argument names.
ARGUMENTS: dict[ReasonCode, str] = {
    ReasonCode.SIMILAR_TO: "item_id",
    ReasonCode.POPULAR_IN_CIRCLE: "circle_id",
    ReasonCode.TRENDING_IN_CIRCLE: "circle_id",
    ReasonCode.FRIEND_STARTED_GROUP: "group_id",
    ReasonCode.FRIENDS_JOINED: "count",
    ReasonCode.FRIEND_POSTED: "user_id",
    ReasonCode.ENGAGED_WITH_AUTHOR: "user_id",
    ReasonCode.ABOUT_ITEM: "item_id",
    ReasonCode.OFTEN_JOINS_YOUR_GROUPS: "count",
    ReasonCode.LIKES_CIRCLE: "circle_id",
}


def reason(code: ReasonCode, arg: str | None = None) -> str:
    """Format one reason; a code that takes an argument must get one, others none."""
    if (code in ARGUMENTS) != (arg is not None):
        want = f"a {ARGUMENTS[code]}" if code in ARGUMENTS else "no argument"
        raise ContractError(f"reason {code.value!r} takes {want}; got {arg!r}")
    return code.value if arg is None else f"{code.value}:{arg}"


def parse_reason(text: str) -> tuple[ReasonCode, str | None]:
    """The code and argument of a formatted reason; ContractError if it is not one."""
    head, sep, arg = text.partition(":")
    try:
        code = ReasonCode(head)
    except ValueError:
        known = [c.value for c in ReasonCode]
        raise ContractError(f"unknown reason code {head!r} in {text!r}; known: {known}") from None
    if (code in ARGUMENTS) != bool(sep and arg):
        raise ContractError(f"malformed reason {text!r}: expected {reason_grammar(code)}")
    return code, (arg if sep else None)


def reason_grammar(code: ReasonCode) -> str:
    return f"{code.value}:<{ARGUMENTS[code]}>" if code in ARGUMENTS else code.value
