"""Share targets at request time: whom to share a group buy with, why, and will it complete.

One request is one query of the share targeter (`recsys.social.share_targeting`) over the
bundle's share part: the user's friends are the candidates, the contact rules
(`recsys.social.contact.allowed_targets`: non-friends, opt-outs, blocks either way, recent
buyers, the frequency cap) decide who may be shown, the ranker scores the rest. A request may
name an existing group buy: its target size and deadline fill what the request leaves out and
its members (in the bundle or joined since, through the live store) are never suggested.

The completion chance sums the join probabilities of every friend the rules allow before the
frequency cap (a friend shown often may still join; the completion model was fitted that way)
into the expected joiners, and maps them, the joiners still needed and the hours left to a
chance (`recsys.social.completion`). A user with few contacts for it also gets circles to post
the group buy in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from recsys.bundle.layout import csr_row
from recsys.bundle.parts import BundleParts
from recsys.contract import EventType
from recsys.errors import InvalidInputError, RequestFieldError, UnknownGroupError
from recsys.events.references import References
from recsys.events.store import EventStore
from recsys.runtime.answers import Completion, ShareTarget, ShareTargets
from recsys.runtime.policy import RuntimePolicy
from recsys.runtime.reasons import ReasonCode, reason
from recsys.social.completion import US_PER_HOUR
from recsys.social.contact import ContactRules, suggestion_counts
from recsys.social.share_answers import has_few_contacts, post_circles, share_evidence
from recsys.social.share_features import US_PER_DAY, ShareQueries
from recsys.social.share_index import ShareIndex
from recsys.social.share_targeting import allowed_candidates, top_k

_BUYS = (EventType.GROUP_BUY_START.value, EventType.GROUP_BUY_JOIN.value)


class _Group(NamedTuple):
    """The facts of a named group buy a request needs."""

    target_size: int
    deadline_us: int | None
    initiator: int


class ShareTargetsRuntime:
    """Answers share-target requests over one bundle's parts (built once per loaded model)."""

    def __init__(self, parts: BundleParts, policy: RuntimePolicy) -> None:
        share = parts.share
        if share is None:
            raise InvalidInputError("the bundle has no share part to answer share targets with")
        self.parts = parts
        self.share = share
        self.index = ShareIndex.from_snapshot(
            share.snapshot, friends=parts.social.friends, blocked=parts.social.blocked,
            opt_out=parts.social.share_opt_out, item_circle=parts.catalogue.circle_idx,
            circle_affinity=share.affinity, user_factors=share.user_factors,
            item_factors=share.item_factors,
        )  # fmt: skip
        self.rules = ContactRules(
            bought_window_days=policy.share_bought_window_days,
            max_suggestions=policy.share_max_suggestions,
        )

    def answer(
        self,
        u: int,
        item: int,
        *,
        version: str,
        group_id: str | None,
        target_size: int | None,
        deadline_us: int | None,
        limit: int,
        suggested: Mapping[str, int] | None,
        now_us: int,
        events: EventStore | None,
        watermark_us: int,
    ) -> ShareTargets:
        """The answer for user index `u` and item index `item` (both known)."""
        ids = self.parts.ids
        user_id, item_id = str(ids.users.to_ids([u])[0]), str(ids.items.to_ids([item])[0])
        members: set[int] = set()
        initiator = u
        if group_id is not None:
            group = self._group(group_id, item_id, events)
            target_size = target_size if target_size is not None else group.target_size
            deadline_us = deadline_us if deadline_us is not None else group.deadline_us
            initiator = group.initiator
            members = self._bundle_members(group_id) | {initiator}
        elif deadline_us is not None and deadline_us <= now_us:
            raise RequestFieldError("deadline_ts", "must be later than now for a new group buy")
        query = ShareQueries(np.array([u]), np.array([item]), np.array([now_us], np.int64),
                             np.array([-1]))  # fmt: skip
        uncapped = self.rules.model_copy(update={"max_suggestions": None})
        row, friend = allowed_candidates(self.index, query, uncapped)
        live_members, live_buyers = self._live(friend, group_id, item_id, events, now_us,
                                               watermark_us)  # fmt: skip
        members |= live_members
        gone = np.isin(friend, np.array(sorted(members | live_buyers), np.int64))
        row, friend = row[~gone], friend[~gone]
        targeter = self.share.targeter
        raw, proba = targeter.score(self.index.features(query, row, friend))
        expected = float(proba.sum())
        shown = self._under_cap(u, friend, suggested)
        raw, proba = raw[shown], proba[shown]
        best, pos = top_k(row[shown], friend[shown], raw, 1, limit)
        found = best[0] >= 0
        why = self._reasons(query, best)
        targets = [
            ShareTarget(str(name), float(raw[p]), float(proba[p]), why[k])
            for k, (name, p) in enumerate(zip(ids.users.to_ids(best[0][found]),
                                              pos[0][found], strict=True))
        ]  # fmt: skip
        circle_ids = self.parts.circles.catalogue.ids
        joined = len(members - {initiator})
        completion = self._completion(expected, target_size, deadline_us, now_us, joined)
        needed = 1 if target_size is None else target_size - 1 - joined
        few = has_few_contacts(len(friend), expected, needed)
        circles = post_circles(self.index, u, item) if few else []
        return ShareTargets(
            user_id=user_id, item_id=item_id, group_id=group_id, model_version=version,
            targets=targets, completion=completion,
            post_circles=[circle_ids[c] for c in circles],
        )  # fmt: skip

    # -- steps ------------------------------------------------------------------------------

    def _under_cap(
        self, u: int, friend: np.ndarray, suggested: Mapping[str, int] | None
    ) -> np.ndarray:
        """(m,) bool: the friend was suggested to the user fewer times than the cap."""
        if self.rules.max_suggestions is None or not suggested:
            return np.ones(len(friend), bool)
        index = self.parts.ids.users.to_index(list(suggested))
        counts = {(u, int(f)): n for f, n in zip(index, suggested.values(), strict=True)
                  if f >= 0}  # fmt: skip
        return suggestion_counts(counts, np.full(len(friend), u), friend) < (
            self.rules.max_suggestions
        )

    def _reasons(self, query: ShareQueries, best: np.ndarray) -> list[tuple[str, ...]]:
        """Reasons of each ranked friend (`best` (1, k), -1 padded) in the one grammar."""
        evidence = share_evidence(self.index, query, best)
        circle_ids = self.parts.circles.catalogue.ids
        out = []
        for k in np.flatnonzero(best[0] >= 0):
            why = []
            if evidence.joined[0, k] > 0:
                why.append(reason(ReasonCode.OFTEN_JOINS_YOUR_GROUPS, str(evidence.joined[0, k])))
            if evidence.liked_circle[0, k] >= 0:
                why.append(reason(ReasonCode.LIKES_CIRCLE,
                                  circle_ids[int(evidence.liked_circle[0, k])]))  # fmt: skip
            out.append(tuple(why))
        return out

    def _group(self, group_id: str, item_id: str, events: EventStore | None) -> _Group:
        """Facts of the named group buy (the bundle's, else the live store's)."""
        if events is not None:
            facts = References(self.parts, events).groups([group_id])
        else:
            pg = self.parts.posts_groups
            rows = pg.groups.to_index([group_id])
            facts = pg.group_facts.take(pa.array(rows[rows >= 0], pa.int64()))
        if not facts.num_rows:
            raise UnknownGroupError(f"group buy {group_id!r} is not known")
        got = facts["item_id"][0].as_py()
        if got != item_id:
            raise RequestFieldError(
                "group_id", f"group buy {group_id!r} sells item {got!r}, not item_id {item_id!r}"
            )
        initiator = int(self.parts.ids.users.to_index([facts["initiator_id"][0].as_py()])[0])
        deadline = facts["deadline_ts"].cast(pa.int64())[0].as_py()
        return _Group(int(facts["target_size"][0].as_py()), deadline, initiator)

    def _bundle_members(self, group_id: str) -> set[int]:
        """Users who started or joined the group in the bundle's data."""
        g = int(self.parts.posts_groups.groups.to_index([group_id])[0])
        members = self.share.group_members
        if g < 0 or g >= members.shape[0]:  # a group opened after training, or a refresh's
            return set()
        return set(csr_row(members, g).tolist())

    def _live(
        self, friend: np.ndarray, group_id: str | None, item_id: str,
        events: EventStore | None, now_us: int, watermark_us: int,
    ) -> tuple[set[int], set[int]]:
        """Friends who joined the named group since the bundle, and friends who started or
        joined a group buy of the item within the bought-before window since the bundle."""
        if events is None or not len(friend):
            return set(), set()
        users = self.parts.ids.users
        activity = events.group_events([str(f) for f in users.to_ids(friend)], watermark_us)
        if not activity.num_rows:
            return set(), set()
        who = users.to_index(activity["user_id"].to_numpy(zero_copy_only=False))
        groups = np.asarray(activity["group_id"].to_pylist(), dtype=object)
        items = np.asarray(activity["item_id"].to_pylist(), dtype=object)
        ts = activity["ts_us"].to_numpy(zero_copy_only=False)
        kind = np.asarray(activity["type"].to_pylist(), dtype=object)
        joined = who[(groups == group_id) & (who >= 0)] if group_id is not None else who[:0]
        window = self.rules.bought_window_days
        bought = who[:0]
        if window is not None:
            recent = ts > now_us - int(window * US_PER_DAY)
            bought = who[(items == item_id) & recent & np.isin(kind, _BUYS) & (who >= 0)]
        return set(joined.tolist()), set(bought.tolist())

    def _completion(
        self, expected: float, target_size: int | None, deadline_us: int | None, now_us: int,
        joined: int,
    ) -> Completion:
        hours = None if deadline_us is None else (deadline_us - now_us) / US_PER_HOUR
        chance = None
        model = self.share.completion
        if target_size is not None and model is not None:
            needed = target_size - 1 - joined
            if needed <= 0:
                chance = 1.0
            elif hours is not None and hours <= 0:
                chance = 0.0
            else:
                chance = float(model.predict_proba(
                    np.array([expected]), np.array([needed + 1]),
                    np.array([np.nan if hours is None else hours]),
                )[0])  # fmt: skip
        return Completion(chance=chance, target_size=target_size, hours_to_deadline=hours,
                          expected_joiners=expected, joined=joined)  # fmt: skip
