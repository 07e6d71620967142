"""A circle feed: the live posts of one circle, ranked for one user.

Candidates are the bundle's live posts of the circle and the posts written there since
training (the event store, `POST /v1/posts`); past `2 x pool` bundle posts, only the newest
`pool`, the `pool` most engaged and every post by the user's friends and by authors they
engaged with (at 1M users the biggest circle holds 153k posts: ranking them all took 522 ms a
page, bench/results/feed.md). The circle ranker (`recsys.feeds.circle_ranker`)
scores each from `post_features.FEATURES`: is the author a friend, how much the user engages
with the author, how close the post's item is to the user's taste, how fresh the post is and
how much it is engaged with (a bundle without a ranker orders by engagement per day). Then, as
for the home feed: hard rules (no deleted, own or already seen post, nothing an earlier page
showed), the configured re-rankers (`CircleFeedConfig.rerankers`: impressions, a cap per
author), reasons from what raised each post's score, a page and a cursor.

Engagement of bundle posts is as trained; a post written since counts the distinct users of
its stored events.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recsys.bundle.layout import csr_row, csr_row_matrix
from recsys.errors import ContractError, UnknownCircleError
from recsys.events.store import EventStore
from recsys.feeds.feed_config import CircleFeedConfig
from recsys.feeds.pages import CursorCodec, FeedKind, first_page
from recsys.feeds.post_features import FEATURES, US_PER_DAY, pair_features, user_tastes
from recsys.feeds.rerank import PageContext, compose, hard_rules
from recsys.runtime.model import RuntimeModel
from recsys.runtime.reasons import ReasonCode, reason

MAX_LIMIT = 100
_F = {name: i for i, name in enumerate(FEATURES)}


@dataclass(frozen=True)
class FeedPost:
    post_id: str
    score: float
    reasons: tuple[str, ...]
    author_id: str | None
    item_id: str | None


@dataclass(frozen=True)
class PostPage:
    """One page of a circle feed, best first; `next_cursor` None: the feed ends here."""

    circle_id: str
    user_id: str
    model_version: str
    page: int
    posts: list[FeedPost] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True)
class _Posts:
    """Candidate posts, aligned arrays (bundle posts first, then live ones)."""

    ids: np.ndarray  # object, post ids
    index: np.ndarray  # int64 the bundle's post index, -1 for a post written since
    author: np.ndarray  # int64 user index, -1 unknown to the bundle
    author_ids: np.ndarray  # object
    item: np.ndarray  # int64 item index, -1 none
    created: np.ndarray  # int64 us
    engagement: np.ndarray  # float64
    usable: np.ndarray  # bool: not deleted


class CircleFeed:
    """Pages of circle feeds over one loaded model."""

    def __init__(self, model: RuntimeModel, codec: CursorCodec,
                 config: CircleFeedConfig | None = None) -> None:
        self.model = model
        self.codec = codec
        if config is None:
            raw = model.manifest.config.get("circle_feed", {}) if model.manifest else {}
            config = CircleFeedConfig.model_validate(raw)
        self.config = config
        self.part = model.parts.post_feed
        self.circles = {c: i for i, c in enumerate(model.catalogue.ids)}

    def page(
        self,
        circle_id: str,
        user_id: str,
        limit: int,
        cursor: str | None = None,
        *,
        events: EventStore | None = None,
        shown: Mapping[str, int] | None = None,
        now_us: int | None = None,
    ) -> PostPage:
        """One page of `circle_id`'s posts for `user_id` (parameters as `Feed.page`, `shown`
        by post id); UnknownCircleError for a circle the catalogue lacks."""
        if circle_id not in self.circles:
            raise UnknownCircleError(f"circle {circle_id!r} is not in model {self.model.version}")
        if not isinstance(limit, int | np.integer) or not 1 <= limit <= MAX_LIMIT:
            raise ContractError(f"limit must be an integer in 1..{MAX_LIMIT}; got {limit!r}")
        model, config = self.model, self.config
        state = (self.codec.decode(cursor, kind=FeedKind.POSTS, viewer=user_id, circle=circle_id)
                 if cursor else first_page(FeedKind.POSTS, user_id, model.version, circle_id))
        if len(state.shown) >= config.max_depth:
            return PostPage(circle_id, user_id, model.version, state.page)
        now = time.time_ns() // 1000 if now_us is None else now_us
        u = int(model.parts.ids.users.to_index([user_id])[0])
        posts = self._candidates(self.circles[circle_id], circle_id, u, events)
        seen = self._seen(u, user_id, posts, events)
        own = (posts.author == u) & (u >= 0)
        before = state.was_shown(posts.ids) if len(state.shown) else np.zeros(len(posts.ids), bool)
        keep = hard_rules(np.arange(len(posts.ids)), allowed=posts.usable & ~seen & ~own,
                          group_open=np.ones(len(posts.ids), bool), shown_before=before)
        X = self._features(u, posts, keep, now)
        ranker = self.part.ranker
        scores = ranker.score(X) if ranker is not None else X[:, _F["log_rate"]]
        # Best first; ties: newer first.
        order = keep[np.lexsort((-posts.created[keep], -scores))]
        by_keep = np.empty(len(posts.ids), np.int64)
        by_keep[keep] = np.arange(len(keep))
        ranked_scores = scores[by_keep[order]]
        counts = shown or {}
        ctx = PageContext(
            k=limit, is_tail=np.zeros(len(posts.ids), bool),
            circle_of=np.full(len(posts.ids), -1), merchant_of=np.full(len(posts.ids), -1),
            shown=np.array([counts.get(str(posts.ids[p]), 0) for p in order], np.int64),
            exposure=None, tail_weight=0.0, max_impressions=config.max_impressions,
            circle_max_share=1.0, merchant_max=limit, author_of=self._author_codes(posts),
            author_max=config.author_max,
        )
        positions = compose(config.rerankers, order, ranked_scores, ctx)[:limit]
        contributions = (ranker.contributions(X) if ranker is not None
                         else np.zeros_like(X))
        page = []
        for at in positions:
            p = int(order[at])
            i = by_keep[p]
            page.append(FeedPost(
                str(posts.ids[p]), float(scores[i]),
                self._reasons(posts, p, X[i], contributions[i], now),
                None if posts.author_ids[p] is None else str(posts.author_ids[p]),
                None if posts.item[p] < 0
                else str(model.parts.ids.items.to_ids([posts.item[p]])[0]),
            ))
        more = len(page) == limit and len(keep) > limit
        deeper = len(state.shown) + len(page) < config.max_depth
        next_cursor = (self.codec.encode(state.after(p.post_id for p in page))
                       if more and deeper else None)
        return PostPage(circle_id, user_id, model.version, state.page, page, next_cursor)

    # -- steps ------------------------------------------------------------------------------

    def _candidates(self, c: int, circle_id: str, u: int, events: EventStore | None) -> _Posts:
        """The bundle's live posts of circle `c` (`_pooled` for user `u`), then those written
        there since training."""
        signals = self.part.signals
        parts = self.model.parts
        bundle = self._pooled(signals.posts_of(c), u)
        author = np.asarray(signals.facts.author[bundle], np.int64)
        author_ids = np.full(len(author), None, dtype=object)
        known = author >= 0
        author_ids[known] = parts.ids.users.to_ids(author[known])
        base = _Posts(
            ids=parts.posts_groups.posts.to_ids(bundle), index=np.asarray(bundle, np.int64),
            author=author, author_ids=author_ids,
            item=np.asarray(signals.facts.item[bundle], np.int64),
            created=np.asarray(signals.facts.created[bundle], np.int64),
            engagement=np.asarray(signals.engagement[bundle], np.float64),
            usable=np.ones(len(bundle), bool),
        )
        if events is None:
            return base
        live = events.circle_posts(circle_id, self.model.watermark_us)
        live = _drop_known(live, parts.posts_groups.posts.to_index(
            live["post_id"].to_numpy(zero_copy_only=False)) >= 0)
        if not live.num_rows:
            return base
        ids = live["post_id"].to_numpy(zero_copy_only=False)
        counts = events.post_engagement(list(ids))
        item_ids = live["item_id"].to_numpy(zero_copy_only=False)
        item = np.full(len(ids), -1, np.int64)
        has = np.array([i is not None for i in item_ids], bool)
        if has.any():
            item[has] = parts.ids.items.to_index(item_ids[has])
        authors = live["author_id"].to_numpy(zero_copy_only=False)
        return _Posts(
            ids=np.concatenate([base.ids, ids.astype(object)]),
            index=np.concatenate([base.index, np.full(len(ids), -1, np.int64)]),
            author=np.concatenate([base.author, parts.ids.users.to_index(authors)]),
            author_ids=np.concatenate([base.author_ids, authors.astype(object)]),
            item=np.concatenate([base.item, item]),
            created=np.concatenate([base.created, live["created_us"].to_numpy()]),
            engagement=np.concatenate([base.engagement,
                                       np.array([counts.get(i, 0) for i in ids], np.float64)]),
            usable=np.concatenate([base.usable, live["deleted"].to_numpy() == 0]),
        )

    def _pooled(self, posts: np.ndarray, u: int) -> np.ndarray:
        """`posts` (a circle's, newest first) when at most `2 x pool`; else the newest `pool`,
        the `pool` most engaged and those by the user's friends and engaged authors, in the
        same order."""
        pool = self.config.pool
        if len(posts) <= 2 * pool:
            return posts
        signals = self.part.signals
        keep = np.zeros(len(posts), bool)
        keep[:pool] = True
        engagement = np.asarray(signals.engagement[posts])
        keep[np.argpartition(-engagement, pool - 1)[:pool]] = True
        if u >= 0:
            authors = np.union1d(csr_row(self.model.parts.social.friends, u),
                                 csr_row(signals.author_affinity, u))
            if len(authors):
                keep |= np.isin(np.asarray(signals.facts.author[posts]), authors)
        return posts[keep]

    def _seen(self, u: int, user_id: str, posts: _Posts, events: EventStore | None) -> np.ndarray:
        """Posts the user acted on: in training (bundle posts) or since (stored events)."""
        seen = np.zeros(len(posts.ids), bool)
        if u >= 0:
            row = csr_row(self.part.signals.user_posts, u)
            seen |= np.isin(posts.index, row) & (posts.index >= 0)
        if events is not None:
            mine = events.user_events(user_id, self.model.watermark_us).post_ids
            mine = [p for p in mine if p is not None]
            if mine:
                seen |= np.isin(posts.ids, np.array(mine, dtype=object))
        return seen

    def _features(self, u: int, posts: _Posts, keep: np.ndarray, now_us: int) -> np.ndarray:
        parts = self.model.parts
        n_users = len(parts.ids.users)
        item_vectors = parts.scorer.model.item_vectors_
        if u >= 0:
            friends = csr_row_matrix(parts.social.friends, u)
            affinity = csr_row_matrix(self.part.signals.author_affinity, u)
            tastes = user_tastes(csr_row_matrix(parts.history.interacted, u), item_vectors)
        else:
            friends = affinity = sp.csr_matrix((1, n_users), dtype=np.float32)
            tastes = np.zeros((1, np.asarray(item_vectors).shape[1]), np.float32)
        return pair_features(
            np.zeros(len(keep), np.int64), author=posts.author[keep], item=posts.item[keep],
            created=posts.created[keep], engagement=posts.engagement[keep], now_us=now_us,
            friends=friends, affinity=affinity, tastes=tastes, item_vectors=item_vectors,
        )

    @staticmethod
    def _author_codes(posts: _Posts) -> np.ndarray:
        """Per candidate, a code per author (-1: no author known)."""
        known = np.array([a is not None for a in posts.author_ids], bool)
        codes = np.full(len(posts.ids), -1, np.int64)
        if known.any():
            _, codes[known] = np.unique(posts.author_ids[known].astype(str), return_inverse=True)
        return codes

    def _reasons(self, posts: _Posts, p: int, x: np.ndarray, contrib: np.ndarray,
                 now_us: int) -> tuple[str, ...]:
        """What raised the post's score, in the runtime's grammar; at least one."""
        author = posts.author_ids[p]
        why = []
        if x[_F["friend"]] > 0 and author is not None:
            why.append(reason(ReasonCode.FRIEND_POSTED, str(author)))
        if x[_F["author_affinity"]] > 0 and contrib[_F["author_affinity"]] > 0 \
                and author is not None:
            why.append(reason(ReasonCode.ENGAGED_WITH_AUTHOR, str(author)))
        if posts.item[p] >= 0 and contrib[_F["item_relevance"]] > 0:
            item = self.model.parts.ids.items.to_ids([posts.item[p]])[0]
            why.append(reason(ReasonCode.ABOUT_ITEM, str(item)))
        if now_us - posts.created[p] < self.config.new_post_days * US_PER_DAY:
            why.append(reason(ReasonCode.NEW_POST))
        if contrib[_F["log_engagement"]] + contrib[_F["log_rate"]] > 0 or not why:
            why.append(reason(ReasonCode.POPULAR_POST))
        return tuple(why)


def _drop_known(table: pa.Table, known: np.ndarray) -> pa.Table:
    """Live rows of posts the bundle already holds are the bundle's (it ranks those)."""
    return table.filter(pa.array(~known)) if known.any() else table
