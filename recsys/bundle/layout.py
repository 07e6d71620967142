"""The one owner of a bundle's file names: where every part lives inside ``models/<version>/``.

Training writes the parts, `recsys refresh` rewrites the item side, the runtime reads them; all
three ask this module for paths, and nothing else spells a bundle file name. Arrays are `.npy`
(memory-mappable, loaded with ``allow_pickle=False``), sparse matrices are folders of their CSR
arrays, tables are Parquet or Arrow IPC, models write arrays and JSON: no pickles anywhere.

Layout (format `recsys.bundle.manifest.FORMAT_VERSION`)::

    manifest.json                                 written last (`BundleWriter.commit`)
    idmap/users.parquet, idmap/items.parquet      dense index <-> external id
    scorer/                                       the shipped scorer (Recommender.save)
    content/                                      content encoder + content -> factor map
    circles/catalogue.parquet                     the circle catalogue trained with
    circles/affinities.npy, circles/members.npy   (n_users, n_circles) placement
    circles/placer/                               the learned placer (absent: history fallback)
    lists/<name>.npy                              candidate lists (CandidateLists.to_arrays)
    index/items/                                  faiss item index (index/users/: older
                                                  bundles only, no longer built)
    catalogue/<field>.npy, catalogue/text.arrow   item facts: numbers as arrays, strings as Arrow
    history/interacted/, history/purchased/       (n_users, n_items) CSR: confidence; bought
    social/friends/, social/blocked/              (n_users, n_users) symmetric CSR
    social/share_opt_out.npy                      (n_users,) bool
    idmap/posts.parquet, idmap/groups.parquet     post and group buy ids (live events name them)
    posts/item_idx.npy, posts/deleted.npy         (n_posts,) the item a post names; deleted
    groups/facts.arrow                            each group buy's item, initiator, times, size
    posts/circle.npy, posts/author.npy,           (n_posts,) the circle feed's post facts
      posts/created.npy, posts/engagement.npy
    posts/by_circle/{offsets,posts}.npy           live posts per circle, newest first
    posts/seen/, posts/author_affinity/           (n_users, n_posts), (n_users, n_users) CSR
    posts/ranker/circle_ranker.json               the circle feed's ranker (absent: none learned)
    share/                                        share targeting (absent: data without group
                                                  buys and friends; metrics.share_targeting)
      meta.json                                   sizes the counts were keyed with, fit facts
      targeter/ (LightGBM text + params.json), completion/completion.json
      counts/<counter>/keys|totals|last.npy       per-key totals of the as-of counters
      user_items/                                 (n_users, n_items) CSR item events, no groups
      affinity.npy                                (n_users, n_circles) float16 affinities
                                                  without group events (what the ranker read)
      group_members/                              (n_groups, n_users) CSR initiator + joiners
      factors/users.npy, factors/items.npy        CF factors of the ranker (optional)
    activity/last_active.npy, recent.npy, span.npy  (n_users,) newest event time, recent events;
                                                  data start, end, recent window
    backtest/                                     the time-cut fit's vectors and purchases around
                                                  the cut (absent: data without times)
    ranked/                                       the served recommender: sources -> ranker
                                                  (RankedRecommender.save; absent: [ranked] off)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import scipy.sparse as sp

from recsys.errors import BundleError

# Relative names, for code that writes through `BundleWriter` (a refresh) and for messages.
USERS = "idmap/users.parquet"
ITEMS = "idmap/items.parquet"
SCORER = "scorer"
CONTENT = "content"
CIRCLE_CATALOGUE = "circles/catalogue.parquet"
CIRCLE_AFFINITIES = "circles/affinities.npy"
CIRCLE_MEMBERS = "circles/members.npy"
CIRCLE_PLACER = "circles/placer"
LISTS = "lists"
ITEM_INDEX = "index/items"
USER_INDEX = "index/users"
CATALOGUE = "catalogue"
CATALOGUE_TEXT = "catalogue/text.arrow"
HISTORY_INTERACTED = "history/interacted"
HISTORY_PURCHASED = "history/purchased"
SOCIAL_FRIENDS = "social/friends"
SOCIAL_BLOCKED = "social/blocked"
SOCIAL_SHARE_OPT_OUT = "social/share_opt_out.npy"
POSTS = "idmap/posts.parquet"
GROUPS = "idmap/groups.parquet"
POST_ITEM = "posts/item_idx.npy"
POST_DELETED = "posts/deleted.npy"
GROUP_FACTS = "groups/facts.arrow"
POST_CIRCLE = "posts/circle.npy"
POST_AUTHOR = "posts/author.npy"
POST_CREATED = "posts/created.npy"
POST_ENGAGEMENT = "posts/engagement.npy"
POST_BY_CIRCLE = "posts/by_circle"
POST_SEEN = "posts/seen"
POST_AUTHOR_AFFINITY = "posts/author_affinity"
CIRCLE_RANKER = "posts/ranker"
SHARE = "share"
SHARE_META = "share/meta.json"
SHARE_TARGETER = "share/targeter"
SHARE_COMPLETION = "share/completion"
SHARE_COUNTS = "share/counts"
SHARE_USER_ITEMS = "share/user_items"
SHARE_AFFINITY = "share/affinity.npy"
SHARE_GROUP_MEMBERS = "share/group_members"
SHARE_FACTORS = "share/factors"
ACTIVITY_LAST_ACTIVE = "activity/last_active.npy"
ACTIVITY_SPAN = "activity/span.npy"
ACTIVITY_RECENT = "activity/recent.npy"
BACKTEST = "backtest"
BACKTEST_BOUGHT_BEFORE = "backtest/bought_before"
BACKTEST_BOUGHT_AFTER = "backtest/bought_after"
RANKED = "ranked"

_CSR_ARRAYS = ("data", "indices", "indptr", "shape")


@dataclass(frozen=True)
class BundleLayout:
    """Paths of a bundle folder's parts (which need not exist yet: writers use it too)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def path(self, name: str) -> Path:
        """The path of a relative bundle name (one of this module's constants, or below one)."""
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise BundleError(f"invalid bundle file name {name!r}")
        return self.root / rel

    def npy(self, folder: str, key: str) -> Path:
        """``<folder>/<key>.npy``: one array of a part stored as a folder of arrays."""
        return self.path(f"{folder}/{key}.npy")

    def csr_file(self, folder: str, key: str) -> str:
        """Relative name of one array of a CSR stored at `folder` (a refresh rewrites `shape`)."""
        if key not in _CSR_ARRAYS:
            raise BundleError(f"a CSR folder holds {_CSR_ARRAYS}; not {key!r}")
        return f"{folder}/{key}.npy"


