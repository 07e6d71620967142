"""What every import adapter shares: the result record, the writer and the circle clustering.

An adapter turns one public data set into a SOURCE directory in the contract layout (one
Parquet part per table), plus `meta/` side tables for what the contract has no column for
(rating values, play counts, predefined splits) and a `dataset.json` that says what the data
lacks. The normal ingest then validates that directory like any other source.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from recsys.contract import CIRCLES, TABLES_BY_NAME
from recsys.datastore import DATASET_JSON, DataDir
from recsys.errors import ContractError, UnusableFileError

logger = logging.getLogger(__name__)

#: Stand-in time for data sets that record none (documented in docs/datasets.md). Chosen well
#: before any real event so it can never be mistaken for one.
UNDATED = pd.Timestamp("2000-01-01T00:00:00Z")
META_DIR = "meta"


@dataclass
class AdapterInfo:
    """What an adapter did and what the data set lacks; written as `dataset.json`.

    `counts` are rows written per contract table; `reported` are raw rows (or pairs) that did
    not become contract rows, keyed by reason, so raw = written + reported reconciles.
    `split` names a predefined split side table, e.g.
    ``{"path": "meta/split.parquet", "key": ["user_id", "item_id"], "folds": ["train", "test"]}``.
    """

    name: str
    has_timestamps: bool
    ordered: bool
    timestamp_granularity: str | None = None
    notes: list[str] = field(default_factory=list)
    split: dict | None = None
    counts: dict[str, int] = field(default_factory=dict)
    reported: dict[str, int] = field(default_factory=dict)
    meta: dict[str, int] = field(default_factory=dict)
    limit_users: int | None = None
    licence: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False, sort_keys=True)

    @classmethod
    def read(cls, directory: str | Path) -> AdapterInfo:
        return cls(**json.loads((Path(directory) / DATASET_JSON).read_text(encoding="utf-8")))


def write_source(
    out_src: Path,
    info: AdapterInfo,
    tables: dict[str, pd.DataFrame],
    meta: dict[str, pd.DataFrame] | None = None,
) -> AdapterInfo:
    """Write contract tables (cast to the exact schemas), meta side tables and dataset.json."""
    out_src = Path(out_src)
    data_dir = DataDir(out_src)
    for name, frame in tables.items():
        spec = TABLES_BY_NAME[name]
        for column in spec.schema.names:
            if column not in frame.columns:
                frame = frame.assign(**{column: None})
        table = pa.Table.from_pandas(frame[spec.schema.names], preserve_index=False)
        data_dir.write_table(name, table)
        info.counts[name] = len(frame)
    (out_src / META_DIR).mkdir(parents=True, exist_ok=True)
    for name, frame in (meta or {}).items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, out_src / META_DIR / f"{name}.parquet")
        info.meta[name] = len(frame)
    (out_src / DATASET_JSON).write_text(info.to_json(), encoding="utf-8")
    logger.info(
        "%s: wrote %s; reported (not imported) %s; meta %s",
        info.name, info.counts, info.reported or "nothing", info.meta or "none",
    )
    return info


def require(path: Path) -> Path:
    """`path` if it exists, else UnusableFileError naming it."""
    if not path.is_file():
        raise UnusableFileError(str(path), "file not found (is SRC the data set's folder?)")
    return path


def check_columns(frame: pd.DataFrame, path: Path, numeric: list[str]) -> None:
    """Raise UnusableFileError naming the first row and field that is not an integer."""
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if bad.size:
            raise UnusableFileError(
                str(path), f"not a number: {frame[column].iloc[bad[0]]!r}",
                row=int(bad[0]) + 1, field=str(column),
            )


def first_users(user_ids: pd.Series, limit_users: int | None) -> np.ndarray:
    """The users kept by a slice: the `limit_users` smallest ids (numeric order), or all."""
    users = np.unique(user_ids.to_numpy())
    return users if limit_users is None else users[:limit_users]


def users_frame(
    user_ids: np.ndarray, events: pd.DataFrame | None, default_ts: pd.Timestamp
) -> pd.DataFrame:
    """A users table: signup = the user's first event time, `default_ts` for users without one."""
    frame = pd.DataFrame({"user_id": pd.Series(user_ids, dtype=str)})
    if events is not None and len(events):
        first = events.groupby("user_id")["ts"].min()
        frame["signup_ts"] = frame["user_id"].map(first).fillna(default_ts)
    else:
        frame["signup_ts"] = default_ts
    frame["share_opt_out"] = False
    return frame


def items_frame(
    item_ids: pd.Series,
    titles: pd.Series,
    categories: pd.Series,
    events: pd.DataFrame | None,
    default_ts: pd.Timestamp,
    *,
    merchant: str | pd.Series,
    price: float | pd.Series = 0.0,
    brand: pd.Series | None = None,
    is_group_buy: bool | pd.Series = False,
) -> pd.DataFrame:
    """An items table: created = the item's first event time, `default_ts` when it has none.

    `price` defaults to 0.0, which means "unknown": the public sets (except Taobao) publish no
    prices and the contract column is non-null (NaN would poison every sum over prices).
    """
    frame = pd.DataFrame(
        {
            "item_id": item_ids.astype(str).to_numpy(),
            "title": titles.astype(str).to_numpy(),
            "category": categories.astype(str).to_numpy(),
        }
    )
    frame["brand"] = None if brand is None else brand.to_numpy()
    frame["merchant_id"] = merchant if isinstance(merchant, str) else merchant.to_numpy()
    frame["price"] = price if np.isscalar(price) else np.asarray(price, dtype=np.float64)
    frame["is_group_buy"] = (
        is_group_buy if isinstance(is_group_buy, bool) else is_group_buy.to_numpy()
    )
    if events is not None and len(events):
        first = events.dropna(subset=["item_id"]).groupby("item_id")["ts"].min()
        frame["created_ts"] = frame["item_id"].map(first).fillna(default_ts)
    else:
        frame["created_ts"] = default_ts
    frame["status"] = "listed"
    return frame


