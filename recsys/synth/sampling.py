"""Vectorised sampling helpers and id formatting shared by the generator's passes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from recsys.contract import TIMESTAMP

US = 1_000_000  # microseconds per second
HOUR = 3600 * US
DAY = 24 * HOUR


def rng_for(seed: int, stage: int, index: int = 0) -> np.random.Generator:
    """The random stream of one (stage, chunk): independent of every other, fixed by the seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stage, index)))


def lognormal_with_mean(
    rng: np.random.Generator, mean: float, sigma: float, size: int
) -> np.ndarray:
    """Lognormal draws whose expectation is `mean` (sigma is the spread of log values)."""
    return rng.lognormal(np.log(mean) - sigma * sigma / 2, sigma, size)


def pick_slots(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw: for each row of `weights` (n, k) and uniform u (n,), a column.

    Rows need a positive sum; columns of weight 0 are never drawn.
    """
    cum = np.cumsum(weights, axis=1)
    cum /= cum[:, -1:]
    slot = (u[:, None] >= cum).sum(axis=1)
    return np.minimum(slot, weights.shape[1] - 1)


class SegmentSampler:
    """Draws entities by weight inside a segment (e.g. items of a circle) with one searchsorted.

    Entities are laid out by segment on one cumulative axis where segment s spans (s, s + 1], so a
    draw for segment s with uniform u is the first entity whose cumulative value exceeds s + u.
    """

    def __init__(self, segment: np.ndarray, weight: np.ndarray, n_segments: int) -> None:
        segment = np.asarray(segment, dtype=np.int64)
        weight = np.asarray(weight, dtype=np.float64)
        self.order = np.argsort(segment, kind="stable")
        seg = segment[self.order]
        w = weight[self.order]
        totals = np.bincount(segment, weights=weight, minlength=n_segments)
        self.nonempty = totals > 0
        cum = np.cumsum(w)
        starts = np.searchsorted(seg, np.arange(n_segments), side="left")
        ends = np.searchsorted(seg, np.arange(n_segments), side="right")
        base = np.concatenate([[0.0], cum])[starts]
        within = cum - base[seg]
        safe = np.where(totals > 0, totals, 1.0)
        cdf = seg + within / safe[seg]
        last = ends[self.nonempty] - 1
        cdf[last] = np.arange(n_segments)[self.nonempty] + 1.0
        self.cdf = cdf

    def sample(self, segments: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One entity per (segment, uniform) pair; every segment must be non-empty."""
        pos = np.searchsorted(self.cdf, segments + u, side="right")
        return self.order[np.minimum(pos, len(self.order) - 1)]


def id_width(n: int, minimum: int) -> int:
    return max(minimum, len(str(max(n - 1, 0))))


_PAIRS = np.array([[48 + k // 10 for k in range(100)], [48 + k % 10 for k in range(100)]], np.uint8)


def format_ids(prefix: str, index: np.ndarray, width: int) -> pa.Array:
    """String ids like 'u000123' (prefix + zero-padded index); a negative index becomes null.

    Built straight from a byte matrix of digits (much faster than formatting strings one by one).
    """
    index = np.asarray(index, dtype=np.int64)
    n = len(index)
    width = max(width, len(str(int(index.max()))) if n else width)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    row = len(head) + width
    digits = np.empty((row, n), dtype=np.uint8)  # column-major while filling: contiguous rows
    digits[: len(head)] = head[:, None]
    rest = np.maximum(index, 0)
    if n and int(rest.max()) < 2**32:
        rest = rest.astype(np.uint32)  # 32-bit division is much faster
    col = row - 1
    while col >= len(head) + 1:  # two digits per division
        rest, pair = np.divmod(rest, 100)
        digits[col - 1 : col + 1] = _PAIRS[:, pair]
        col -= 2
    if col >= len(head):
        digits[col] = 48 + rest % 10
    buf = np.ascontiguousarray(digits.T)
    small = (n + 1) * row < 2**31
    offsets = np.arange(0, (n + 1) * row, row, dtype=np.int32 if small else np.int64)
    null = index < 0
    validity = None
    if null.any():
        validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
    kind = pa.StringArray if small else pa.LargeStringArray
    arr = kind.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(buf.reshape(-1)), validity, int(null.sum())
    )
    return arr if small else arr.cast(pa.string())


def timestamps(us: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64)).cast(TIMESTAMP)


def uniform_between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray | int) -> np.ndarray:
    """Integer microseconds uniform in [lo, hi) (lo < hi assumed)."""
    span = np.asarray(hi, dtype=np.int64) - lo
    return lo + (rng.random(len(lo)) * span).astype(np.int64)
