"""Nearest-neighbour search over factor vectors with faiss: exact for small sets, IVF or HNSW above.

One class serves every retrieval in the system: user -> items and item -> similar items (over item
vectors) and item or seed users -> audience (over user vectors). Row i of the vectors is dense
index i, so search results are dense indices that the id maps translate at the boundary.
Scores are inner products (``metric="ip"``, what a factor model ranks by) or cosine similarities.
Indexes are written with `faiss.write_index` next to a small JSON, never pickled.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, ParamSpec, Self, TypeVar

import faiss
import numpy as np
from pydantic import Field
from tqdm.auto import tqdm

from recsys.config import FrozenConfig
from recsys.errors import BundleError, InvalidInputError, NotFittedError

logger = logging.getLogger(__name__)

_INDEX_FILE = "index.faiss"
_META_FILE = "index.json"
# Queries per faiss call: bounds the (batch, k) result buffers and gives progress a step.
_QUERY_BATCH = 65_536

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    """Run faiss on `n` threads (0: leave as is) and restore the previous setting after."""
    before = faiss.omp_get_max_threads()
    if n:
        faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _config_threads(method: Callable[P, R]) -> Callable[P, R]:
    """Apply `config.threads` for the duration of one call, leaving the global setting alone."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        self = args[0]
        with _omp_threads(self.config.threads):  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


class IndexConfig(FrozenConfig):
    """How to index a set of vectors. Defaults reach recall@10 >= 0.95 vs exact search
    (measured in bench/results/index.md).

    `auto` uses HNSW above `exact_max`: on ALS factors IVF finds user -> item neighbours well but
    misses most inner-product item -> item neighbours (they are scattered high-norm items), while
    HNSW stays above 0.95 on every query type measured. IVF builds faster and uses less memory.
    """

    kind: Literal["auto", "flat", "ivf", "hnsw"] = "auto"
    #: "ip" ranks by inner product (factor-model scores); "cosine" L2-normalises first.
    metric: Literal["ip", "cosine"] = "ip"
    #: `auto` searches exactly below this many vectors and uses `auto_kind` at or above it.
    #: 200k: an exact scan of 200k x 64 floats costs a few milliseconds per query, while a
    #: deterministic (one-thread) HNSW build of that size takes minutes (bench/results/index.md).
    exact_max: int = Field(200_000, ge=1)
    auto_kind: Literal["ivf", "hnsw"] = "hnsw"
    #: IVF cells; None = 4 * sqrt(n), the usual faiss rule of thumb.
    ivf_nlist: int | None = Field(None, ge=1)
    ivf_nprobe: int = Field(32, ge=1)
    hnsw_m: int = Field(32, ge=4)
    hnsw_ef_construction: int = Field(200, ge=8)
    hnsw_ef_search: int = Field(256, ge=1)
    #: Link HNSW nodes on one thread: a parallel build gives a slightly different graph each
    #: run. Costs build time (not search time); switch off for very large user indexes.
    hnsw_deterministic: bool = True
    #: faiss OpenMP threads during build, add and search; 0 keeps the process setting.
    threads: int = Field(0, ge=0)
    #: k-means seed for IVF, so a config and the vectors fully determine the index.
    seed: int = 0


