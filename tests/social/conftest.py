"""A tiny group-buy world built in code: every test knows who joined whose groups and why."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.social.history import ShareHistory

DAY = 86_400 * 1_000_000
N_USERS = 40
N_ITEMS = 12
#: User 0's special contacts.
OPTED_OUT, BLOCKED_BY_USER, BLOCKS_USER, STRANGER = 3, 4, 5, 39


def make_history(seed: int = 0, n_groups: int = 400) -> ShareHistory:
    """Users 0..39 in a ring of friendships (each befriends the next six), items in 3 circles.

    Each user has a "close" friend (the next user) who joins their groups with probability
    0.8, other friends join with probability 0.05. User 3 opted out, user 4 blocked user 0,
    user 0 blocked user 5; user 39 is nobody's friend of user 0 (outside 0's ring segment)
    but joins many groups of others. Times grow with the group index.
    """
    rng = np.random.default_rng(seed)
    src = np.repeat(np.arange(N_USERS), 6)
    dst = (src + np.tile(np.arange(1, 7), N_USERS)) % N_USERS
    keep = ~((src == 0) & (dst == STRANGER)) & ~((dst == 0) & (src == STRANGER))
    src, dst = src[keep], dst[keep]
    friend_src = np.concatenate([src, dst])
    friend_dst = np.concatenate([dst, src])
    initiator = rng.integers(0, N_USERS, n_groups)
    item = rng.integers(0, N_ITEMS, n_groups)
    created = np.arange(n_groups, dtype=np.int64) * DAY + 10 * DAY
    join_group, join_user, join_ts = [], [], []
    for g in range(n_groups):
        u = initiator[g]
        friends = friend_dst[friend_src == u]
        for f in friends:
            p = 0.8 if f == (u + 1) % N_USERS else 0.05
            if f != OPTED_OUT and rng.random() < p:
                join_group.append(g)
                join_user.append(f)
                join_ts.append(created[g] + DAY // 4)
    blocked = sp.csr_matrix(
        (np.ones(2, np.float32), ([BLOCKED_BY_USER, 0], [0, BLOCKS_USER])),
        shape=(N_USERS, N_USERS),
    )
    opt_out = np.zeros(N_USERS, bool)
    opt_out[OPTED_OUT] = True
    target = rng.choice([2, 3], n_groups)
    joins_per_group = np.bincount(join_group, minlength=n_groups)
    status = np.where(joins_per_group + 1 >= target, 1, 2)
    return ShareHistory(
        n_users=N_USERS, n_items=N_ITEMS,
        group_id=np.array([f"g{g}" for g in range(n_groups)], dtype=object),
        group_initiator=initiator.astype(np.int64), group_item=item.astype(np.int64),
        group_created=created, group_deadline=created + DAY,
        group_target=target.astype(np.int64), group_status=status.astype(np.int64),
        join_group=np.asarray(join_group, np.int64), join_user=np.asarray(join_user, np.int64),
        join_ts=np.asarray(join_ts, np.int64),
        share_src=np.zeros(0, np.int64), share_dst=np.zeros(0, np.int64),
        share_ts=np.zeros(0, np.int64),
        event_user=rng.integers(0, N_USERS, 300), event_item=rng.integers(0, N_ITEMS, 300),
        event_ts=rng.integers(0, 5 * DAY, 300).astype(np.int64),
        event_bought=rng.random(300) < 0.2,
        friend_src=friend_src.astype(np.int64), friend_dst=friend_dst.astype(np.int64),
        friend_ts=np.zeros(len(friend_src), np.int64),
        blocked=blocked, opt_out=opt_out, item_circle=np.arange(N_ITEMS) % 3,
    )  # fmt: skip


@pytest.fixture(scope="module")
def history() -> ShareHistory:
    return make_history()
