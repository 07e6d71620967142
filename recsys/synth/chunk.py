"""Pass 2: the rows of one chunk of users (their profile, posts, events, group buys and edges).

Every row a chunk emits is owned by one of its users: their events, the group buys they start
(with the friends' joins and the shares that brought them), the posts they write and the edges
leaving them. So chunks can be written one after another and freed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from recsys.contract import (
    EVENTS,
    GROUP_BUYS,
    POSTS,
    SOCIAL_EDGES,
    USERS,
    EdgeKind,
    EventType,
    GroupBuyStatus,
)
from recsys.synth.affinity import PersonalPosts
from recsys.synth.sampling import (
    DAY,
    HOUR,
    format_ids,
    id_width,
    pick_slots,
    rng_for,
    timestamps,
)
from recsys.synth.text import TextMaker
from recsys.synth.world import AGE_BANDS, STAGE_EVENTS, STAGE_POST_AFFINITY, STAGE_PROFILE, World

EVENT_TYPES = list(EventType)
VIEW, LIKE, COMMENT, SHARE, PURCHASE, GB_START, GB_JOIN = range(7)
assert [t.value for t in EVENT_TYPES] == [
    "view", "like", "comment", "share", "purchase", "group_buy_start", "group_buy_join"
]  # fmt: skip
CHANNELS = ["feed", "circle", "search", "share_link", "wechat", "group_buy"]
FEED, CIRCLE, SEARCH, SHARE_LINK, WECHAT, GROUP_BUY = range(6)
EDGE_KINDS = [EdgeKind.FRIEND.value, EdgeKind.SHARED_TO.value, EdgeKind.BLOCKED.value]
GROUP_STATUS = [GroupBuyStatus.OPEN.value, GroupBuyStatus.COMPLETED.value,
                GroupBuyStatus.FAILED.value]  # fmt: skip
CITIES = (
    "Shanghai", "Beijing", "Guangzhou", "Shenzhen", "Chengdu", "Hangzhou", "Chongqing", "Wuhan",
    "Xi'an", "Suzhou", "Tianjin", "Nanjing", "Changsha", "Zhengzhou", "Dongguan", "Qingdao",
    "Shenyang", "Ningbo", "Kunming", "Hefei", "Foshan", "Xiamen", "Fuzhou", "Jinan", "Harbin",
)  # fmt: skip

GROUP_ID_WIDTH = 9
EVENT_ID_WIDTH = 10


@dataclass
class _Events:
    """Columns of events being collected (item/post/group -1 = null)."""

    parts: dict[str, list[np.ndarray]] = field(
        default_factory=lambda: {
            k: [] for k in ("user", "item", "post", "type", "group", "channel", "ts")
        }  # fmt: skip
    )

    def add(self, user, ts, type_, *, item=None, post=None, group=None, channel=FEED) -> None:
        n = len(user)
        fill = np.full(n, -1, np.int64)

        def col(v, dtype=np.int64):
            if v is None:
                return fill
            return np.broadcast_to(np.asarray(v, dtype=dtype), (n,))

        self.parts["user"].append(np.asarray(user, np.int64))
        self.parts["ts"].append(np.asarray(ts, np.int64))
        self.parts["type"].append(col(type_, np.int8))
        self.parts["item"].append(col(item))
        self.parts["post"].append(col(post))
        self.parts["group"].append(col(group))
        self.parts["channel"].append(col(channel, np.int8))

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in self.parts.items()}


@dataclass
class ChunkOutput:
    tables: dict[str, pa.Table]
    truth_interests: pa.Table
    truth_users: pa.Table
    n_events: int
    n_groups: int


class ChunkMaker:
    """Makes the rows of consecutive user chunks; keeps the running event and group counters."""

    def __init__(self, world: World) -> None:
        self.w = world
        cfg = world.config
        self.cfg = cfg
        self.text = TextMaker(world.catalogue, cfg.post_words, cfg.circle_word_share)
        self.circle_ids = pa.array(world.catalogue.ids)
        self.uw = id_width(world.users.n, 6)
        self.iw = id_width(world.items.n, 5)
        self.pw = id_width(world.posts.n, 7)
        self.next_event = 0
        self.next_group = 0
        self.e_item = (
            1 + cfg.extra_views + cfg.like_prob + cfg.comment_prob + cfg.share_prob
            + cfg.purchase_prob
        )  # fmt: skip
        self.e_post = 1 + cfg.post_like_prob + cfg.post_comment_prob + cfg.post_share_prob
        self.personal = (
            PersonalPosts(world) if cfg.post_affinity > 0 and world.posts.n else None
        )

    # ------------------------------------------------------------------ ids
    def user_ids(self, idx: np.ndarray) -> pa.Array:
        return format_ids("u", idx, self.uw)

    def item_ids(self, idx: np.ndarray) -> pa.Array:
        return format_ids("i", idx, self.iw)

    def post_ids(self, idx: np.ndarray) -> pa.Array:
        return format_ids("p", idx, self.pw)

    # ------------------------------------------------------------------ the chunk
    def make(self, index: int, lo: int, hi: int) -> ChunkOutput:
        cfg = self.cfg
        rng = rng_for(cfg.seed, STAGE_EVENTS, index)
        users = np.arange(lo, hi, dtype=np.int64)
        ev = _Events()
        shares: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # src, dst, ts

        gb_user, gb_item, gb_ts = self._item_events(users, rng, ev, shares)
        self._post_events(users, rng, ev, shares, index)
        self._review_purchases(lo, hi, rng, ev)
        groups = self._group_buys(gb_user, gb_item, gb_ts, rng, ev, shares)

        events = self._events_table(ev)
        edges = self._edges_table(lo, hi, rng, shares)
        profile_rng = rng_for(cfg.seed, STAGE_PROFILE, index)
        tables = {
            "users": self._users_table(users, profile_rng),
            "posts": self._posts_table(lo, hi, profile_rng),
            "group_buys": groups,
            "events": events,
            "social_edges": edges,
        }
        return ChunkOutput(
            tables=tables,
            truth_interests=self._truth_interests(users),
            truth_users=self._truth_users(users),
            n_events=events.num_rows,
            n_groups=groups.num_rows,
        )

    def _clip(self, ts: np.ndarray) -> np.ndarray:
        return np.minimum(ts, self.w.end - 1)

    def _interest_circles(self, owner: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        slot = pick_slots(self.w.users.weight[owner], rng.random(len(owner)))
        return self.w.users.circle[owner, slot].astype(np.int64)

    def _item_events(self, users, rng, ev: _Events, shares):
        w, cfg = self.w, self.cfg
        rate = w.users.activity[users] * (1 - cfg.post_event_share) / self.e_item
        owner = np.repeat(users, rng.poisson(rate))
        k = len(owner)
        noise = rng.random(k) < cfg.noise_share
        item = np.empty(k, np.int64)
        item[noise] = w.items.sample_popular(int(noise.sum()), rng)
        interested = owner[~noise]
        circle = self._interest_circles(interested, rng)
        item[~noise] = w.items.sample(circle, w.users.tier[interested], cfg.tier_boost, rng)
        lo_t = np.maximum(np.maximum(w.users.signup[owner], w.start), w.items.created[item])
        t0 = lo_t + (rng.random(k) * (w.end - lo_t)).astype(np.int64)
        channel = np.where(
            noise,
            np.where(rng.random(k) < 0.6, FEED, SEARCH),
            rng.choice([FEED, CIRCLE, SEARCH], k, p=[0.5, 0.3, 0.2]),
        )
        ev.add(owner, t0, VIEW, item=item, channel=channel)
        extra = rng.poisson(cfg.extra_views, k)
        rep = np.repeat(np.arange(k), extra)
        later = self._clip(t0[rep] + rng.exponential(2 * DAY, len(rep)).astype(np.int64))
        ev.add(owner[rep], later, VIEW, item=item[rep], channel=channel[rep])
        gb = (np.zeros(0, np.int64),) * 3
        for type_, p in ((LIKE, cfg.like_prob), (COMMENT, cfg.comment_prob),
                         (SHARE, cfg.share_prob), (PURCHASE, cfg.purchase_prob)):  # fmt: skip
            hit = np.flatnonzero(rng.random(k) < p)
            ts = self._clip(t0[hit] + rng.exponential(HOUR / 2, len(hit)).astype(np.int64))
            if type_ == SHARE:
                ev.add(owner[hit], ts, SHARE, item=item[hit], channel=WECHAT)
                shares.append(self._share_targets(owner[hit], ts, rng))
            elif type_ == PURCHASE:
                # Purchases of group-buy items may become group starts (decided later).
                is_gb = w.items.is_group_buy[item[hit]]
                start = is_gb & (rng.random(len(hit)) < cfg.group_buy_start_prob)
                start &= w.graph.count_before(owner[hit], ts) > 0
                plain = ~start
                ev.add(owner[hit][plain], ts[plain], PURCHASE, item=item[hit][plain],
                       channel=channel[hit][plain])  # fmt: skip
                gb = (owner[hit][start], item[hit][start], ts[start])
            else:
                ev.add(owner[hit], ts, type_, item=item[hit], channel=channel[hit])
        return gb

    def _post_events(self, users, rng, ev: _Events, shares, index: int) -> None:
        w, cfg = self.w, self.cfg
        if w.posts.n == 0:
            return
        rate = w.users.activity[users] * cfg.post_event_share / self.e_post
        owner = np.repeat(users, rng.poisson(rate))
        k = len(owner)
        noise = rng.random(k) < cfg.noise_share
        circle = np.empty(k, np.int64)
        circle[~noise] = self._interest_circles(owner[~noise], rng)
        circle[noise] = w.posts.circle[w.posts.sample(np.zeros(int(noise.sum()), np.int64), rng)]
        post = w.posts.sample(circle, rng)
        if self.personal is not None:  # its own stream: the draws above stay as they were
            mine = np.flatnonzero(~noise)
            post[mine] = self.personal.pick(
                owner[mine], circle[mine], post[mine],
                rng_for(cfg.seed, STAGE_POST_AFFINITY, index),
            )
        lo_t = np.maximum(np.maximum(w.users.signup[owner], w.start), w.posts.created[post])
        t0 = lo_t + (rng.random(k) * (w.end - lo_t)).astype(np.int64)
        channel = np.where(rng.random(k) < 0.7, FEED, CIRCLE)
        ev.add(owner, t0, VIEW, post=post, channel=channel)
        for type_, p in ((LIKE, cfg.post_like_prob), (COMMENT, cfg.post_comment_prob),
                         (SHARE, cfg.post_share_prob)):  # fmt: skip
            hit = np.flatnonzero(rng.random(k) < p)
            ts = self._clip(t0[hit] + rng.exponential(HOUR / 4, len(hit)).astype(np.int64))
            if type_ == SHARE:
                ev.add(owner[hit], ts, SHARE, post=post[hit], channel=WECHAT)
                shares.append(self._share_targets(owner[hit], ts, rng))
            else:
                ev.add(owner[hit], ts, type_, post=post[hit], channel=channel[hit])

    def _review_purchases(self, lo: int, hi: int, rng, ev: _Events) -> None:
        """An order show-off or review follows a purchase (and a view) of its item."""
        w = self.w
        a, b = np.searchsorted(w.posts.author, [lo, hi])
        idx = np.arange(a, b)
        idx = idx[w.posts.item[idx] >= 0]
        author = w.posts.author[idx].astype(np.int64)
        item = w.posts.item[idx].astype(np.int64)
        lo_t = np.maximum(np.maximum(w.users.signup[author], w.start), w.items.created[item])
        bought = lo_t + (rng.random(len(idx)) * (w.posts.created[idx] - lo_t)).astype(np.int64)
        seen = lo_t + (rng.random(len(idx)) * (bought - lo_t)).astype(np.int64)
        ev.add(author, seen, VIEW, item=item, channel=SEARCH)
        ev.add(author, bought, PURCHASE, item=item, channel=SEARCH)

    def _share_targets(self, user: np.ndarray, ts: np.ndarray, rng):
        """Each share goes to a friend the user had then, unless none or the friend opted out."""
        target = self.w.graph.pick_friends(user, ts, rng)
        ok = target >= 0
        ok[ok] = ~self.w.users.opt_out[target[ok]]
        return user[ok], target[ok], ts[ok]

    def _group_buys(self, initiator, item, created, rng, ev: _Events, shares) -> pa.Table:
        w, cfg = self.w, self.cfg
        order = np.lexsort((initiator, created))
        initiator, item, created = initiator[order], item[order], created[order]
        g = len(initiator)
        gid = self.next_group + np.arange(g, dtype=np.int64)
        self.next_group += g
        duration = int(cfg.group_duration_hours * HOUR)
        deadline = created + duration
        target = np.asarray(cfg.group_sizes, np.int64)[rng.integers(0, len(cfg.group_sizes), g)]
        ev.add(initiator, created, GB_START, item=item, group=gid, channel=GROUP_BUY)
        # The initiator shares the group with a few friends they had at that time.
        fan = 1 + rng.poisson(cfg.group_buy_fanout - 1, g)
        rep = np.repeat(np.arange(g), fan)
        friend = w.graph.pick_friends(initiator[rep], created[rep], rng)
        ok = friend >= 0
        rep, friend = rep[ok], friend[ok]
        pair = np.unique(rep * w.users.n + friend)
        rep, friend = pair // w.users.n, pair % w.users.n
        keep = ~w.users.opt_out[friend]
        rep, friend = rep[keep], friend[keep]
        shared = self._clip(created[rep] + (rng.random(len(rep)) * min(HOUR, duration // 2))
                            .astype(np.int64))  # fmt: skip
        ev.add(initiator[rep], shared, SHARE, item=item[rep], group=gid[rep], channel=GROUP_BUY)
        shares.append((initiator[rep], friend, shared))
        # Friends who are members of the item's circle join far more often.
        likes = w.users.is_member(friend, w.items.circle[item[rep]].astype(np.int64))
        p = np.where(likes, cfg.join_prob_interested, cfg.join_prob_other)
        joins = rng.random(len(rep)) < p
        join_ts = shared + rng.exponential(duration / 3, len(rep)).astype(np.int64)
        joins &= (join_ts < deadline[rep]) & (join_ts < w.end)
        jr, jf, jt = rep[joins], friend[joins], join_ts[joins]
        o = np.lexsort((jf, jt, jr))
        jr, jf, jt = jr[o], jf[o], jt[o]
        first = np.searchsorted(jr, jr, side="left")
        rank = np.arange(len(jr)) - first
        fits = rank < target[jr] - 1  # a full group takes no more joins
        jr, jf, jt = jr[fits], jf[fits], jt[fits]
        ev.add(jf, jt, GB_JOIN, item=item[jr], group=gid[jr], channel=SHARE_LINK)
        n_joined = np.bincount(jr, minlength=g)
        completed = n_joined + 1 >= target
        status = np.where(completed, 1, np.where(deadline >= w.end, 0, 2))
        return pa.Table.from_arrays(
            [
                format_ids("g", gid, GROUP_ID_WIDTH),
                self.item_ids(item),
                self.user_ids(initiator),
                timestamps(created),
                timestamps(deadline),
                pa.array(target.astype(np.int32)),
                pa.array(GROUP_STATUS).take(pa.array(status)),
            ],
            schema=GROUP_BUYS.schema,
        )

    def _events_table(self, ev: _Events) -> pa.Table:
        a = ev.arrays()
        order = np.argsort(a["ts"], kind="stable")  # time order; ties keep generation order
        n = len(order)
        eid = self.next_event + np.arange(n, dtype=np.int64)
        self.next_event += n
        return pa.Table.from_arrays(
            [
                format_ids("e", eid, EVENT_ID_WIDTH),
                self.user_ids(a["user"][order]),
                self.item_ids(a["item"][order]),
                self.post_ids(a["post"][order]),
                pa.array([t.value for t in EVENT_TYPES]).take(pa.array(a["type"][order])),
                format_ids("g", a["group"][order], GROUP_ID_WIDTH),
                pa.array(CHANNELS).take(pa.array(a["channel"][order])),
                timestamps(a["ts"][order]),
            ],
            schema=EVENTS.schema,
        )

    def _edges_table(self, lo: int, hi: int, rng, shares) -> pa.Table:
        w, cfg = self.w, self.cfg
        g = w.graph
        a, b = g.indptr[lo], g.indptr[hi]
        f_src = np.repeat(np.arange(lo, hi, dtype=np.int64), np.diff(g.indptr[lo : hi + 1]))
        f_dst = g.dst[a:b].astype(np.int64)
        f_ts = g.ts[a:b]
        # shared_to: one edge per (sharer, friend), at the first share.
        s_src = np.concatenate([s[0] for s in shares]) if shares else np.zeros(0, np.int64)
        s_dst = np.concatenate([s[1] for s in shares]) if shares else np.zeros(0, np.int64)
        s_ts = np.concatenate([s[2] for s in shares]) if shares else np.zeros(0, np.int64)
        o = np.lexsort((s_ts, s_dst, s_src))
        s_src, s_dst, s_ts = s_src[o], s_dst[o], s_ts[o]
        first = np.ones(len(s_src), bool)
        first[1:] = (s_src[1:] != s_src[:-1]) | (s_dst[1:] != s_dst[:-1])
        s_src, s_dst, s_ts = s_src[first], s_dst[first], s_ts[first]
        # blocked: a few users block one stranger each.
        n = w.users.n
        b_src = np.arange(lo, hi, dtype=np.int64)[rng.random(hi - lo) < cfg.blocked_share]
        b_dst = rng.integers(0, n, len(b_src))
        friend_pairs = np.sort(f_src * n + f_dst)
        wanted = b_src * n + b_dst
        at = np.minimum(np.searchsorted(friend_pairs, wanted), max(len(friend_pairs) - 1, 0))
        known = friend_pairs[at] == wanted if len(friend_pairs) else np.zeros(len(wanted), bool)
        ok = (b_dst != b_src) & ~known
        b_src, b_dst = b_src[ok], b_dst[ok]
        since = np.maximum(np.maximum(w.users.signup[b_src], w.users.signup[b_dst]), w.start)
        b_ts = since + (rng.random(len(b_src)) * (w.end - since)).astype(np.int64)
        src = np.concatenate([f_src, s_src, b_src])
        dst = np.concatenate([f_dst, s_dst, b_dst])
        ts = np.concatenate([f_ts, s_ts, b_ts])
        kind = np.repeat(np.arange(3, dtype=np.int8), [len(f_src), len(s_src), len(b_src)])
        return pa.Table.from_arrays(
            [
                self.user_ids(src),
                self.user_ids(dst),
                pa.array(EDGE_KINDS).take(pa.array(kind)),
                timestamps(ts),
            ],
            schema=SOCIAL_EDGES.schema,
        )

    def _users_table(self, users: np.ndarray, rng) -> pa.Table:
        w = self.w
        n = len(users)
        top = w.users.circle[users, 0].astype(np.int64)
        female = rng.random(n) < w.circles.p_female[top]
        gender = pa.array(np.where(female, "female", "male"), mask=rng.random(n) < 0.1)
        age = pick_slots(w.circles.age_probs[top], rng.random(n))
        age_band = pa.array(np.asarray(AGE_BANDS, dtype=object)[age], pa.string(),
                            mask=rng.random(n) < 0.1)  # fmt: skip
        cw = 1.0 / np.arange(1, len(CITIES) + 1)
        city_idx = rng.choice(len(CITIES), n, p=cw / cw.sum())
        city = pa.array(np.asarray(CITIES, dtype=object)[city_idx], pa.string(),
                        mask=rng.random(n) < 0.05)  # fmt: skip
        return pa.Table.from_arrays(
            [
                self.user_ids(users),
                timestamps(w.users.signup[users]),
                gender.cast(pa.string()),
                age_band,
                city,
                pa.array(w.users.opt_out[users]),
            ],
            schema=USERS.schema,
        )

    def _posts_table(self, lo: int, hi: int, rng) -> pa.Table:
        p = self.w.posts
        a, b = np.searchsorted(p.author, [lo, hi])
        idx = np.arange(a, b, dtype=np.int64)
        circle = p.circle[idx].astype(np.int64)
        return pa.Table.from_arrays(
            [
                self.post_ids(idx),
                self.user_ids(p.author[idx]),
                self.circle_ids.take(pa.array(circle)),
                self.item_ids(p.item[idx]),
                timestamps(p.created[idx]),
                self.text.make(circle, rng),
                pa.array(p.deleted[idx]),
            ],
            schema=POSTS.schema,
        )

    def _truth_interests(self, users: np.ndarray) -> pa.Table:
        u = self.w.users
        rows, slots = np.nonzero(u.weight[users] > 0)
        g = users[rows]
        return pa.table(
            {
                "user_id": self.user_ids(g),
                "circle_id": self.circle_ids.take(pa.array(u.circle[g, slots].astype(np.int64))),
                "weight": pa.array(u.weight[g, slots].astype(np.float64)),
                "member": pa.array(u.member[g, slots]),
            }
        )

    def _truth_users(self, users: np.ndarray) -> pa.Table:
        u = self.w.users
        g = self.w.graph
        return pa.table(
            {
                "user_id": self.user_ids(users),
                "top_circle_id": self.circle_ids.take(
                    pa.array(u.circle[users, 0].astype(np.int64))
                ),
                "price_tier": pa.array(u.tier[users]),
                "activity": pa.array(u.activity[users].astype(np.float64)),
                "n_friends": pa.array(np.diff(g.indptr[users[0] : users[-1] + 2])),
            }
        )


__all__ = ["ChunkMaker", "ChunkOutput", "EVENT_ID_WIDTH", "GROUP_ID_WIDTH"]