# -- arrays ------------------------------------------------------------------------------


def save_array(path: Path, array: np.ndarray) -> None:
    """Write one array as `.npy`; object arrays are refused (they would need pickle)."""
    array = np.asarray(array)
    if array.dtype.hasobject:
        raise BundleError(f"{path}: object arrays cannot be stored without pickle")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array, allow_pickle=False)


def load_array(path: Path, *, mmap: bool = True) -> np.ndarray:
    """Read one `.npy`, memory-mapped read-only by default (pages load on use, shared)."""
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise BundleError(f"{path}: missing from the bundle") from None
    except ValueError as exc:
        raise BundleError(f"{path}: not a plain .npy array: {exc}") from None


def save_csr(directory: Path, matrix: sp.spmatrix | sp.sparray) -> None:
    """Write a sparse matrix as its CSR arrays (data, indices, indptr, shape) in `directory`."""
    m = sp.csr_matrix(matrix)
    m.sort_indices()
    save_array(directory / "data.npy", m.data)
    save_array(directory / "indices.npy", m.indices)
    save_array(directory / "indptr.npy", m.indptr)
    save_array(directory / "shape.npy", np.asarray(m.shape, dtype=np.int64))


def load_csr(directory: Path, *, mmap: bool = True) -> sp.csr_matrix:
    """Read a CSR written by `save_csr`; with `mmap` its arrays stay memory-mapped (read-only).

    The matrix must then be treated as read-only: slicing and products are fine, in-place edits
    fail. Indices are written sorted, so scipy never needs to sort them in place.
    """
    shape = tuple(int(v) for v in load_array(directory / "shape.npy", mmap=False))
    data, indices, indptr = (
        load_array(directory / f"{key}.npy", mmap=mmap) for key in ("data", "indices", "indptr")
    )
    if len(shape) != 2 or len(indptr) != shape[0] + 1 or len(data) != len(indices):
        raise BundleError(f"{directory}: CSR arrays disagree with shape {shape}")
    matrix = sp.csr_matrix(shape, dtype=data.dtype)
    # Assigned directly: the constructor would check (and may copy) every index array.
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    matrix.has_sorted_indices = True
    return matrix


def csr_row(matrix: sp.csr_matrix, row: int) -> np.ndarray:
    """Column indices of one row, without building a sparse row (a read on the hot path)."""
    return np.asarray(matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]])


def csr_row_matrix(matrix: sp.csr_matrix, row: int) -> sp.csr_matrix:
    """One row as a (1, n) CSR over views of the (memory-mapped) arrays: no fancy indexing,
    no copy (a read on the hot path)."""
    lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
    return sp.csr_matrix(
        (matrix.data[lo:hi], matrix.indices[lo:hi], np.array([0, hi - lo], np.int64)),
        shape=(1, matrix.shape[1]),
    )


def save_table(path: Path, table: pa.Table) -> None:
    """An Arrow IPC file, uncompressed, so readers memory-map its columns without copying."""
    path.parent.mkdir(parents=True, exist_ok=True)
    feather.write_feather(table, path, compression="uncompressed")


def load_table(path: Path, *, mmap: bool = True) -> pa.Table:
    try:
        return feather.read_table(path, memory_map=mmap)
    except FileNotFoundError:
        raise BundleError(f"{path}: missing from the bundle") from None
    except pa.ArrowInvalid as exc:
        raise BundleError(f"{path}: not an Arrow IPC file: {exc}") from None
