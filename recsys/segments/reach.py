"""Back-tested reach: how a segment chosen at the back-test's cut would have done.

The target is ranked exactly as a segment is, with the back-test fit's vectors (which never saw
the held-out period), over the users eligible at the cut; the curve counts, at growing audience
sizes, how many of them bought the target's items after the cut. A target with fewer than
`min_buyers` such buyers gets no curve (a precision over a handful of buyers says nothing), and
the answer says why, without telling how many there were.

From `SAMPLE_PAYS` times `sample` other eligible users on, the curve is estimated rather than
counted: the buyers are scored exactly and the other users through a sample of about `sample`
rows (one run of consecutive rows drawn from each stratum of neighbouring runs, so the vectors
are read in runs), each sampled user standing for (others / sampled) users. A buyer's rank is
then off by about sqrt(q (1 - q) / sample) of the audience, q the share above it (0.2% of the
audience at q = 0.1 with 200k sampled), and the back-test costs a sample's reads instead of a
second pass over every user vector (at 10M users, a fiftieth of it); the segment itself stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from recsys.bundle.parts.backtest import Backtest
from recsys.segments.scope import Resolved, buyers_of
from recsys.segments.scorer import Progress, Query, SegmentScorer


@dataclass(frozen=True)
class ReachPoint:
    """At audience `size`: `buyers` of the target after the cut among its best `size` users."""

    size: int
    buyers: int
    precision: float
    recall: float


@dataclass(frozen=True)
class Reach:
    """The back-test of one request.

    Attributes
    ----------
    curve : precision and cumulative buyers at growing sizes (empty with a `reason`).
    reason : why there is no curve, else None.
    cut, days : the back-test's cut (ISO time) and held-out period, None without a back-test.
    expected_buyers : buyers in the back-tested audience of the requested size.
    sampled : users other than the buyers the curve was estimated from (None: every eligible
        user was ranked, the curve is a count).
    """

    curve: tuple[ReachPoint, ...] = ()
    reason: str | None = None
    cut: str | None = None
    days: float | None = None
    expected_buyers: int | None = None
    sampled: int | None = None


def positive_ranks(
    scores: np.ndarray, positives: np.ndarray, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Sorted 0-based ranks of the positive users among the finite scores.

    Without `rng` a positive tied with other users is ranked last among them, so ties never
    flatter a curve; with `rng` ties are broken at random (a fair comparison of rankings with
    many ties, such as activity counts). Positives with a -inf score (not rankable) are left out.
    """
    if rng is None:
        finite = np.sort(scores[np.isfinite(scores)])
        s = scores[positives]
        s = s[np.isfinite(s)]
        return np.sort(len(finite) - np.searchsorted(finite, s, side="left") - 1)
    order = np.lexsort((rng.random(len(scores)), -scores))
    rank = np.empty(len(scores), dtype=np.int64)
    rank[order] = np.arange(len(scores))
    ranked = positives[np.isfinite(scores[positives])]
    return np.sort(rank[ranked])


def sampled_positive_ranks(
    positive_scores: np.ndarray, drawn_scores: np.ndarray, stands_for: float
) -> np.ndarray:
    """Sorted estimated 0-based ranks of the positives among every eligible user, from their
    exact scores and the scores of a uniform sample of the other users, each sampled user
    standing for `stands_for` of them. Ties rank a positive last, as `positive_ranks` does;
    positives with a -inf score are left out."""
    pos = np.sort(positive_scores[np.isfinite(positive_scores)])
    drawn = np.sort(drawn_scores[np.isfinite(drawn_scores)])
    others_above = len(drawn) - np.searchsorted(drawn, pos, side="left")
    positives_above = len(pos) - np.searchsorted(pos, pos, side="left") - 1
    return np.sort(stands_for * others_above + positives_above)


#: The curve is sampled from this many times `sample` other users on: below, a whole pass
#: costs about what the sample's reads do (1M users, 200k sampled: 13 vs 10-16 ms).
SAMPLE_PAYS = 10


def samples(users: int, sample: int) -> bool:
    """Whether a reach curve over `users` other users is estimated from a sample of `sample`."""
    return 0 < sample and SAMPLE_PAYS * sample <= users

#: Consecutive rows drawn together: a run is read as a stream, where scattered single rows cost
#: a memory latency each (200k random rows of 1M took longer than the whole pass over them).
SAMPLE_RUN = 64


