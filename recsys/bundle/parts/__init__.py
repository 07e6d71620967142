"""The runtime model's typed parts: each one job, each saved and loaded through the layout.

Training builds every part and saves them into a bundle folder (`BundleParts.save`); the
runtime (`recsys.runtime.RuntimeModel`) loads them memory-mapped; `recsys refresh` rewrites the
item-side parts. `recsys.bundle.layout` names their files.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from pathlib import Path

from recsys.bundle.parts.activity import UserActivity
from recsys.bundle.parts.backtest import Backtest
from recsys.bundle.parts.catalogue import ItemCatalogue
from recsys.bundle.parts.circles import Circles
from recsys.bundle.parts.content import ContentMap
from recsys.bundle.parts.groups import PostsAndGroups
from recsys.bundle.parts.history import UserHistory
from recsys.bundle.parts.ids import IdMaps
from recsys.bundle.parts.indexes import Indexes
from recsys.bundle.parts.post_feed import PostFeed
from recsys.bundle.parts.ranked import RankedModel
from recsys.bundle.parts.scorer import Scorer
from recsys.bundle.parts.share import ShareTargeting
from recsys.bundle.parts.social import SocialGraph
from recsys.candidate_lists import CandidateLists
from recsys.errors import BundleError

__all__ = [
    "Backtest",
    "BundleParts",
    "CandidateLists",
    "Circles",
    "ContentMap",
    "IdMaps",
    "Indexes",
    "ItemCatalogue",
    "PostFeed",
    "PostsAndGroups",
    "RankedModel",
    "Scorer",
    "ShareTargeting",
    "SocialGraph",
    "UserActivity",
    "UserHistory",
]


@dataclass(frozen=True)
class BundleParts:
    """Every part of a trained bundle: a composition, not a model of its own."""

    ids: IdMaps
    scorer: Scorer
    #: None when the items had no usable text (`metrics.content` says why).
    content: ContentMap | None
    circles: Circles
    lists: CandidateLists
    indexes: Indexes
    catalogue: ItemCatalogue
    history: UserHistory
    social: SocialGraph
    posts_groups: PostsAndGroups
    post_feed: PostFeed
    activity: UserActivity
    #: None when the data had no group buys or friends to learn from (`metrics.share_targeting`).
    share: ShareTargeting | None = None
    #: None for data without event times (segments then have no back-tested reach).
    backtest: Backtest | None = None
    #: None when trained with ``[ranked] enabled = false``: the scorer serves everyone.
    ranked: RankedModel | None = None

    def __post_init__(self) -> None:
        n_users, n_items = len(self.ids.users), len(self.ids.items)
        sizes = {
            "scorer users": self.scorer.model.n_users_,
            "scorer items": self.scorer.model.n_items_,
            "circle rows": self.circles.affinities.shape[0],
            "catalogue items": len(self.catalogue),
            "history users": self.history.shape[0],
            "history items": self.history.shape[1],
            "social users": len(self.social.share_opt_out),
            "list items": len(self.lists.item_popularity),
            "post feed users": self.post_feed.signals.user_posts.shape[0],
            "activity users": len(self.activity),
        }
        if self.share is not None:
            sizes["share users"] = self.share.n_users
        if self.backtest is not None:
            # A refresh appends items after the cut's fit: the back-test knows fewer items.
            sizes["backtest users"] = self.backtest.n_users
        expected = {k: (n_users if "users" in k or "rows" in k else n_items) for k in sizes}
        wrong = {k: v for k, v in sizes.items() if v != expected[k]}
        if self.post_feed.n_posts != len(self.posts_groups.posts):
            wrong["post feed posts"] = self.post_feed.n_posts
        if self.backtest is not None and self.backtest.n_items > n_items:
            wrong["backtest items"] = self.backtest.n_items
        # A refresh appends items after the ranked fit, as after the back-test's.
        if self.ranked is not None and self.ranked.n_items > n_items:
            wrong["ranked items"] = self.ranked.n_items
        if wrong:
            raise BundleError(
                f"bundle parts disagree with the id maps ({n_users} users, {n_items} items): "
                f"{wrong}"
            )

    def save(self, root: str | Path, *, written: Collection[str] = ()) -> None:
        """Write every part below `root` (a bundle's temp folder) but those `written` there
        already (field names: training writes its biggest parts as soon as they are done)."""
        for f in fields(self):
            part = getattr(self, f.name)
            if part is not None and f.name not in written:
                part.save(root)

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> BundleParts:
        """Read every part; large arrays stay memory-mapped read-only with `mmap`."""
        return cls(
            ids=IdMaps.load(root),
            scorer=Scorer.load(root, mmap=mmap),
            content=ContentMap.load_optional(root),
            circles=Circles.load(root, mmap=mmap),
            lists=CandidateLists.load(root, mmap=mmap),
            indexes=Indexes.load(root, mmap=mmap),
            catalogue=ItemCatalogue.load(root, mmap=mmap),
            history=UserHistory.load(root, mmap=mmap),
            social=SocialGraph.load(root, mmap=mmap),
            posts_groups=PostsAndGroups.load(root, mmap=mmap),
            post_feed=PostFeed.load(root, mmap=mmap),
            share=ShareTargeting.load_optional(root, mmap=mmap),
            activity=UserActivity.load(root, mmap=mmap),
            backtest=Backtest.load_optional(root, mmap=mmap),
            ranked=RankedModel.load_optional(root, mmap=mmap),
        )
