"""Pass 1: the world every event is drawn from, held as numpy arrays (O(users + edges) memory).

Users (planted interests, price tier, activity, signup), items (circle, tier, popularity, creation),
the friendship graph (CSR, sorted by time per user) and post metadata. Built chunk by chunk with
per-chunk random streams; pass 2 (`recsys.synth.chunk`) streams events from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.circles import CircleCatalogue
from recsys.errors import InvalidInputError
from recsys.synth.config import SynthConfig
from recsys.synth.sampling import (
    DAY,
    HOUR,
    US,
    SegmentSampler,
    lognormal_with_mean,
    pick_slots,
    rng_for,
)

# Random-stream stages (never renumber: that would change every frozen sample).
STAGE_CIRCLES, STAGE_USERS, STAGE_ITEMS, STAGE_GRAPH, STAGE_POSTS = 0, 1, 2, 3, 4
STAGE_EVENTS, STAGE_PROFILE, STAGE_POST_AFFINITY = 5, 6, 7

TIERS = 3  # budget, mid, premium
TIER_SHARES = np.array([0.35, 0.45, 0.20])
TIER_PRICE = np.array([0.5, 1.0, 2.5])


@dataclass
class Circles:
    n: int
    prior: np.ndarray  # (C,) share of interest each circle attracts
    n_categories: np.ndarray  # (C,)
    category_offset: np.ndarray  # (C,) first category index of each circle
    category_names: list[str]
    category_base_price: np.ndarray  # (n_categories,)
    p_female: np.ndarray  # (C,)
    age_probs: np.ndarray  # (C, n_age_bands)


@dataclass
class Users:
    n: int
    signup: np.ndarray  # int64 us, non-decreasing with the index
    circle: np.ndarray  # int16 (N, K) circle index per slot, -1 for empty; slot 0 = top circle
    weight: np.ndarray  # float32 (N, K) planted interest, rows sum to 1
    member: np.ndarray  # bool (N, K)
    tier: np.ndarray  # int8 (N,)
    activity: np.ndarray  # float32 (N,) expected events
    opt_out: np.ndarray  # bool (N,)

    def is_member(self, users: np.ndarray, circles: np.ndarray) -> np.ndarray:
        return ((self.circle[users] == circles[:, None]) & self.member[users]).any(axis=1)


@dataclass
class Items:
    n: int
    circle: np.ndarray  # int32
    category: np.ndarray  # int32 (index into Circles.category_names)
    tier: np.ndarray  # int8
    price: np.ndarray  # float64
    base_popularity: np.ndarray  # float64, sums to 1
    is_head: np.ndarray  # bool
    created: np.ndarray  # int64 us
    exposure: np.ndarray  # share of the log the item was on sale
    is_group_buy: np.ndarray  # bool
    delisted: np.ndarray  # bool
    segment_mass: np.ndarray  # (C, TIERS) total draw weight of each (circle, tier)
    by_circle_tier: SegmentSampler
    by_circle: SegmentSampler
    overall: SegmentSampler

    def sample(
        self,
        circles: np.ndarray,
        user_tiers: np.ndarray,
        tier_boost: float,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """An item of each circle, drawn by popularity x exposure x (tier_boost if in the user's
        price tier); a circle without items falls back to the whole catalogue."""
        circles = np.asarray(circles, dtype=np.int64)
        n = len(circles)
        out = self.overall.sample(np.zeros(n, np.int64), rng.random(n))
        ok = self.by_circle.nonempty[circles]
        mass = self.segment_mass[circles[ok]]  # (k, TIERS)
        mass[np.arange(len(mass)), user_tiers[ok]] *= tier_boost
        tier = pick_slots(mass, rng.random(len(mass)))
        out[ok] = self.by_circle_tier.sample(circles[ok] * TIERS + tier, rng.random(len(mass)))
        return out

    def sample_popular(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.overall.sample(np.zeros(n, np.int64), rng.random(n))


@dataclass
class Graph:
    """Undirected friendships as CSR over both directions; each row sorted by time."""

    indptr: np.ndarray  # int64 (N + 1,)
    dst: np.ndarray  # int32
    ts: np.ndarray  # int64 us (whole seconds)
    key: np.ndarray  # int64: (src << ts_bits) | seconds since origin, sorted
    origin: int
    ts_bits: int
    n_undirected: int

    def count_before(self, users: np.ndarray, t: np.ndarray) -> np.ndarray:
        """How many friends each user had at time t (friendship ts <= t)."""
        q = (users.astype(np.int64) << self.ts_bits) | ((t - self.origin) // US)
        return np.searchsorted(self.key, q, side="right") - self.indptr[users]

    def pick_friends(
        self, users: np.ndarray, t: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """A uniformly drawn friend each user had at time t, or -1 when there was none."""
        count = self.count_before(users, t)
        j = (rng.random(len(users)) * count).astype(np.int64)
        out = np.full(len(users), -1, np.int64)
        has = count > 0
        out[has] = self.dst[self.indptr[users[has]] + j[has]]
        return out


@dataclass
class Posts:
    n: int
    author: np.ndarray  # int32, non-decreasing (posts are numbered in author order)
    circle: np.ndarray  # int16
    item: np.ndarray  # int32, -1 when the post references no item
    created: np.ndarray  # int64 us
    deleted: np.ndarray  # bool
    by_circle: SegmentSampler | None
    overall: SegmentSampler | None

    def sample(self, circles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A post per circle by attention weight (falls back to any post); needs n > 0."""
        assert self.by_circle is not None and self.overall is not None
        u = rng.random(len(circles))
        out = self.overall.sample(np.zeros(len(circles), np.int64), u)
        ok = self.by_circle.nonempty[circles]
        out[ok] = self.by_circle.sample(circles[ok].astype(np.int64), u[ok])
        return out


