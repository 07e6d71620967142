"""Training labels for circle placement: which users' UGC shows their circles, and which circles.

Only some users write posts, and what they write about is the most direct evidence of their
circles we have. The rule, and why:

* a user is *labelled* when they wrote at least `min_ugc` posts: one or two posts can be a
  one-off (a question in a circle the user is not part of), several posts show a pattern;
* their evidence per circle is the posts they wrote there plus `engaged_weight` times their
  comments/likes/shares on that circle's posts: engagement backs up a circle but is cheaper
  than writing, so it counts for less;
* circle c is a label when its share of the user's evidence is at least `min_share`
  (members of several circles split their posts), and the user's top circle is always a label,
  so every labelled user has at least one circle even when their posts are spread thin.

Users who never posted get no labels; the placer learns to place them from other behaviour.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError, RecsysError

logger = logging.getLogger(__name__)


class InsufficientLabelsError(RecsysError, ValueError):
    """Too few users' UGC shows their circles to learn placement (e.g. data without posts).

    Callers fall back to a rule that needs no labels (`HistoryFrequencyBaseline`).
    """


#: Engagement kinds the labels are made of; `features` leaves them out of the model's inputs.
LABEL_SOURCE_KINDS: tuple[str, ...] = ("posts_written",)


def ugc_labels(
    posts_written: sp.csr_matrix,
    posts_engaged: sp.csr_matrix,
    *,
    min_ugc: int = 3,
    min_share: float = 0.2,
    engaged_weight: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Circle labels of users whose posts show their circles.

    Parameters
    ----------
    posts_written : (n_users, n_circles) sparse count of posts each user wrote per circle.
    posts_engaged : (n_users, n_circles) sparse count of the user's engagements with posts,
        by the post's circle.
    min_ugc : posts a user must have written to be labelled; >= 1.
    min_share : share of a user's evidence a circle needs to be a label; in (0, 1].
    engaged_weight : weight of one engagement relative to one written post; >= 0.

    Returns
    -------
    labels : (n_users, n_circles) bool; all False for unlabelled users.
    labelled : (n_users,) bool.
    """
    if posts_written.shape != posts_engaged.shape:
        raise InvalidInputError(
            f"posts_written {posts_written.shape} and posts_engaged {posts_engaged.shape} "
            "must have the same (n_users, n_circles) shape"
        )
    if min_ugc < 1:
        raise InvalidInputError(f"min_ugc must be >= 1; got {min_ugc}")
    if not 0 < min_share <= 1:
        raise InvalidInputError(f"min_share must be in (0, 1]; got {min_share}")
    if engaged_weight < 0:
        raise InvalidInputError(f"engaged_weight must be >= 0; got {engaged_weight}")
    written = sp.csr_matrix(posts_written, dtype=np.float64)
    n_written = np.asarray(written.sum(axis=1)).ravel()
    labelled = n_written >= min_ugc
    # Only labelled rows are densified: memory follows the posters, not the whole user base.
    rows = np.flatnonzero(labelled)
    evidence = written[rows] + engaged_weight * sp.csr_matrix(posts_engaged, dtype=np.float64)[rows]
    evidence = evidence.toarray()
    share = evidence / evidence.sum(axis=1, keepdims=True)
    chosen = share >= min_share
    chosen[np.arange(len(rows)), np.argmax(share, axis=1)] = True
    labels = np.zeros(written.shape, dtype=bool)
    labels[rows] = chosen
    logger.info(
        "UGC labels: %d of %d users labelled (>= %d posts), %.2f circles each on average",
        len(rows),
        written.shape[0],
        min_ugc,
        chosen.sum() / max(len(rows), 1),
    )
    return labels, labelled
