"""The per-segment switch between the placer's members and the plain rule's.

A learned placer lost to the plain rule for heavy users on data it never saw, so each segment
(the activity bands of item events, then labelled users) keeps the model's members only where
they beat the rule's on held-out labelled copies (micro F1 against their UGC labels). Bands are
judged on copies without posts among their features (the rule never reads posts, and most users
to place have none); the labelled segment on the unthinned copies with posts.
"""

from __future__ import annotations

from collections.abc import Mapping

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

#: Segments of the switch: the activity bands, then labelled users.
SEGMENTS: tuple[str, ...] = (*BAND_NAMES, "labelled")
LABELLED = len(BAND_NAMES)

#: (proba, labels, item-event counts) of validation copies, one row per copied user.
Copies = tuple[np.ndarray, np.ndarray, np.ndarray]


def _micro_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = np.count_nonzero(pred & truth)
    denominator = np.count_nonzero(pred) + np.count_nonzero(truth)
    return 2 * tp / denominator if denominator else 1.0


def segment_f1(
    bands: Copies,
    labelled: Copies,
    thresholds: np.ndarray,
    *,
    min_members: int,
    max_members: int | None,
) -> np.ndarray:
    """(len(SEGMENTS), 2) micro F1 of the model's and the rule's members per segment (NaN for
    a segment without validation copies)."""
    out = np.full((len(SEGMENTS), 2), np.nan)
    for s in range(len(SEGMENTS)):
        proba, labels, items = labelled if s == LABELLED else bands
        rows = (
            np.ones(len(items), bool) if s == LABELLED else activity_band(items.sum(axis=1)) == s
        )
        if not rows.any():
            continue
        model = select_members(proba[rows], thresholds, min_members=min_members,
                               max_members=max_members)  # fmt: skip
        rule = plain_rule_members(items[rows])
        out[s] = [_micro_f1(model, labels[rows]), _micro_f1(rule, labels[rows])]
    return out


def user_segments(engagement: Mapping[str, sp.spmatrix], min_ugc: int) -> np.ndarray:
    """(n_users,) segment of each user: labelled (>= `min_ugc` posts) or activity band."""
    posts = np.asarray(sp.csr_matrix(engagement[POSTS]).sum(axis=1)).ravel()
    band = activity_band(item_event_totals(engagement))
    return np.where(posts >= min_ugc, LABELLED, band)


def apply_switch(
    members: np.ndarray,
    use_rule: np.ndarray,
    engagement: Mapping[str, sp.spmatrix] | None,
    min_ugc: int,
) -> np.ndarray:
    """`members` with the plain rule's members for users of the segments in `use_rule`."""
    if not use_rule.any():
        return members
    if engagement is None:
        raise InvalidInputError(
            "this placer uses the plain rule for segments "
            f"{[SEGMENTS[s] for s in np.flatnonzero(use_rule)]}: pass engagement"
        )
    rule_users = use_rule[user_segments(engagement, min_ugc)]
    if len(rule_users) != len(members):
        raise InvalidInputError(f"engagement has {len(rule_users)} users; proba {len(members)}")
    members = members.copy()
    members[rule_users] = plain_rule_members(engagement[PLAIN_RULE_KIND])[rule_users]
    return members