class VectorIndex:
    """A faiss index whose ids are row positions of the vectors it was built from."""

    def __init__(self, config: IndexConfig | None = None) -> None:
        self.config = config if config is not None else IndexConfig()

    # -- building -------------------------------------------------------------------------

    @_config_threads
    def build(self, vectors: np.ndarray) -> Self:
        """Index `vectors`, (n, d) float; row i gets id i."""
        x = self._prepare(vectors, what="vectors")
        n, d = x.shape
        if n == 0:
            raise InvalidInputError("cannot build an index over 0 vectors")
        kind = self._resolve_kind(n)
        metric = faiss.METRIC_INNER_PRODUCT
        if kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.config.hnsw_m, metric)
            index.hnsw.efConstruction = self.config.hnsw_ef_construction
        else:
            nlist = self._nlist(n)
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, metric)
            index.cp.seed = self.config.seed
            logger.info("training IVF quantizer: %d cells over %d vectors", nlist, n)
            index.train(x)
        self.index_ = index
        self.kind_ = kind
        self.dim_ = d
        self._add(x)
        logger.info("built %s index: %d vectors of dim %d (%s)", kind, n, d, self.config.metric)
        return self

    @_config_threads
    def add(self, vectors: np.ndarray) -> Self:
        """Append vectors (catalogue refresh): they get ids ntotal, ntotal + 1, ...

        IVF cells keep their trained centroids, so a refresh needs no retraining; rebuild when
        the catalogue has changed a lot.
        """
        self._check_built()
        x = self._prepare(vectors, what="vectors")
        if x.shape[0]:
            self._add(x)
        return self

    def _add(self, x: np.ndarray) -> None:
        start = self.index_.ntotal
        batches = range(0, x.shape[0], _QUERY_BATCH * 4)
        one_thread = self.kind_ == "hnsw" and self.config.hnsw_deterministic
        with _omp_threads(1 if one_thread else 0):
            for lo in tqdm(batches, desc=f"index add ({self.kind_})", disable=len(batches) < 4):
                self.index_.add(x[lo : lo + _QUERY_BATCH * 4])
        logger.debug("added %d vectors (ids %d..%d)", x.shape[0], start, self.index_.ntotal - 1)

    @property
    def kind(self) -> str:
        """The kind actually built ("flat", "ivf" or "hnsw"; `auto` resolved)."""
        self._check_built()
        return self.kind_

    @property
    def ntotal(self) -> int:
        self._check_built()
        return int(self.index_.ntotal)

    # -- searching ------------------------------------------------------------------------

    @_config_threads
    def search(
        self, queries: np.ndarray, k: int, *, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best vectors for each query.

        Parameters
        ----------
        queries : (m, d) float.
        k : results per query.
        exclude : ids never to return. 1-D (e,): for every query (e.g. delisted items).
            2-D (m, e): per query, -1 padded (e.g. the query item itself, items already seen).

        Returns
        -------
        ids : (m, k) int64, best first; -1 pads rows with fewer than k eligible vectors.
        scores : (m, k) float32 inner products (cosine when metric="cosine"); -inf where ids is -1.
        """
        self._check_built()
        q = self._prepare(queries, what="queries")
        m = q.shape[0]
        if k < 0:
            raise InvalidInputError(f"k must be >= 0; got {k}")
        per_row = None
        params = self._search_params(None)
        if exclude is not None:
            exclude = np.asarray(exclude, dtype=np.int64)
            if exclude.ndim == 1:
                params = self._search_params(self._allow_bitmap(exclude))
            elif exclude.ndim == 2 and exclude.shape[0] == m:
                per_row = exclude
            else:
                raise InvalidInputError(
                    f"exclude must be 1-D (ids for all queries) or 2-D with one row per query "
                    f"({m}); got shape {exclude.shape}"
                )
        fetch = k + (per_row.shape[1] if per_row is not None else 0)
        ids = np.full((m, k), -1, np.int64)
        scores = np.full((m, k), -np.inf, np.float32)
        if m == 0 or k == 0:
            return ids, scores
        batches = range(0, m, _QUERY_BATCH)
        for lo in tqdm(batches, desc=f"index search ({self.kind_})", disable=len(batches) < 4):
            hi = min(lo + _QUERY_BATCH, m)
            dist, idx = self.index_.search(q[lo:hi], fetch, params=params)
            if per_row is not None:
                dist, idx = _drop_per_row(dist, idx, per_row[lo:hi], k)
            ids[lo:hi] = idx
            scores[lo:hi] = dist
        missing = ids < 0
        ids[missing] = -1
        scores[missing] = -np.inf
        return ids, scores

    def _search_params(self, selector: faiss.IDSelector | None) -> faiss.SearchParameters:
        if self.kind_ == "ivf":
            params = faiss.SearchParametersIVF(nprobe=self.config.ivf_nprobe)
        elif self.kind_ == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=self.config.hnsw_ef_search)
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
            # faiss keeps a raw pointer: the Python objects must outlive the search.
            params._keep = selector
        return params

    def _allow_bitmap(self, exclude: np.ndarray) -> faiss.IDSelector:
        allowed = np.ones(self.index_.ntotal, dtype=bool)
        valid = exclude[(exclude >= 0) & (exclude < allowed.size)]
        allowed[valid] = False
        bitmap = np.packbits(allowed, bitorder="little")
        selector = faiss.IDSelectorBitmap(bitmap)
        selector._bitmap = bitmap
        return selector

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write ``index.faiss`` and ``index.json`` (config, kind, sizes) into `directory`."""
        self._check_built()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index_, str(directory / _INDEX_FILE))
        meta = {
            "config": self.config.model_dump(),
            "kind": self.kind_,
            "dim": self.dim_,
            "ntotal": int(self.index_.ntotal),
            "faiss_version": faiss.__version__,
        }
        (directory / _META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: str | Path, *, mmap: bool = False) -> VectorIndex:
        """Read an index written by `save`. `mmap` maps the vectors instead of reading them
        (fast start, shared pages between serving workers); a mapped index is read-only."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / _META_FILE).read_text())
        except FileNotFoundError:
            raise BundleError(f"{directory}: no {_META_FILE}; not a saved VectorIndex") from None
        except json.JSONDecodeError as exc:
            raise BundleError(f"{directory / _META_FILE}: not valid JSON: {exc}") from None
        flags = 0
        if mmap:
            # IVF maps its inverted lists; flat and HNSW map their flat vector storage.
            flags = faiss.IO_FLAG_MMAP if meta["kind"] == "ivf" else faiss.IO_FLAG_MMAP_IFC
            flags |= faiss.IO_FLAG_READ_ONLY
        try:
            index = faiss.read_index(str(directory / _INDEX_FILE), flags)
        except RuntimeError as exc:
            raise BundleError(f"{directory / _INDEX_FILE}: unreadable faiss index: {exc}") from None
        if index.ntotal != meta["ntotal"] or index.d != meta["dim"]:
            raise BundleError(
                f"{directory / _INDEX_FILE}: holds {index.ntotal} vectors of dim {index.d}; "
                f"{_META_FILE} says {meta['ntotal']} of dim {meta['dim']}"
            )
        self = cls(IndexConfig.model_validate(meta["config"]))
        self.index_ = index
        self.kind_ = meta["kind"]
        self.dim_ = int(meta["dim"])
        return self

    # -- helpers --------------------------------------------------------------------------

    def _resolve_kind(self, n: int) -> str:
        if self.config.kind != "auto":
            return self.config.kind
        return "flat" if n < self.config.exact_max else self.config.auto_kind

    def _nlist(self, n: int) -> int:
        nlist = self.config.ivf_nlist or int(round(4 * math.sqrt(n)))
        # faiss wants >= 39 training points per centroid; fewer gives poor cells.
        return max(1, min(nlist, n // 39))

    def _prepare(self, array: np.ndarray, *, what: str) -> np.ndarray:
        x = np.asarray(array)
        if x.ndim != 2:
            raise InvalidInputError(f"{what} must be 2-D (n, d); got shape {x.shape}")
        dim = getattr(self, "dim_", None)
        if dim is not None and x.shape[1] != dim:
            raise InvalidInputError(f"{what} have dimension {x.shape[1]}; the index has {dim}")
        if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
            raise InvalidInputError(f"{what} must be numeric; got dtype {x.dtype}")
        # faiss reads float32 C-contiguous memory; copy so normalising never touches the caller's.
        x = np.array(x, dtype=np.float32, order="C", copy=True)
        if not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            raise InvalidInputError(f"{what} row {bad} holds NaN or inf")
        if self.config.metric == "cosine":
            faiss.normalize_L2(x)
        return x

    def _check_built(self) -> None:
        if not hasattr(self, "index_"):
            raise NotFittedError("VectorIndex is not built; call build() or load()")


def _drop_per_row(
    dist: np.ndarray, idx: np.ndarray, exclude: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's excluded ids from over-fetched results, keep the first k survivors."""
    m, fetch = idx.shape
    # Membership per row without an (m, fetch, e) cube: tag ids with their row number.
    span = int(max(idx.max(initial=0), exclude.max(initial=0))) + 1
    rows = np.arange(m, dtype=np.int64)[:, None] * span
    valid_excl = exclude >= 0
    hit = np.isin(idx + rows, (exclude + rows)[valid_excl]) | (idx < 0)
    order = np.argsort(hit, axis=1, kind="stable")[:, :k]
    out_idx = np.take_along_axis(idx, order, axis=1)
    out_dist = np.take_along_axis(dist, order, axis=1)
    out_idx[np.take_along_axis(hit, order, axis=1)] = -1
    return out_dist, out_idx