def sample_runs(n: int, about: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted rows of 0..n-1, about `about` of them: the rows fall into aligned runs of
    `SAMPLE_RUN`, the runs into strata of `step` neighbouring runs, and one run is drawn at
    random from each stratum. Every row has the same chance (1 / step); a trend in row order
    is spread evenly over the sample, and a pattern that repeats within a run (every other
    user) cannot bias it, as an every-k-th-row sample could."""
    n_runs = -(-n // SAMPLE_RUN)
    step = max(1, n_runs // max(1, -(-about // SAMPLE_RUN)))
    firsts = np.arange(0, n_runs, step)
    picked = firsts + rng.integers(0, step, size=len(firsts))
    picked = picked[picked < n_runs]
    rows = (picked[:, None] * SAMPLE_RUN + np.arange(SAMPLE_RUN)).ravel()
    return rows[rows < n]


def curve_sizes(sizes: tuple[int, ...], eligible: int, requested: int) -> list[int]:
    """The configured sizes below the eligible count, the requested size, and everyone."""
    return sorted(({s for s in sizes if s < eligible} | {min(requested, eligible), eligible}) - {0})


def backtest_reach(
    backtest: Backtest | None,
    scorer: SegmentScorer | None,
    resolved: Resolved,
    *,
    exclude_buyers: bool,
    size: int,
    members: np.ndarray,
    sizes: tuple[int, ...],
    min_buyers: int,
    sample: int = 0,
    progress: Progress | None = None,
) -> Reach:
    """The reach curve of `resolved` ranked by the back-test fit (`scorer`, fitted on its
    vectors); `members` are the bundle's circle memberships (for a circle filter). With at
    least `SAMPLE_PAYS` times `sample` other eligible users (0: never) the curve is estimated
    from a sample of about `sample` rows (seeded by the scorer's `random_state`)."""
    if backtest is None or scorer is None:
        return Reach(
            reason="the bundle has no back-test (its events carry no times, or "
            "backtest.enabled was false when it was trained)"
        )
    cut = datetime.fromtimestamp(backtest.cut_ts / 1e6, UTC).isoformat()
    known = Reach(cut=cut, days=round(backtest.days, 3))
    if resolved.kind == "circle":
        return _without(
            known,
            "circle targets rank by circle affinities, which were placed on "
            "all events; the bundle holds no placement from before the cut",
        )
    n_items = backtest.n_items
    if len(resolved.seeds):
        query = Query("seeds", resolved.seeds)
    else:
        items = resolved.items[resolved.items < n_items]
        if len(items) == 0:
            return _without(known, "the target's items are newer than the back-test's cut")
        weights = None if resolved.kind == "item" else backtest.item_users[items]
        query = Query("items", items, weights)
    eligible = scorer.has_vector()
    if len(resolved.filter_circles):
        eligible &= np.asarray(members[:, resolved.filter_circles]).any(axis=1)
    excluded = resolved.exclude_items[resolved.exclude_items < n_items]
    if exclude_buyers and len(excluded):
        eligible &= ~buyers_of(backtest.bought_before, excluded)
    eligible[resolved.seeds] = False
    truth = resolved.truth_items[resolved.truth_items < n_items]
    positives = np.flatnonzero(buyers_of(backtest.bought_after, truth) & eligible) if len(
        truth) else np.empty(0, np.int64)  # fmt: skip
    if len(positives) < min_buyers:
        return _without(
            known,
            f"fewer than {min_buyers} buyers of the target after the "
            "back-test's cut among the eligible users",
        )
    n_others = int(eligible.sum()) - len(positives)  # the positives are eligible
    sampled = None
    if samples(n_others, sample):
        others = eligible.copy()
        others[positives] = False
        rows = sample_runs(len(eligible), sample, np.random.default_rng(scorer.random_state))
        pos_scores = scorer.scores_of(query, positives, progress=progress)
        drawn_scores = scorer.scores_of(query, rows, progress=progress)[others[rows]]
        stands_for = n_others / max(len(drawn_scores), 1)
        ranks = sampled_positive_ranks(pos_scores, drawn_scores, stands_for)
        n_eligible = int(np.isfinite(pos_scores).sum()) + round(
            stands_for * int(np.isfinite(drawn_scores).sum()))
        sampled = int(len(drawn_scores))
    else:
        scores = scorer.scores(query, progress=progress)
        scores[~eligible] = -np.inf
        ranks = positive_ranks(scores, positives)
        n_eligible = int(np.isfinite(scores).sum())
    points = []
    for n in curve_sizes(sizes, n_eligible, size):
        hits = int(np.searchsorted(ranks, n, side="left"))
        points.append(ReachPoint(n, hits, hits / n, hits / len(positives)))
    expected = int(np.searchsorted(ranks, min(size, n_eligible), side="left"))
    return Reach(tuple(points), None, known.cut, known.days, expected, sampled)


def _without(known: Reach, reason: str) -> Reach:
    return Reach(reason=reason, cut=known.cut, days=known.days)
