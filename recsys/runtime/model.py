"""The runtime model: a loaded bundle that answers feeds, similar items and circles.

Every call reads shared, read-only state (memory-mapped arrays, a fitted scorer) and allocates
its own results, so one loaded model serves many threads at once. Who gets which source is
`recsys.runtime.policy`; what is never shown is `recsys.runtime.exclusion`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recsys.bundle.bundle import Bundle
from recsys.bundle.layout import csr_row, csr_row_matrix
from recsys.bundle.manifest import Manifest
from recsys.bundle.parts import BundleParts
from recsys.circles import CircleCatalogue
from recsys.errors import (
    BundleError,
    ContractError,
    UnavailableError,
    UnknownItemError,
    UnknownUserError,
)
from recsys.events.references import References
from recsys.events.store import EventStore
from recsys.recommenders.base import Recommender
from recsys.runtime.answers import (
    CircleAffinity,
    PolicyStep,
    Recommendations,
    ScoredItem,
    ShareTargets,
    SimilarItems,
    UserCircles,
)
from recsys.runtime.exclusion import ExclusionRule
from recsys.runtime.fold_in import FoldIn, FreshHistory, fresh_history
from recsys.runtime.live_groups import GroupOffers, friend_group_offers, live_group_candidates
from recsys.runtime.policy import (
    KeepFn,
    RuntimePolicy,
    choose_step,
    circle_chain,
    global_chain,
    placed_circles,
)
from recsys.runtime.reasons import ReasonCode, reason
from recsys.runtime.share_targets import ShareTargetsRuntime

logger = logging.getLogger(__name__)

#: History items compared with each scored item to name the closest (`similar_to`): the
#: user's heaviest ones, so a long history costs a bounded (k x this) product.
MAX_HISTORY_FOR_REASONS = 256


@dataclass(frozen=True)
class UserView:
    """One user as the model sees them at request time: row, live events, exclusions, step."""

    user_id: str
    u: int  # dense index, -1 when the bundle does not know the id
    fresh: FreshHistory | None
    interacted: np.ndarray  # item indices interacted with (training row and live events)
    purchased: np.ndarray  # item indices bought or group-bought (always excluded)
    circles: np.ndarray  # placed circles, highest affinity first
    step: PolicyStep


@dataclass(frozen=True)
class PlainOrder:
    """The policy's ranked items for one user, as arrays, before friends' live groups."""

    view: UserView
    items: np.ndarray  # (m,) int64 item indices, best first
    scores: np.ndarray  # (m,) float64
    reasons: list[str]  # one formatted reason per item


class RuntimeModel:
    """A bundle's parts plus the policy; construct with `RuntimeModel.load`."""

    def __init__(
        self,
        parts: BundleParts,
        version: str,
        policy: RuntimePolicy | None = None,
        *,
        watermark: datetime | None = None,
        manifest: Manifest | None = None,
        share_skipped: str | None = None,
    ):
        self.parts = parts
        self.version = version
        #: The bundle's manifest (config, metrics: what the feed reads), when loaded from one.
        self.manifest = manifest
        self.policy = policy or RuntimePolicy()
        #: Events at or before this time (epoch microseconds) are in the model already.
        self.watermark_us = -1 if watermark is None else int(watermark.timestamp() * 1_000_000)
        self.fold_in = FoldIn.for_scorer(parts.scorer.model)
        #: The recommender of known users with history (None: the shipped scorer serves them).
        self.ranked = (
            parts.ranked.model if parts.ranked is not None and self.policy.ranked else None
        )
        self.exclusion = ExclusionRule(exclude_interacted=self.policy.exclude_interacted)
        self._share = (
            ShareTargetsRuntime(parts, self.policy) if parts.share is not None else None
        )
        self._share_skipped = share_skipped
        listed = np.asarray(parts.catalogue.listed, dtype=bool)
        self._listed = listed
        self._unlisted = np.flatnonzero(~listed)
        # pandas builds an index's hash table on first lookup; build both here, before any
        # thread shares the model, so no two requests race to build them.
        for idmap in (parts.ids.users, parts.ids.items, parts.posts_groups.posts,
                      parts.posts_groups.groups):
            idmap.to_index([""])

    @classmethod
    def load(
        cls, path: str | Path, *, policy: RuntimePolicy | None = None, verify: bool = True
    ) -> RuntimeModel:
        """Open a bundle folder, checking it first (unless `verify` is False), and load its
        parts memory-mapped. Raises BundleError for a corrupt, partial or incompatible bundle."""
        bundle = Bundle.open(path, verify=verify)
        try:
            parts = BundleParts.load(bundle.root, mmap=True)
        except (FileNotFoundError, KeyError, ValueError) as exc:
            raise BundleError(f"{bundle.root}: cannot load the bundle's parts: {exc}") from exc
        logger.info(
            "runtime model %s: %d users, %d items", bundle.version, len(parts.ids.users),
            len(parts.ids.items),
        )
        skipped = (bundle.manifest.metrics.get("share_targeting") or {}).get("skipped")
        return cls(parts, bundle.version, policy, watermark=bundle.manifest.data_watermark,
                   manifest=bundle.manifest, share_skipped=skipped)  # fmt: skip

    @property
    def catalogue(self) -> CircleCatalogue:
        """The circle catalogue the bundle was trained with."""
        return self.parts.circles.catalogue

    # -- lookups ----------------------------------------------------------------------------

    def _user(self, user_id: str) -> int:
        """Dense index of a user id, -1 when the bundle does not know it."""
        return int(self.parts.ids.users.to_index([user_id])[0])

    def _item(self, item_id: str) -> int:
        idx = int(self.parts.ids.items.to_index([item_id])[0])
        if idx < 0:
            raise UnknownItemError(f"item {item_id!r} is not in model {self.version}")
        return idx

    @staticmethod
    def _check_limit(limit: int) -> None:
        if not isinstance(limit, int | np.integer) or limit < 1:
            raise ContractError(f"limit must be a positive integer; got {limit!r}")

    # -- answers ----------------------------------------------------------------------------

    def recommend(
        self,
        user_id: str,
        limit: int,
        *,
        events: EventStore | None = None,
        now_us: int | None = None,
    ) -> Recommendations:
        """Up to `limit` items for `user_id`, by the policy (`recsys.runtime.policy`).

        `events`: the store of live rows; the user's events after the watermark are folded
        in and excluded, and friends' live group buys lead the answer. `now_us`: the answer's
        time (default now), which decides whether a live group's deadline has passed.
        """
        self._check_limit(limit)
        plain = self.plain_order(user_id, limit, events=events)
        items = self._answer(plain.items, plain.scores, plain.reasons)
        if events is not None and plain.view.u >= 0 and self.policy.live_groups:
            items = self._with_live_groups(plain.view, items, events, limit, now_us)
        return Recommendations(user_id, self.version, items, plain.view.step)

    def view(self, user_id: str, events: EventStore | None = None) -> UserView:
        """Who `user_id` is to this model now (live events folded into their exclusions);
        UnknownUserError for an unknown id without live events under ``not_found``."""
        u = self._user(user_id)
        fresh = self._fresh(user_id, events)
        if u < 0 and not fresh and self.policy.unknown_user == "not_found":
            raise UnknownUserError(f"user {user_id!r} is not in model {self.version}")
        history = self.parts.history
        interacted = csr_row(history.interacted, u) if u >= 0 else np.empty(0, np.int64)
        purchased = csr_row(history.purchased, u) if u >= 0 else np.empty(0, np.int64)
        if fresh:
            interacted = np.union1d(interacted, fresh.items)
            purchased = np.union1d(purchased, fresh.purchased)
        circles = self._placed_circles(u) if u >= 0 else np.empty(0, np.int64)
        step = choose_step(
            known=u >= 0, has_history=u >= 0 and history.has_history(u), placed=len(circles) > 0,
            fresh=bool(fresh), can_fold_in=self.fold_in is not None,
            ranked=self.ranked is not None,
        )
        return UserView(user_id, u, fresh, np.asarray(interacted, np.int64),
                        np.asarray(purchased, np.int64), circles, step)

    def keep_for(self, view: UserView) -> KeepFn:
        """The exclusion rule for one user, over candidate item indices."""

        def keep(candidates: np.ndarray) -> np.ndarray:
            return self.exclusion.keep(
                candidates, listed=self._listed, interacted=view.interacted,
                purchased=view.purchased,
            )

        return keep

    def plain_order(
        self, user_id: str, n: int, *, events: EventStore | None = None
    ) -> PlainOrder:
        """Up to `n` items by the policy's step, under the exclusion rule, with reasons: what
        `recommend` answers before friends' live groups, and what a feed re-ranks."""
        self._check_limit(n)
        view = self.view(user_id, events)
        keep = self.keep_for(view)
        u = view.u
        if view.step in (PolicyStep.RANKED, PolicyStep.SCORER, PolicyStep.FOLD_IN):
            items, scores, reasons = self._scored(u, n, view.fresh, view.purchased, view.step)
        elif view.step is PolicyStep.CIRCLE_CHAIN:
            affinity = np.asarray(self.parts.circles.affinities[u])
            items, scores, reasons = circle_chain(
                view.circles, affinity, self.catalogue.ids, self.parts.lists, keep, n,
                circle_boost=self.policy.circle_boost,
            )
        else:
            items, scores, reasons = global_chain(self.parts.lists, keep, n)
        return PlainOrder(view, np.asarray(items, np.int64), np.asarray(scores, np.float64),
                          list(reasons))

    def group_offers(
        self, view: UserView, events: EventStore, now_us: int | None = None
    ) -> GroupOffers:
        """Every group the user's friends started or joined since the watermark, one per item,
        unfiltered (`live_groups.friend_group_offers`); none for an unknown user."""
        found = self._friend_activity(view, events)
        if found is None:
            return GroupOffers([], np.empty(0, np.int64), np.empty(0, bool), [])
        activity, groups = found
        now = time.time_ns() // 1000 if now_us is None else now_us
        return friend_group_offers(activity, groups, self.parts.ids.items, now_us=now)

    def _fresh(self, user_id: str, events: EventStore | None) -> FreshHistory | None:
        """The user's live events after the watermark as item confidence (None: none)."""
        if events is None:
            return None
        found = events.user_events(user_id, self.watermark_us)
        if not len(found):
            return None
        fresh = fresh_history(
            found, self.parts.ids.items, self.parts.posts_groups,
            self.parts.scorer.model.config.interactions,
        )
        return fresh if fresh else None

    def _friend_activity(
        self, view: UserView, events: EventStore
    ) -> tuple[pa.Table, pa.Table] | None:
        """The friends' group events since the watermark and those groups' facts (None when
        the user has no friends or they did nothing)."""
        if view.u < 0:
            return None
        friends = self.parts.ids.users.to_ids(csr_row(self.parts.social.friends, view.u))
        if not len(friends):
            return None
        activity = events.group_events([str(f) for f in friends], self.watermark_us)
        if not activity.num_rows:
            return None
        groups = References(self.parts, events).groups(activity["group_id"].to_pylist())
        return activity, groups

    def _with_live_groups(
        self, view: UserView, items: list[ScoredItem], events: EventStore, limit: int,
        now_us: int | None,
    ) -> list[ScoredItem]:
        """Friends' live group buys first, then the answer without their items."""
        found = self._friend_activity(view, events)
        if found is None:
            return items
        activity, groups = found
        now = time.time_ns() // 1000 if now_us is None else now_us
        live = live_group_candidates(
            activity, groups, self.parts.ids.items, self.keep_for(view), now_us=now,
            n=min(self.policy.live_groups, limit),
        )
        if not len(live.items):
            return items
        names = self.parts.ids.items.to_ids(live.items)
        head = max((i.score for i in items), default=0.0)
        lead = [
            ScoredItem(str(n), head + float(len(names) - r), why)
            for r, (n, why) in enumerate(zip(names, live.reasons, strict=True))
        ]
        taken = set(names.tolist())
        return (lead + [i for i in items if i.item_id not in taken])[:limit]

    def share_targets(
        self,
        user_id: str,
        item_id: str,
        *,
        group_id: str | None = None,
        target_size: int | None = None,
        deadline_us: int | None = None,
        limit: int = 10,
        suggested: Mapping[str, int] | None = None,
        events: EventStore | None = None,
        now_us: int | None = None,
    ) -> ShareTargets:
        """Friends of `user_id` to share a group buy of `item_id` with, best first, with
        reasons, the chance the group completes and, for few contacts, circles to post in
        (`recsys.runtime.share_targets`).

        `suggested`: friend id -> times already suggested to this user within the policy's
        `share_cap_window_days` (the impression log's counts); friends at the policy's
        `share_max_suggestions` are not shown. `events`: the live store (group members and
        friends' group buys since the bundle). `deadline_us`, `now_us`: epoch microseconds.
        Raises UnavailableError for a bundle without share targeting, UnknownUserError /
        UnknownItemError / UnknownGroupError for unknown ids.
        """
        self._check_limit(limit)
        if self._share is None:
            why = self._share_skipped or "the bundle has no share-targeting part"
            raise UnavailableError(f"model {self.version} cannot answer share targets: {why}")
        u = self._user(user_id)
        if u < 0:
            raise UnknownUserError(f"user {user_id!r} is not in model {self.version}")
        return self._share.answer(
            u, self._item(item_id), version=self.version, group_id=group_id,
            target_size=target_size, deadline_us=deadline_us, limit=limit, suggested=suggested,
            now_us=time.time_ns() // 1000 if now_us is None else now_us, events=events,
            watermark_us=self.watermark_us,
        )  # fmt: skip

    def similar_items(self, item_id: str, limit: int) -> SimilarItems:
        """Up to `limit` listed items closest to `item_id` by the scorer's item vectors."""
        self._check_limit(limit)
        idx = self._item(item_id)
        ids, scores = self.parts.scorer.model.similar_items(
            [idx], limit, exclude_items=self._unlisted
        )
        why = (reason(ReasonCode.SIMILAR_TO, item_id),)
        found = ids[0] >= 0
        names = self.parts.ids.items.to_ids(ids[0][found])
        items = [
            ScoredItem(str(n), float(s), why) for n, s in zip(names, scores[0][found], strict=True)
        ]
        return SimilarItems(item_id, self.version, items)

    def user_circles(self, user_id: str) -> UserCircles:
        """Every circle with the user's affinity and membership, highest affinity first."""
        u = self._user(user_id)
        if u < 0:
            raise UnknownUserError(f"user {user_id!r} is not in model {self.version}")
        affinity = np.asarray(self.parts.circles.affinities[u], dtype=np.float64)
        member = np.asarray(self.parts.circles.members[u], dtype=bool)
        order = np.lexsort((np.arange(len(affinity)), -affinity))
        ids = self.catalogue.ids
        circles = [CircleAffinity(ids[c], float(affinity[c]), bool(member[c])) for c in order]
        return UserCircles(user_id, self.version, circles)

    # -- steps ------------------------------------------------------------------------------

    def _placed_circles(self, u: int) -> np.ndarray:
        """The user's member circles, highest affinity first (ties: catalogue order)."""
        return placed_circles(self.parts.circles.members[u], self.parts.circles.affinities[u])

    def _scored(
        self, u: int, limit: int, fresh: FreshHistory | None, purchased: np.ndarray,
        step: PolicyStep,
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """A model's answer (items, scores, reasons) over the user's training row plus live
        events: the ranked recommender (`RANKED`), the scorer with the user's trained factors
        (`SCORER`) or with factors folded in from that row (`FOLD_IN`). Live purchases are
        excluded either way."""
        history = self.parts.history
        n_items = history.shape[1]
        base = csr_row_matrix(history.interacted, u) if u >= 0 else None
        row = fresh.row(base, n_items) if fresh else base
        users = np.array([u], dtype=np.int64)
        scorer: Recommender = self.parts.scorer.model
        if step is PolicyStep.RANKED:
            assert self.ranked is not None and row is not None
            scorer = self.ranked
        elif step is PolicyStep.FOLD_IN:
            assert self.fold_in is not None and row is not None
            scorer = self.parts.scorer.model.for_user_factors(
                self.fold_in.user_factors(row)[None, :])
            users = np.zeros(1, np.int64)
        # A refresh appends items after a model's fit: it ranks the prefix it knows.
        width = scorer.n_items_
        purchased = purchased[purchased < width]
        bought = sp.csr_matrix(
            (np.ones(len(purchased), np.float32), (np.zeros(len(purchased), np.int64),
                                                    purchased)), shape=(1, width),
        )
        ids, scores = self.exclusion.recommend(
            scorer, users, row if width == n_items else row[:, :width], limit, purchased=bought,
            unlisted=self._unlisted[self._unlisted < width],
        )
        found = ids[0] >= 0
        items, scores = ids[0][found], scores[0][found]
        closest = self._closest_history_items(row, items)
        return items, scores, [reason(ReasonCode.SIMILAR_TO, str(c)) for c in closest]

    def _closest_history_items(self, row: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        """For each item, the id of the user's history item with the most similar vector."""
        history = np.asarray(row.indices, dtype=np.int64)
        weight = np.asarray(row.data)
        if len(history) > MAX_HISTORY_FOR_REASONS:
            history = history[np.argsort(-weight, kind="stable")[:MAX_HISTORY_FOR_REASONS]]
        vectors = self.parts.scorer.model.item_vectors_
        a = _unit(np.asarray(vectors[items], dtype=np.float32))
        b = _unit(np.asarray(vectors[history], dtype=np.float32))
        best = history[np.argmax(a @ b.T, axis=1)] if len(items) else history[:0]
        return self.parts.ids.items.to_ids(best)

    def _answer(
        self, items: np.ndarray, scores: np.ndarray, reasons: list[str]
    ) -> list[ScoredItem]:
        names = self.parts.ids.items.to_ids(items)
        return [
            ScoredItem(str(n), float(s), (r,))
            for n, s, r in zip(names, scores, reasons, strict=True)
        ]


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
