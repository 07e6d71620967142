"""The share-targeting part: what answering "whom should I share this group buy with?" reads.

The fitted ranker (LightGBM text + JSON) and completion model (JSON), the counts its features
read after the last training event (`recsys.social.share_index.ShareSnapshot`: per key totals,
the item events outside group buys), the circle affinities it learned with (placement on
engagement without group buys: a group's own joins never raise its joiners' affinity), who is
in each group buy of the bundle (a request naming a group never suggests its members), and the
ranker's CF factors when it had them. The social graph (friends, blocks, opt-outs) is the
bundle's `social` part: one graph for every answer.

A bundle trained on data without group buys or friends has no such part (the manifest's
`metrics.share_targeting.skipped` says why).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_array, load_csr, save_array, save_csr
from recsys.errors import BundleError
from recsys.social.completion import CompletionModel
from recsys.social.event_counts import EventTotals
from recsys.social.share_index import COUNTERS, ShareSnapshot
from recsys.social.share_targeting import ShareTargeter


@dataclass(frozen=True)
class ShareTargeting:
    """Share targeting's fitted models and the state its features read.

    Attributes
    ----------
    targeter : the fitted ranker.
    completion : the completion chance model, or None when validation had no failed groups.
    snapshot : counts after the last training event.
    affinity : (n_users, n_circles) float16 circle affinities the ranker's features read.
    group_members : (n_groups, n_users) 0/1 CSR, row = the bundle's group index (`groups` id
        map of the posts-and-groups part): who started or joined it.
    user_factors, item_factors : CF factors of the ranker's `friend_item_cf`, or None.
    facts : how it was fitted (groups, rounds, completion), for the manifest and logs.
    """

    targeter: ShareTargeter
    completion: CompletionModel | None
    snapshot: ShareSnapshot
    affinity: np.ndarray
    group_members: sp.csr_matrix
    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    facts: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_users = self.snapshot.user_items.shape[0]
        shapes = {
            "affinity rows": self.affinity.shape[0],
            "group_members columns": self.group_members.shape[1],
        }
        if self.user_factors is not None:
            shapes["user factor rows"] = len(self.user_factors)
        wrong = {k: v for k, v in shapes.items() if v != n_users}
        if wrong or (self.user_factors is None) != (self.item_factors is None):
            raise BundleError(
                f"share part: {n_users} users in the counts, but {wrong or 'one factor side'}"
            )

    @property
    def n_users(self) -> int:
        return self.snapshot.user_items.shape[0]

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        self.targeter.save(paths.path(layout.SHARE_TARGETER))
        if self.completion is not None:
            self.completion.save(paths.path(layout.SHARE_COMPLETION))
        for name, totals in self.snapshot.counters.items():
            folder = f"{layout.SHARE_COUNTS}/{name}"
            save_array(paths.npy(folder, "keys"), np.asarray(totals.keys, np.int64))
            save_array(paths.npy(folder, "totals"), np.asarray(totals.totals, np.float32))
            if totals.last is not None:
                save_array(paths.npy(folder, "last"), np.asarray(totals.last, np.int64))
        save_csr(paths.path(layout.SHARE_USER_ITEMS), self.snapshot.user_items)
        save_array(paths.path(layout.SHARE_AFFINITY), np.asarray(self.affinity, np.float16))
        save_csr(paths.path(layout.SHARE_GROUP_MEMBERS), self.group_members)
        if self.user_factors is not None and self.item_factors is not None:
            save_array(paths.npy(layout.SHARE_FACTORS, "users"), self.user_factors)
            save_array(paths.npy(layout.SHARE_FACTORS, "items"), self.item_factors)
        meta = {"n_items": self.snapshot.n_items, "n_circles": self.snapshot.n_circles,
                "counters": sorted(self.snapshot.counters), "facts": self.facts}  # fmt: skip
        paths.path(layout.SHARE_META).write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> ShareTargeting:
        paths = BundleLayout(root)
        meta_path = paths.path(layout.SHARE_META)
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise BundleError(f"{meta_path}: missing from the bundle") from None
        counters = {}
        for name in COUNTERS:
            folder = f"{layout.SHARE_COUNTS}/{name}"
            last = paths.npy(folder, "last")
            counters[name] = EventTotals(
                load_array(paths.npy(folder, "keys"), mmap=mmap),
                load_array(paths.npy(folder, "totals"), mmap=mmap),
                load_array(last, mmap=mmap) if last.is_file() else None,
            )
        completion_dir = paths.path(layout.SHARE_COMPLETION)
        factors = paths.path(layout.SHARE_FACTORS)
        return cls(
            targeter=ShareTargeter.load(paths.path(layout.SHARE_TARGETER)),
            completion=CompletionModel.load(completion_dir) if completion_dir.is_dir() else None,
            snapshot=ShareSnapshot(
                counters, load_csr(paths.path(layout.SHARE_USER_ITEMS), mmap=mmap),
                int(meta["n_items"]), int(meta["n_circles"]),
            ),
            affinity=load_array(paths.path(layout.SHARE_AFFINITY), mmap=mmap),
            group_members=load_csr(paths.path(layout.SHARE_GROUP_MEMBERS), mmap=mmap),
            user_factors=load_array(paths.npy(layout.SHARE_FACTORS, "users"), mmap=mmap)
            if factors.is_dir() else None,
            item_factors=load_array(paths.npy(layout.SHARE_FACTORS, "items"), mmap=mmap)
            if factors.is_dir() else None,
            facts=dict(meta.get("facts", {})),
        )  # fmt: skip

    @classmethod
    def load_optional(cls, root: str | Path, *, mmap: bool = True) -> ShareTargeting | None:
        """The part, or None for a bundle trained without group buys or friends."""
        if not BundleLayout(root).path(layout.SHARE).is_dir():
            return None
        return cls.load(root, mmap=mmap)