@dataclass
class World:
    config: SynthConfig
    catalogue: CircleCatalogue
    start: int  # us
    end: int  # us
    circles: Circles
    users: Users
    items: Items
    graph: Graph
    posts: Posts

    def chunks(self) -> list[tuple[int, int]]:
        return _chunks(self.users.n, self.config.chunk_users)


def _chunks(n: int, step: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")


def build_circles(cfg: SynthConfig, catalogue: CircleCatalogue) -> Circles:
    rng = rng_for(cfg.seed, STAGE_CIRCLES)
    n = len(catalogue)
    rank = rng.permutation(n)
    prior = (rank + 1.0) ** -cfg.circle_popularity_exponent
    prior /= prior.sum()
    names: list[str] = []
    n_cat = np.zeros(n, np.int64)
    for i, circle in enumerate(catalogue.circles):
        cats = list(circle.categories) or [f"{circle.circle_id}_goods"]
        names += cats
        n_cat[i] = len(cats)
    offset = np.concatenate([[0], np.cumsum(n_cat)[:-1]])
    base_price = np.round(np.exp(rng.uniform(np.log(15), np.log(800), len(names))), 2)
    p_female = rng.beta(1.2, 1.2, n)
    age_probs = rng.dirichlet(np.full(len(AGE_BANDS), 1.5), n)
    return Circles(n, prior, n_cat, offset, names, base_price, p_female, age_probs)


def build_users(cfg: SynthConfig, circles: Circles, start: int, end: int) -> Users:
    n, c = cfg.n_users, circles.n
    k_max = min(c, cfg.max_interests)
    signup = np.empty(n, np.int64)
    circle = np.empty((n, k_max), np.int16)
    weight = np.empty((n, k_max), np.float32)
    member = np.empty((n, k_max), bool)
    tier = np.empty(n, np.int8)
    activity = np.empty(n, np.float32)
    opt_out = np.empty(n, bool)
    log_prior = np.log(circles.prior)
    s0 = cfg.signup_before_start_share
    history = cfg.signup_history_days * DAY
    for index, (lo, hi) in enumerate(_chunks(n, cfg.chunk_users)):
        rng = rng_for(cfg.seed, STAGE_USERS, index)
        m = hi - lo
        # Signup: stratified quantiles of a two-piece uniform, so the index is the signup order.
        p = (np.arange(lo, hi) + rng.random(m)) / n
        before = p < s0
        pre = start - history + (p / max(s0, 1e-12) * history).astype(np.int64)
        post = start + ((p - s0) / max(1 - s0, 1e-12) * (end - DAY - start)).astype(np.int64)
        signup[lo:hi] = np.where(before, np.minimum(pre, start - 1), post)
        # Interests: k circles without replacement (Gumbel top-k over the prior), Dirichlet weights.
        k = np.minimum(k_max, 1 + rng.poisson(cfg.interests_per_user - 1, m))
        keys = log_prior[None, :] + rng.gumbel(size=(m, c))
        chosen = np.argsort(-keys, axis=1)[:, :k_max]
        valid = np.arange(k_max)[None, :] < k[:, None]
        w = rng.gamma(cfg.dirichlet_alpha, size=(m, k_max)) * valid
        total = w.sum(axis=1, keepdims=True)
        w[total[:, 0] <= 0, 0] = 1.0
        w /= w.sum(axis=1, keepdims=True)
        order = np.argsort(-w, axis=1, kind="stable")
        w = np.take_along_axis(w, order, axis=1)
        chosen = np.take_along_axis(chosen, order, axis=1)
        valid = w > 0
        circle[lo:hi] = np.where(valid, chosen, -1)
        weight[lo:hi] = w
        top = np.arange(k_max)[None, :] == 0
        member[lo:hi] = valid & ((w >= cfg.member_threshold) | top)
        tier[lo:hi] = rng.choice(TIERS, m, p=TIER_SHARES)
        activity[lo:hi] = lognormal_with_mean(rng, cfg.events_per_user, cfg.activity_sigma, m)
        opt_out[lo:hi] = rng.random(m) < cfg.opt_out_share
    return Users(n, signup, circle, weight, member, tier, activity, opt_out)


def build_items(cfg: SynthConfig, circles: Circles, start: int, end: int) -> Items:
    rng = rng_for(cfg.seed, STAGE_ITEMS)
    n = cfg.items
    circle = rng.choice(circles.n, n, p=circles.prior).astype(np.int32)
    category = (
        circles.category_offset[circle]
        + (rng.random(n) * circles.n_categories[circle]).astype(np.int64)
    ).astype(np.int32)
    tier = rng.choice(TIERS, n, p=TIER_SHARES).astype(np.int8)
    price = np.round(
        circles.category_base_price[category] * TIER_PRICE[tier] * rng.lognormal(0, 0.25, n), 2
    )
    rank = rng.permutation(n)
    pop = (rank + 1.0) ** -cfg.popularity_exponent
    pop /= pop.sum()
    is_head = rank < max(1, round(cfg.head_share * n))
    new = rng.random(n) < cfg.new_item_share
    created = np.where(
        new,
        start + (rng.random(n) * (end - start - DAY)).astype(np.int64),
        start - 1 - (rng.random(n) * 365 * DAY).astype(np.int64),
    )
    exposure = (end - np.maximum(created, start)) / (end - start)
    # Group-buy items: most of them in the tail.
    n_gb = round(cfg.group_buy_item_share * n)
    tail_idx, head_idx = np.flatnonzero(~is_head), np.flatnonzero(is_head)
    n_tail = min(round(cfg.group_buy_tail_share * n_gb), len(tail_idx))
    n_head = min(n_gb - n_tail, len(head_idx))
    is_gb = np.zeros(n, bool)
    is_gb[rng.choice(tail_idx, n_tail, replace=False)] = True
    is_gb[rng.choice(head_idx, n_head, replace=False)] = True
    delisted = rng.random(n) < cfg.delisted_share
    w = pop * exposure
    seg = circle.astype(np.int64) * TIERS + tier
    return Items(
        n=n,
        circle=circle,
        category=category,
        tier=tier,
        price=price,
        base_popularity=pop,
        is_head=is_head,
        created=created,
        exposure=exposure,
        is_group_buy=is_gb,
        delisted=delisted,
        segment_mass=np.bincount(seg, weights=w, minlength=circles.n * TIERS).reshape(
            circles.n, TIERS
        ),
        by_circle_tier=SegmentSampler(seg, w, circles.n * TIERS),
        by_circle=SegmentSampler(circle, w, circles.n),
        overall=SegmentSampler(np.zeros(n, np.int64), w, 1),
    )


def _member_index(users: Users, n_circles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Users by member circle: sorted keys circle * N + user, the users, and per-circle pointers."""
    rows, slots = np.nonzero(users.member)
    circ = users.circle[rows, slots].astype(np.int64)
    keys = np.sort(circ * users.n + rows)
    ptr = np.searchsorted(keys, np.arange(n_circles + 1, dtype=np.int64) * users.n)
    return keys, (keys % users.n).astype(np.int64), ptr


def build_graph(cfg: SynthConfig, users: Users, n_circles: int, start: int, end: int) -> Graph:
    """Friendships: each user befriends earlier users, mostly inside their circles (homophily).

    A user's friend-making propensity is lognormal (heavy-tailed degrees); early users also collect
    edges from everyone after them, as on a growing platform. Only earlier users are picked, so a
    pair is generated once and the graph needs no all-pairs step.
    """
    n = users.n
    keys, bucket, ptr = _member_index(users, n_circles)
    srcs, dsts, tss = [], [], []
    half = cfg.friends_per_user / 2
    for index, (lo, hi) in enumerate(_chunks(n, cfg.chunk_users)):
        rng = rng_for(cfg.seed, STAGE_GRAPH, index)
        m = hi - lo
        if half > 0:
            stubs = rng.poisson(lognormal_with_mean(rng, half, cfg.friends_sigma, m))
        else:
            stubs = np.zeros(m, np.int64)
        src = np.repeat(np.arange(lo, hi, dtype=np.int64), stubs)
        s = len(src)
        dst = (rng.random(s) * src).astype(np.int64)  # a uniformly drawn earlier user
        homo = rng.random(s) < cfg.homophily
        hs = src[homo]
        w = users.weight[hs] * users.member[hs]
        slot = pick_slots(w, rng.random(len(hs)))
        c = users.circle[hs, slot].astype(np.int64)
        count = np.searchsorted(keys, c * n + hs) - ptr[c]
        pos = ptr[c] + (rng.random(len(hs)) * count).astype(np.int64)
        found = count > 0
        hdst = dst[homo]
        hdst[found] = bucket[pos[found]]
        dst[homo] = hdst
        ok = src > 0
        pair = np.unique(src[ok] * n + dst[ok])
        src, dst = pair // n, pair % n
        base = users.signup[src]  # the later signup of the two (signups follow the index)
        ts = base + rng.exponential(cfg.friend_delay_days * DAY, len(src)).astype(np.int64)
        late = ts >= end - HOUR
        ts[late] = base[late] + (rng.random(late.sum()) * (end - HOUR - base[late])).astype(
            np.int64
        )
        srcs.append(src)
        dsts.append(dst)
        tss.append(ts // US * US)
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
    dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
    ts = np.concatenate(tss) if tss else np.zeros(0, np.int64)
    n_undirected = len(src)
    a = np.concatenate([src, dst])
    b = np.concatenate([dst, src]).astype(np.int32)
    t = np.concatenate([ts, ts])
    del src, dst, ts, srcs, dsts, tss
    origin = int(users.signup.min()) // US * US - US
    seconds = (t - origin) // US
    ts_bits = max(1, int(np.ceil(np.log2((end - origin) // US + 2))))
    if (n + 1).bit_length() + ts_bits > 62:
        raise InvalidInputError("time span too long for the graph's composite keys")
    key = (a << ts_bits) | seconds
    order = np.argsort(key, kind="stable")
    key = key[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(a, minlength=n))]).astype(np.int64)
    return Graph(indptr, b[order], t[order], key, origin, ts_bits, n_undirected)


def build_posts(
    cfg: SynthConfig, users: Users, items: Items, n_circles: int, start: int, end: int
) -> Posts:
    authors, circs, its, created, deleted, weights = [], [], [], [], [], []
    for index, (lo, hi) in enumerate(_chunks(users.n, cfg.chunk_users)):
        rng = rng_for(cfg.seed, STAGE_POSTS, index)
        m = hi - lo
        if cfg.posts_per_user > 0:
            rate = lognormal_with_mean(rng, cfg.posts_per_user, cfg.posting_sigma, m)
            count = rng.poisson(rate)
        else:
            count = np.zeros(m, np.int64)
        author = np.repeat(np.arange(lo, hi, dtype=np.int64), count)
        k = len(author)
        slot = pick_slots(users.weight[author], rng.random(k))
        circle = users.circle[author, slot].astype(np.int64)
        review = rng.random(k) < cfg.review_post_share
        item = np.full(k, -1, np.int64)
        item[review] = items.sample(circle[review], users.tier[author[review]], cfg.tier_boost, rng)
        circle[review] = items.circle[item[review]]
        lo_t = np.maximum(users.signup[author], start)
        lo_t[review] = np.maximum(lo_t[review], items.created[item[review]] + HOUR)
        ts = lo_t + (rng.random(k) * (end - lo_t)).astype(np.int64)
        authors.append(author.astype(np.int32))
        circs.append(circle.astype(np.int16))
        its.append(item.astype(np.int32))
        created.append(ts)
        deleted.append(rng.random(k) < cfg.deleted_post_share)
        weights.append(rng.lognormal(0, 1.0, k) * (end - ts) / (end - start))
    author = np.concatenate(authors)
    circle = np.concatenate(circs)
    w = np.concatenate(weights)
    n = len(author)
    return Posts(
        n=n,
        author=author,
        circle=circle,
        item=np.concatenate(its),
        created=np.concatenate(created),
        deleted=np.concatenate(deleted),
        by_circle=SegmentSampler(circle, w, n_circles) if n else None,
        overall=SegmentSampler(np.zeros(n, np.int64), w, 1) if n else None,
    )


def build_world(cfg: SynthConfig, catalogue: CircleCatalogue) -> World:
    end = int(cfg.end.timestamp()) * US
    start = end - cfg.span_days * DAY
    circles = build_circles(cfg, catalogue)
    users = build_users(cfg, circles, start, end)
    items = build_items(cfg, circles, start, end)
    graph = build_graph(cfg, users, circles.n, start, end)
    posts = build_posts(cfg, users, items, circles.n, start, end)
    return World(cfg, catalogue, start, end, circles, users, items, graph, posts)
