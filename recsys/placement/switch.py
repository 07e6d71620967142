"""The per-segment switch between the placer's members and the plain rule's.

A learned placer lost to the plain rule for heavy users on data it never saw, so each segment
(the activity bands of item events, for users without enough posts to be labelled and for
labelled users apart) keeps the model's members only where held-out labelled copies show them
better than the rule's (micro F1 against their UGC labels). The unlabelled bands are judged on
copies without posts among their features (the rule never reads posts, and most users to place
have none); the labelled bands on the unthinned copies with posts. Labelled users are split by
band too: the model wins for labelled users as a whole but not for the heaviest of them, who
would otherwise pull the 40+ band below the rule.

"Show them better" is a paired bootstrap over the validation users: the model keeps a segment
only when it beats the rule in at least `confidence` of the resamples. Where a few hundred
heavy users cannot tell the two apart, a point estimate picked the model on noise and lost up
to 0.016 micro F1 to the rule on the planted truth; the rule is then the safe side, since the
issue asks placement never to lose to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.placement.augment import POSTS
from recsys.placement.decision import select_members
from recsys.placement.plain_rule import (
    BAND_NAMES,
    PLAIN_RULE_KIND,
    activity_band,
    item_event_totals,
    plain_rule_members,
)

#: Segments of the switch: the activity bands of unlabelled users, then of labelled users.
SEGMENTS: tuple[str, ...] = (*BAND_NAMES, *(f"labelled_{b}" for b in BAND_NAMES))
#: The segment of a labelled user is its band plus this.
LABELLED = len(BAND_NAMES)


@dataclass(frozen=True)
class ValidationCopies:
    """Held-out labelled copies, one row per copied user.

    Attributes
    ----------
    proba : (m, n_circles) the placer's affinities of the copies.
    labels : (m, n_circles) bool UGC labels of the copies.
    items : (m, n_circles) item-event counts the plain rule reads.
    users : (m,) the user each copy was made from (copies of one user resample together).
    """

    proba: np.ndarray
    labels: np.ndarray
    items: np.ndarray
    users: np.ndarray

    def __post_init__(self) -> None:
        n = {len(self.proba), len(self.labels), len(self.items), len(self.users)}
        if len(n) != 1:
            raise InvalidInputError("validation copies: proba, labels, items and users differ")

    def subset(self, rows: np.ndarray) -> ValidationCopies:
        return ValidationCopies(self.proba[rows], self.labels[rows], self.items[rows],
                                self.users[rows])  # fmt: skip


@dataclass(frozen=True)
class SwitchChoice:
    """What the switch decided, per segment (`SEGMENTS` order).

    Attributes
    ----------
    f1 : (n_segments, 2) validation micro F1 of the model and of the rule (NaN: no copies).
    model_wins : (n_segments,) share of bootstrap resamples where the model's F1 was higher.
    use_rule : (n_segments,) bool, the rule's members for the segment's users.
    """

    f1: np.ndarray
    model_wins: np.ndarray
    use_rule: np.ndarray


def micro_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = np.count_nonzero(pred & truth)
    denominator = np.count_nonzero(pred) + np.count_nonzero(truth)
    return 2 * tp / denominator if denominator else 1.0


def paired_bootstrap_wins(
    model: np.ndarray,
    rule: np.ndarray,
    truth: np.ndarray,
    users: np.ndarray,
    *,
    n_boot: int,
    rng: np.random.Generator,
) -> float:
    """Share of user resamples in which the model's micro F1 beats the rule's (ties lose).

    Parameters
    ----------
    model, rule, truth : (m, n_circles) bool members of each row.
    users : (m,) user of each row; rows of one user are resampled together (its copies are
        not independent evidence).
    """
    _, group = np.unique(users, return_inverse=True)
    n_groups = int(group.max(initial=-1)) + 1
    if not n_groups:
        return 0.0
    per_row = np.stack([
        (model & truth).sum(axis=1), model.sum(axis=1),
        (rule & truth).sum(axis=1), rule.sum(axis=1), truth.sum(axis=1),
    ], axis=1).astype(np.float64)  # fmt: skip
    stats = np.zeros((n_groups, per_row.shape[1]))
    np.add.at(stats, group, per_row)
    wins = 0
    chunk = max(1, min(n_boot, 2_000_000 // n_groups))
    uniform = np.full(n_groups, 1.0 / n_groups)
    for start in range(0, n_boot, chunk):
        weights = rng.multinomial(n_groups, uniform, size=min(chunk, n_boot - start))
        tp_m, pred_m, tp_r, pred_r, true = (weights @ stats).T
        f1_m = 2 * tp_m / np.maximum(pred_m + true, 1e-12)
        f1_r = 2 * tp_r / np.maximum(pred_r + true, 1e-12)
        wins += int(np.count_nonzero(f1_m > f1_r))
    return wins / n_boot


def choose_segments(
    bands: ValidationCopies,
    labelled: ValidationCopies,
    thresholds: np.ndarray,
    *,
    min_members: int,
    max_members: int | None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    random_state: int = 0,
) -> SwitchChoice:
    """Per segment, the model's and the rule's validation F1 and which one places its users:
    the model only where it wins at least `confidence` of `n_boot` paired resamples."""
    if not 0 < confidence < 1 or n_boot < 1:
        raise InvalidInputError(
            f"confidence must be in (0, 1) and n_boot >= 1; got {confidence}, {n_boot}"
        )
    rng = np.random.default_rng(random_state)
    f1 = np.full((len(SEGMENTS), 2), np.nan)
    wins = np.zeros(len(SEGMENTS))
    for s in range(len(SEGMENTS)):
        copies = labelled if s >= LABELLED else bands
        rows = activity_band(copies.items.sum(axis=1)) == s % LABELLED
        if not rows.any():
            continue
        seg = copies.subset(rows)
        model = select_members(seg.proba, thresholds, min_members=min_members,
                               max_members=max_members)  # fmt: skip
        rule = plain_rule_members(seg.items)
        truth = np.asarray(seg.labels, bool)
        f1[s] = [micro_f1(model, truth), micro_f1(rule, truth)]
        wins[s] = paired_bootstrap_wins(model, rule, truth, seg.users, n_boot=n_boot, rng=rng)
    return SwitchChoice(f1=f1, model_wins=wins, use_rule=wins < confidence)


def user_segments(engagement: Mapping[str, sp.spmatrix], min_ugc: int) -> np.ndarray:
    """(n_users,) segment of each user: its activity band, offset by `LABELLED` for users with
    at least `min_ugc` posts."""
    posts = np.asarray(sp.csr_matrix(engagement[POSTS]).sum(axis=1)).ravel()
    band = activity_band(item_event_totals(engagement))
    return np.where(posts >= min_ugc, LABELLED + band, band)


def upgrade_use_rule(use_rule: np.ndarray) -> np.ndarray:
    """`use_rule` of a placer saved with one labelled segment (5 flags) in today's segments."""
    use_rule = np.asarray(use_rule, bool)
    if len(use_rule) == LABELLED + 1:
        return np.concatenate([use_rule[:LABELLED], np.repeat(use_rule[LABELLED], LABELLED)])
    if len(use_rule) != len(SEGMENTS):
        raise InvalidInputError(f"use_rule has {len(use_rule)} segments; expected {len(SEGMENTS)}")
    return use_rule


def apply_switch(
    members: np.ndarray,
    use_rule: np.ndarray,
    engagement: Mapping[str, sp.spmatrix] | None,
    min_ugc: int,
) -> np.ndarray:
    """`members` with the plain rule's members for users of the segments in `use_rule`.

    A user without item events keeps the model's members whatever their segment: the rule
    would place them in no circle, and the circles of a user with no history are all their
    feed has to go on (the runtime's circle chain).
    """
    if not use_rule.any():
        return members
    if engagement is None:
        raise InvalidInputError(
            "this placer uses the plain rule for segments "
            f"{[SEGMENTS[s] for s in np.flatnonzero(use_rule)]}: pass engagement"
        )
    rule_users = use_rule[user_segments(engagement, min_ugc)]
    rule_users &= item_event_totals(engagement) > 0
    if len(rule_users) != len(members):
        raise InvalidInputError(f"engagement has {len(rule_users)} users; proba {len(members)}")
    members = members.copy()
    members[rule_users] = plain_rule_members(engagement[PLAIN_RULE_KIND])[rule_users]
    return members