def circles_frame(rows: list[tuple[str, str, str, list[str]]]) -> pd.DataFrame:
    """A circles table from (circle_id, name_zh, name_en, categories) rows."""
    return pd.DataFrame(rows, columns=CIRCLES.schema.names)


def cluster_circles(
    incidence: sp.csr_matrix,
    names: np.ndarray,
    *,
    n_circles: int,
    seed: int = 0,
    other: str = "other",
    label: str = "",
) -> tuple[pd.DataFrame, pd.Series]:
    """Group categories into circles by co-occurrence (spherical k-means on an LSA embedding).

    Parameters
    ----------
    incidence : (n_categories, n_contexts) sparse counts, e.g. tag x artist assignments.
    names : (n_categories,) category names, row order of `incidence`.

    Returns
    -------
    circles : contract circles table; circles are ordered by total weight, ids ``c00``,
        ``c01``...; a circle's name is `label` + its three heaviest categories; categories
        with no co-occurrence go to a circle named `other`.
    circle_of : category name -> circle id.
    """
    incidence = sp.csr_matrix(incidence, dtype=np.float64)
    weight = np.asarray(incidence.sum(axis=1)).ravel()
    active = np.flatnonzero(weight > 0)
    labels = np.full(len(names), -1, dtype=np.int64)
    k = min(n_circles, len(active))
    if k > 0:
        # tf-idf-like damping so that one huge context (a very popular artist) does not glue
        # every category together
        x = incidence[active]
        x = x.multiply(np.log1p(x.shape[0] / np.maximum(x.getnnz(axis=0), 1))).tocsr()
        x = normalize(x.log1p())
        dims = min(32, min(x.shape) - 1)
        # a few hundred points: one BLAS thread is several times faster than contending ones
        with threadpool_limits(1):
            if dims >= 2:
                svd = TruncatedSVD(n_components=dims, algorithm="arpack", random_state=seed)
                x = normalize(svd.fit_transform(x))
            labels[active] = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    # order circles by weight so ids are stable and readable (c00 = the biggest)
    totals = pd.Series(weight).groupby(labels).sum().drop(index=-1, errors="ignore")
    order = {old: new for new, old in enumerate(totals.sort_values(ascending=False).index)}
    rows = []
    circle_of: dict[str, str] = {}
    by_weight = np.argsort(-weight, kind="stable")
    for old, new in order.items():
        members = [str(names[i]) for i in by_weight if labels[i] == old]
        cid = f"c{new:02d}"
        title = label + " / ".join(members[:3])
        rows.append((cid, title, title, members))
        circle_of.update(dict.fromkeys(members, cid))
    leftovers = [str(n) for n in names[labels == -1]]
    if leftovers:
        rows.append((other, other, other, leftovers))
        circle_of.update(dict.fromkeys(leftovers, other))
    return circles_frame(rows), pd.Series(circle_of, dtype=str)


def reconcile(raw: int, written: int, reported: dict[str, int], what: str) -> None:
    """Refuse to finish an import that lost rows without saying so."""
    if raw != written + sum(reported.values()):
        raise ContractError(
            f"{what}: {raw} raw rows != {written} written + {sum(reported.values())} reported"
        )


def read_token_lines(path: Path) -> pd.DataFrame:
    """Whitespace-separated integer lines -> one row per token: line, position, value.

    Vectorised over the file's bytes (token starts and line numbers from numpy masks, values
    from one C-level parse), so millions of `user item ...` tokens parse at numpy speed.
    Blank lines count as lines. A non-integer token raises UnusableFileError naming its line.
    """
    data = path.read_bytes()
    buf = np.frombuffer(data, dtype=np.uint8)
    space = buf <= 32
    start = ~space & np.concatenate([[True], space[:-1]])
    line = np.cumsum(buf == 10)[start]
    offsets = np.flatnonzero(start)
    try:
        with warnings.catch_warnings():
            # numpy warns (older) or raises (newer) when a token is not a number
            warnings.simplefilter("ignore", DeprecationWarning)
            values = np.fromstring(data.decode("utf-8"), dtype=np.int64, sep=" ")
    except ValueError:
        values = np.empty(0, dtype=np.int64)
    if len(values) != len(offsets) or not _is_integer_text(buf, space):
        bad = _first_bad_token(data, offsets)
        raise UnusableFileError(
            str(path), f"not an integer: {data[offsets[bad]:].split()[0].decode()!r}",
            row=int(line[bad]) + 1,
        )
    first_of_line = np.concatenate([[True], line[1:] != line[:-1]])
    run_start = np.maximum.accumulate(np.where(first_of_line, np.arange(len(line)), 0))
    return pd.DataFrame(
        {"line": line, "position": np.arange(len(line)) - run_start, "value": values}
    )


def _is_integer_text(buf: np.ndarray, space: np.ndarray) -> bool:
    """Only digits, signs and whitespace (so `1.5` cannot parse as two numbers)."""
    digit = (buf >= 48) & (buf <= 57)
    return bool(np.all(space | digit | (buf == 45)))


def _first_bad_token(data: bytes, offsets: np.ndarray) -> int:
    tokens = data.split()
    for i, token in enumerate(tokens):  # only runs on the error path, to name the token
        if not token.lstrip(b"-").isdigit():
            return i
    return min(len(tokens) - 1, len(offsets) - 1)
