"""The circle feed's part: posts, who engaged with them, and the ranker learned from that.

Each post's circle, author, creation time and engagement (distinct users who acted on it), the
live posts of each circle newest first, what each user already saw, how much each user engages
with each author, and the circle ranker (`recsys.feeds.circle_ranker`; absent when the data
had too few post events to learn one). The post item and deletion arrays are the groups
part's (`PostsAndGroups`), read from the same files. Posts written after training reach the
circle feed through the event store (`recsys.feeds.circle_feed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_array, load_csr, save_array, save_csr
from recsys.errors import BundleError
from recsys.features.post_engagement import PostFacts
from recsys.feeds.circle_ranker import CirclePostRanker
from recsys.feeds.post_features import PostSignals


@dataclass(frozen=True)
class PostFeed:
    """Signals over the bundle's posts (index = the post id map's) and the ranker."""

    signals: PostSignals
    ranker: CirclePostRanker | None

    def __post_init__(self) -> None:
        s = self.signals
        n_posts = len(s.facts)
        if len(s.engagement) != n_posts or s.user_posts.shape[1] != n_posts:
            raise BundleError(
                f"posts part: {n_posts} posts but engagement of {len(s.engagement)} and a seen "
                f"matrix of {s.user_posts.shape[1]} columns"
            )

    @property
    def n_posts(self) -> int:
        return len(self.signals.facts)

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        s = self.signals
        save_array(paths.path(layout.POST_CIRCLE), s.facts.circle.astype(np.int32))
        save_array(paths.path(layout.POST_AUTHOR), s.facts.author.astype(np.int64))
        save_array(paths.path(layout.POST_CREATED), s.facts.created.astype(np.int64))
        save_array(paths.path(layout.POST_ENGAGEMENT), s.engagement.astype(np.float32))
        save_array(paths.npy(layout.POST_BY_CIRCLE, "offsets"), s.circle_offsets.astype(np.int64))
        save_array(paths.npy(layout.POST_BY_CIRCLE, "posts"), s.circle_posts.astype(np.int64))
        save_csr(paths.path(layout.POST_SEEN), s.user_posts)
        save_csr(paths.path(layout.POST_AUTHOR_AFFINITY), s.author_affinity)
        if self.ranker is not None:
            self.ranker.save(paths.path(layout.CIRCLE_RANKER))

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> PostFeed:
        paths = BundleLayout(root)
        facts = PostFacts(
            circle=load_array(paths.path(layout.POST_CIRCLE), mmap=mmap),
            author=load_array(paths.path(layout.POST_AUTHOR), mmap=mmap),
            item=load_array(paths.path(layout.POST_ITEM), mmap=mmap),
            created=load_array(paths.path(layout.POST_CREATED), mmap=mmap),
            deleted=load_array(paths.path(layout.POST_DELETED), mmap=mmap),
        )
        signals = PostSignals(
            facts=facts,
            engagement=load_array(paths.path(layout.POST_ENGAGEMENT), mmap=mmap),
            user_posts=load_csr(paths.path(layout.POST_SEEN), mmap=mmap),
            author_affinity=load_csr(paths.path(layout.POST_AUTHOR_AFFINITY), mmap=mmap),
            circle_offsets=load_array(paths.npy(layout.POST_BY_CIRCLE, "offsets"), mmap=mmap),
            circle_posts=load_array(paths.npy(layout.POST_BY_CIRCLE, "posts"), mmap=mmap),
        )
        ranker_dir = paths.path(layout.CIRCLE_RANKER)
        ranker = CirclePostRanker.load(ranker_dir) if ranker_dir.is_dir() else None
        return cls(signals, ranker)
