"""The trained model as one object, and its layout inside a bundle folder.

Training writes it, serving and `recsys refresh` read it back. Everything is arrays (.npy,
memory-mappable), Parquet id maps, JSON and faiss files: no pickles, so a bundle is safe to load.

Layout (relative to `models/<version>/`)::

    idmap/users.parquet, idmap/items.parquet      dense index <-> external id
    circles.parquet                               the circle catalogue trained with
    items_meta.parquet                            title, category, circle, group-buy, listed
    user_items/{data,indices,indptr,shape}.npy    training confidence matrix (history filter)
    cf/                                           the CF model (Recommender.save)
    item_vectors.npy                              CF item factors, content-mapped for cold items
    item_knn/{data,indices,indptr,shape}.npy      item-item neighbours blended with CF scores,
    item_knn/blend.json                           and the blend weight (absent: CF alone)
    content/                                      content encoder + content -> factor map
                                                  (absent: items had no usable text)
    placement/                                    placer/ (absent: history-frequency fallback);
                                                  affinities.npy; members.npy
    lists/*.npy                                   candidate lists
    index/items/, index/users/                    faiss vector indexes
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from recsys.bundle.bundle import Bundle
from recsys.candidate_lists import CandidateLists
from recsys.circles import CircleCatalogue
from recsys.content.placer import ContentPlacer
from recsys.errors import BundleError
from recsys.idmap import IdMap
from recsys.index.vector_index import VectorIndex
from recsys.placement.placer import CirclePlacer
from recsys.recommenders.base import Recommender, top_k
from recsys.recommenders.hybrid import blend_scores, neighbour_scores
from recsys.recommenders.registry import RECOMMENDERS

_LIST_KEYS = ("item_popularity", "item_users", "is_head")


@dataclass
class TrainedModel:
    users: IdMap
    items: IdMap
    catalogue: CircleCatalogue
    item_meta: pd.DataFrame  # item_id, title, category, circle_idx, is_group_buy, listed
    user_items: sp.csr_matrix
    cf: Recommender
    item_vectors: np.ndarray
    #: Content encoder + content -> factor map, for cold and new items; None when the items
    #: had no usable text (every item keeps its CF factors).
    content: ContentPlacer | None
    #: None when the data had too few UGC-labelled users: affinities are history shares.
    placer: CirclePlacer | None
    affinities: np.ndarray  # (n_users, n_circles) float32, calibrated
    members: np.ndarray  # (n_users, n_circles) bool
    lists: CandidateLists
    item_index: VectorIndex
    user_index: VectorIndex
    #: (n_items, n_items) float32 CSR neighbours; None serves CF scores alone. A refreshed
    #: bundle may know more items than this matrix: those have no neighbours yet.
    item_similarity: sp.csr_matrix | None = None
    blend_weight: float = 0.0

    @property
    def user_factors(self) -> np.ndarray:
        return self.cf.user_factors_  # type: ignore[attr-defined]

    def top_items(self, user_idx: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Best unseen, listed items for dense user indices: user factors . item vectors,
        blended with item-item neighbour scores when the bundle has them (the shipped scorer,
        `recsys.evaluation.shipped.ShippedRecommender`).

        Item vectors include the content-mapped ones of cold items, so new group buys compete.
        """
        user_idx = np.asarray(user_idx, dtype=np.int64)
        scores = np.asarray(self.user_factors[user_idx] @ self.item_vectors.T, dtype=np.float32)
        rows = self.user_items[user_idx]
        if self.item_similarity is not None and self.blend_weight > 0:
            knn = neighbour_scores(rows, self.item_similarity)
            scores = blend_scores(scores, knn, self.blend_weight)
        seen = rows.tocoo()
        scores[seen.row, seen.col] = -np.inf
        scores[:, ~self.item_meta["listed"].to_numpy()] = -np.inf
        return top_k(scores, k)

    def save(self, root: Path) -> None:
        """Write every artefact below `root` (a bundle's temp folder)."""
        (root / "idmap").mkdir(parents=True, exist_ok=True)
        self.users.save(root / "idmap" / "users.parquet")
        self.items.save(root / "idmap" / "items.parquet")
        pq.write_table(self.catalogue.to_table(), root / "circles.parquet")
        pq.write_table(
            pa.Table.from_pandas(self.item_meta, preserve_index=False), root / "items_meta.parquet"
        )
        save_csr(root / "user_items", self.user_items)
        self.cf.save(root / "cf")
        _save_npy(root / "item_vectors.npy", self.item_vectors)
        if self.item_similarity is not None:
            save_csr(root / "item_knn", self.item_similarity)
            (root / "item_knn" / "blend.json").write_text(
                json.dumps({"weight": float(self.blend_weight)}), encoding="utf-8"
            )
        if self.content is not None:
            self.content.save(root / "content")
        if self.placer is not None:
            self.placer.save(root / "placement" / "placer")
        _save_npy(root / "placement" / "affinities.npy", self.affinities)
        _save_npy(root / "placement" / "members.npy", self.members)
        for key, array in self.lists.to_arrays().items():
            _save_npy(root / "lists" / f"{key}.npy", array)
        (root / "index").mkdir(parents=True, exist_ok=True)
        self.item_index.save(root / "index" / "items")
        self.user_index.save(root / "index" / "users")

    @classmethod
    def load(cls, root: Path, *, mmap: bool = True, verify: bool = True) -> TrainedModel:
        """Read a bundle folder written by `save` and committed by `BundleWriter`.

        With `verify` (the default) every file is checked against the manifest's sha256 first,
        so a corrupt or partial bundle fails here with a BundleError naming the file; pass
        False only on hot paths that verified the same folder already.
        """
        root = Path(root)
        Bundle.open(root, verify=verify)
        mode = "r" if mmap else None
        try:
            cf_cls = RECOMMENDERS[json.loads((root / "cf" / "params.json").read_text())["model"]]
            similarity, weight = None, 0.0
            if (root / "item_knn").is_dir():
                similarity = load_csr(root / "item_knn")
                weight = float(json.loads((root / "item_knn" / "blend.json").read_text())["weight"])
            placer_dir = root / "placement" / "placer"
            lists = CandidateLists.from_arrays(
                {p.stem: np.load(p, mmap_mode=mode) for p in (root / "lists").glob("*.npy")}
            )
            return cls(
                users=IdMap.load(root / "idmap" / "users.parquet"),
                items=IdMap.load(root / "idmap" / "items.parquet"),
                catalogue=CircleCatalogue.from_table(pq.read_table(root / "circles.parquet")),
                item_meta=pq.read_table(root / "items_meta.parquet").to_pandas(),
                user_items=load_csr(root / "user_items"),
                cf=cf_cls.load(root / "cf", mmap=mmap),
                item_vectors=np.load(root / "item_vectors.npy", mmap_mode=mode),
                content=(ContentPlacer.load(root / "content")
                         if (root / "content").is_dir() else None),
                placer=CirclePlacer.load(placer_dir) if placer_dir.is_dir() else None,
                affinities=np.load(root / "placement" / "affinities.npy", mmap_mode=mode),
                members=np.load(root / "placement" / "members.npy", mmap_mode=mode),
                lists=lists,
                item_index=VectorIndex.load(root / "index" / "items"),
                user_index=VectorIndex.load(root / "index" / "users"),
                item_similarity=similarity,
                blend_weight=weight,
            )
        except (FileNotFoundError, KeyError) as exc:
            raise BundleError(f"{root}: incomplete bundle, cannot load {exc}") from exc


def _save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(array), allow_pickle=False)


def save_csr(directory: Path, matrix: sp.csr_matrix) -> None:
    matrix = sp.csr_matrix(matrix)
    _save_npy(directory / "data.npy", matrix.data)
    _save_npy(directory / "indices.npy", matrix.indices)
    _save_npy(directory / "indptr.npy", matrix.indptr)
    _save_npy(directory / "shape.npy", np.asarray(matrix.shape, dtype=np.int64))


def load_csr(directory: Path) -> sp.csr_matrix:
    shape = tuple(int(v) for v in np.load(directory / "shape.npy"))
    return sp.csr_matrix(
        (
            np.load(directory / "data.npy"),
            np.load(directory / "indices.npy"),
            np.load(directory / "indptr.npy"),
        ),
        shape=shape,
    )
