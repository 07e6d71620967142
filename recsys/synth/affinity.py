"""Personal post engagement (the `post_affinity` knob): who engages with a post depends on
friendship with its author and interest in its item.

By default a post interaction picks a post of the chosen circle by attention alone, so nothing
personal decides which post a user engages with and a circle feed has no signal to find. With
`post_affinity` = s > 0, a share s of the in-interest post interactions is personal instead,
half each way:

- **friend**: a post in the circle by one of up to `TRIES` randomly drawn friends of the user
  (friends at the end of the log);
- **item**: a post about an item of the circle drawn the way the user draws items
  (interest x popularity x price tier, `Items.sample`), up to `TRIES` draws.

When no try finds a post the attention pick stands. Every draw comes from a random stream of
its own (`STAGE_POST_AFFINITY`), so turning the knob on changes which posts are picked (and
what follows from that: the events' times, the friends a post is shared to) and nothing else;
at 0 no draw is made and the output is byte-identical to earlier versions.
"""

from __future__ import annotations

import numpy as np

from recsys.synth.world import World

#: Friends (or items) tried per personal interaction before the attention pick stands.
TRIES = 8


def _pick_in_runs(keys: np.ndarray, order: np.ndarray, query: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """For each query key, a uniformly drawn entity among those with that key, or -1.

    `keys` is sorted and `order[j]` is the entity of `keys[j]`.
    """
    lo = np.searchsorted(keys, query, side="left")
    hi = np.searchsorted(keys, query, side="right")
    count = hi - lo
    j = lo + (rng.random(len(query)) * count).astype(np.int64)
    out = np.full(len(query), -1, np.int64)
    has = count > 0
    out[has] = order[j[has]]
    return out


def _first_found(found: np.ndarray, n: int) -> np.ndarray:
    """(n,) the first non-negative value of each row of `found` reshaped (n, TRIES), or -1."""
    grid = found.reshape(n, TRIES)
    hit = grid >= 0
    first = np.argmax(hit, axis=1)
    return np.where(hit.any(axis=1), grid[np.arange(n), first], -1)


class PersonalPosts:
    """Posts indexed by (author, circle) and by item, for the personal picks."""

    def __init__(self, world: World) -> None:
        self.w = world
        p, n_circles = world.posts, world.circles.n
        key = p.author.astype(np.int64) * n_circles + p.circle.astype(np.int64)
        self.by_author = np.argsort(key, kind="stable")
        self.author_keys = key[self.by_author]
        with_item = np.flatnonzero(p.item >= 0)
        self.by_item = with_item[np.argsort(p.item[with_item], kind="stable")]
        self.item_keys = p.item[self.by_item].astype(np.int64)

    def pick(self, owner: np.ndarray, circle: np.ndarray, attention: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
        """The post each interaction engages with: `attention` (the attention picks), with the
        personal share replaced where a friend's post or a post about a liked item exists."""
        w, cfg = self.w, self.w.config
        k = len(owner)
        personal = rng.random(k) < cfg.post_affinity
        via_friend = rng.random(k) < 0.5
        out = attention.copy()
        n_circles = w.circles.n
        for by_friend in (True, False):
            idx = np.flatnonzero(personal & (via_friend == by_friend))
            if not len(idx):
                continue
            rep = np.repeat(idx, TRIES)
            if by_friend:
                friend = w.graph.pick_friends(owner[rep], np.full(len(rep), w.end), rng)
                query = np.where(friend >= 0, friend * n_circles + circle[rep], -1)
                found = _pick_in_runs(self.author_keys, self.by_author, query, rng)
            else:
                item = w.items.sample(circle[rep], w.users.tier[owner[rep]], cfg.tier_boost, rng)
                found = _pick_in_runs(self.item_keys, self.by_item, item, rng)
            post = _first_found(found, len(idx))
            ok = post >= 0
            out[idx[ok]] = post[ok]
        return out
