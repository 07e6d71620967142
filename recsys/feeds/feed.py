"""A user's home feed: the plain order -> hard rules -> re-rankers -> reasons -> a page.

The runtime's next layer (`Feed` over a `RuntimeModel`):

1. **The plain order**: the runtime policy's ranked items (`RuntimeModel.plain_order`: the
   scorer, fold-in, the circle or global chain) for the page's pool, and the items of groups
   the user's friends started or joined since training (`RuntimeModel.group_offers`), leading.
2. **Hard rules** (`rerank.hard_rules`, always): the runtime's exclusion rule again over every
   candidate (bought, group-bought, delisted; interacted under the policy), closed or expired
   group buys, and everything the cursor says earlier pages showed.
3. **Re-rankers** in the configured order (`FeedConfig.rerankers`): items shown too often,
   the long-tail re-ranker at `tail_weight`, one circle at most half a page, a cap per merchant.
4. **Reasons**: each item keeps the reason its source gave (`similar_to:<item>`,
   `friends_joined:<n>`, ...) and gains `long_tail_pick` when the long-tail re-ranker brought
   it onto the page and `new_item` when it is new to the catalogue.
5. **A page** of `limit` items and a cursor for the next (`recsys.feeds.pages`).

The config and `tail_weight` are the bundle's: `[feed]` of the recipe it was trained with and
the weight training picked on validation (manifest `metrics.feed.tail_weight`); a config given
here overrides both. Users the policy serves from a chain (no item history, or an unknown id)
get the weight training picked for the chain (`metrics.feed.cold.tail_weight`,
`recsys.training.feed_step.cold_tail_weight`): the chain's popularity scores fall so steeply
that the scorer's weight would cost them far more accuracy. One `Feed` serves many threads
(all state is read-only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from recsys.bundle.layout import csr_row_matrix
from recsys.errors import ContractError
from recsys.events.store import EventStore
from recsys.feeds.feed_config import FeedConfig
from recsys.feeds.long_tail import Exposure, ExposurePriors
from recsys.feeds.pages import CursorCodec, FeedKind, first_page
from recsys.feeds.rerank import PageContext, compose, hard_rules
from recsys.runtime.answers import PolicyStep
from recsys.runtime.model import RuntimeModel, UserView
from recsys.runtime.reasons import ReasonCode, reason

logger = logging.getLogger(__name__)

US_PER_DAY = 86_400 * 1_000_000
#: The most items one page may ask for.
MAX_LIMIT = 100


@dataclass(frozen=True)
class FeedItem:
    """One entry of a page; `group_id` names the group buy it offers to join, if any."""

    item_id: str
    score: float
    reasons: tuple[str, ...]
    group_id: str | None = None


@dataclass(frozen=True)
class FeedPage:
    """One page of a user's feed, in display order; `next_cursor` None: the feed ends here."""

    user_id: str
    model_version: str
    page: int
    items: list[FeedItem] = field(default_factory=list)
    next_cursor: str | None = None
    step: PolicyStep = PolicyStep.SCORER


def feed_settings(model: RuntimeModel, config: FeedConfig | None = None) -> tuple[FeedConfig,
                                                                                    float]:
    """The feed config and tail weight a bundle serves with: `config` if given, else the
    bundle's `[feed]`; its `tail_weight`, else the one training picked (0 if none)."""
    manifest = model.manifest
    if config is None:
        raw = manifest.config.get("feed", {}) if manifest is not None else {}
        config = FeedConfig.model_validate(raw)
    if config.tail_weight is not None:
        return config, float(config.tail_weight)
    picked = manifest.metric("feed.tail_weight") if manifest is not None else None
    if picked is None:
        logger.warning("bundle %s records no tail_weight: the feed serves the plain order's "
                       "head/tail mix (tail_weight 0)", model.version)
    return config, float(picked or 0.0)


#: The policy steps that serve a chain rather than a model's scores.
CHAIN_STEPS = frozenset({PolicyStep.CIRCLE_CHAIN, PolicyStep.GLOBAL_CHAIN})


def chain_tail_weight(model: RuntimeModel, config: FeedConfig, tail_weight: float) -> float:
    """The tail weight for users served a chain: `config.cold_tail_weight` if set, else the
    config's explicit `tail_weight`, else the one training picked for the chain, else
    `tail_weight` (bundles trained before that pick)."""
    if config.cold_tail_weight is not None:
        return float(config.cold_tail_weight)
    if config.tail_weight is not None:
        return float(config.tail_weight)
    picked = model.manifest.metric("feed.cold.tail_weight") if model.manifest is not None else None
    return tail_weight if picked is None else float(picked)


class Feed:
    """Pages of a user's feed over one loaded model (see the module docstring)."""

    def __init__(
        self, model: RuntimeModel, codec: CursorCodec, config: FeedConfig | None = None
    ) -> None:
        self.model = model
        self.codec = codec
        self.config, self.tail_weight = feed_settings(model, config)
        self.chain_tail_weight = chain_tail_weight(model, self.config, self.tail_weight)
        parts = model.parts
        lists = parts.lists
        self.is_tail = ~np.asarray(lists.is_head, dtype=bool)
        catalogue = parts.catalogue
        #: The catalogue's tail and group-buy shares (an average user's appetites are 1).
        self.priors = ExposurePriors.from_lists(
            lists, np.asarray(catalogue.is_group_buy, bool),
            strength=self.config.tail_prior_strength)
        self.circle_of = np.asarray(catalogue.circle_idx, dtype=np.int64)
        merchants = catalogue.text.column("merchant_id").combine_chunks().dictionary_encode()
        codes = merchants.indices.to_numpy(zero_copy_only=False)
        self.merchant_of = np.where(merchants.is_null().to_numpy(zero_copy_only=False), -1,
                                    codes).astype(np.int64)
        self.created = np.asarray(catalogue.created_ts, dtype=np.int64)
        self.new_since_us = model.watermark_us - int(self.config.new_item_days * US_PER_DAY)

    def page(
        self,
        user_id: str,
        limit: int,
        cursor: str | None = None,
        *,
        events: EventStore | None = None,
        shown: Mapping[str, int] | None = None,
        now_us: int | None = None,
    ) -> FeedPage:
        """One page of `user_id`'s feed.

        Parameters
        ----------
        cursor : the `next_cursor` of the previous page (None: the first page);
            InvalidCursorError when it is altered or another user's.
        events : the store of live rows (fold-in, live exclusions, friends' group buys).
        shown : item id -> times the impression log shows it to this user (frequency cap).
        now_us : the page's time (default now): decides whether a group's deadline passed.
        """
        if not isinstance(limit, int | np.integer) or not 1 <= limit <= MAX_LIMIT:
            raise ContractError(f"limit must be an integer in 1..{MAX_LIMIT}; got {limit!r}")
        model, config = self.model, self.config
        state = (self.codec.decode(cursor, kind=FeedKind.ITEMS, viewer=user_id)
                 if cursor else first_page(FeedKind.ITEMS, user_id, model.version))
        if len(state.shown) >= config.max_depth:
            return FeedPage(user_id, model.version, state.page)
        n_items = len(model.parts.ids.items)
        plain = model.plain_order(user_id, min(n_items, config.pool + len(state.shown)),
                                  events=events)
        now = time.time_ns() // 1000 if now_us is None else now_us
        cand = self._candidates(plain.items, plain.scores, plain.reasons, plain.view, events, now)
        names = model.parts.ids.items.to_ids(cand.items)
        allowed = model.keep_for(plain.view)(cand.items)
        before = state.was_shown(names) if len(state.shown) else np.zeros(len(names), bool)
        keep = hard_rules(cand.items, allowed=allowed, group_open=cand.group_open,
                          shown_before=before)
        keep = self._cap_group_offers(keep, cand.group_ids)
        items, scores = cand.items[keep], cand.scores[keep]
        counts = shown or {}
        ctx = PageContext(
            k=limit, is_tail=self.is_tail, circle_of=self.circle_of,
            merchant_of=self.merchant_of,
            shown=np.array([counts.get(str(names[i]), 0) for i in keep], dtype=np.int64),
            exposure=self._exposure(plain.view),
            tail_weight=(self.chain_tail_weight if plain.view.step in CHAIN_STEPS
                         else self.tail_weight),
            max_impressions=config.max_impressions, circle_max_share=config.circle_max_share,
            merchant_max=config.merchant_max,
        )
        order = compose(config.rerankers, items, scores, ctx)[:limit]
        picked = self._long_tail_picks(order, items, scores, ctx)
        page = []
        for at in order:
            i = keep[at]
            why = list(cand.reasons[i])
            item = int(cand.items[i])
            if at in picked:
                why.append(reason(ReasonCode.LONG_TAIL_PICK))
            if self.created[item] >= self.new_since_us:
                why.append(reason(ReasonCode.NEW_ITEM))
            page.append(FeedItem(str(names[i]), float(cand.scores[i]), tuple(why),
                                 cand.group_ids[i]))
        more = len(order) == limit and len(keep) > limit
        deeper = len(state.shown) + len(page) < config.max_depth
        next_cursor = (self.codec.encode(state.after(p.item_id for p in page))
                       if more and deeper else None)
        return FeedPage(user_id, model.version, state.page, page, next_cursor, plain.view.step)

    # -- steps ------------------------------------------------------------------------------

    def _candidates(
        self, items: np.ndarray, scores: np.ndarray, reasons: list[str], view: UserView,
        events: EventStore | None, now_us: int,
    ) -> _Candidates:
        """Friends' group offers (unfiltered; leading) then the plain order without them."""
        plain_reasons = [(r,) for r in reasons]
        if events is None or not self.model.policy.live_groups or view.u < 0:
            return _Candidates(items, scores, plain_reasons, [None] * len(items),
                               np.ones(len(items), bool))
        offers = self.model.group_offers(view, events, now_us)
        if not len(offers.items):
            return _Candidates(items, scores, plain_reasons, [None] * len(items),
                               np.ones(len(items), bool))
        rest = ~np.isin(items, offers.items)
        head = float(scores.max()) if len(scores) else 0.0
        lead = head + (len(offers.items) - np.arange(len(offers.items)))
        return _Candidates(
            np.concatenate([offers.items, items[rest]]),
            np.concatenate([lead, scores[rest]]),
            list(offers.reasons) + [plain_reasons[i] for i in np.flatnonzero(rest)],
            list(offers.groups) + [None] * int(rest.sum()),
            np.concatenate([offers.open, np.ones(int(rest.sum()), bool)]),
        )

    def _long_tail_picks(self, order: np.ndarray, items: np.ndarray, scores: np.ndarray,
                         ctx: PageContext) -> set[int]:
        """Positions of tail items on the page that the page without the long-tail re-ranker
        would not hold: what `long_tail_pick` names."""
        chain = self.config.rerankers
        if "long_tail" not in chain or ctx.tail_weight <= 0:
            return set()
        without = compose(tuple(r for r in chain if r != "long_tail"), items, scores, ctx)
        brought = np.setdiff1d(order, without[: len(order)])
        return {int(a) for a in brought if self.is_tail[items[a]]}

    def _cap_group_offers(self, keep: np.ndarray, group_ids: list[str | None]) -> np.ndarray:
        """At most `policy.live_groups` group offers survive (the best, already first)."""
        is_offer = np.array([group_ids[i] is not None for i in keep], dtype=bool)
        if not is_offer.any():
            return keep
        over = np.flatnonzero(is_offer)[self.model.policy.live_groups:]
        return np.delete(keep, over)

    def _exposure(self, view: UserView) -> Exposure:
        """The user's appetites from their row plus live events (1: no history)."""
        history = self.model.parts.history
        base = csr_row_matrix(history.interacted, view.u) if view.u >= 0 else None
        row = view.fresh.row(base, history.shape[1]) if view.fresh else base
        if row is None:
            row = sp.csr_matrix((1, history.shape[1]), dtype=np.float32)
        return self.priors.for_users(sp.csr_matrix(row))


@dataclass(frozen=True)
class _Candidates:
    """A page's candidates before the hard rules, aligned arrays and lists."""

    items: np.ndarray
    scores: np.ndarray
    reasons: list[tuple[str, ...]]
    group_ids: list[str | None]
    group_open: np.ndarray
