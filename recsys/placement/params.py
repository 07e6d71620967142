"""The placer's hyper-parameters: their names (for `get_params` and persistence) and checks.

`CirclePlacer.__init__` only stores them (scikit-learn manners); `fit` checks them here, so a
wrong value fails with one line naming it and what is expected.
"""

from __future__ import annotations

from typing import Any

from recsys.errors import InvalidInputError

#: Constructor parameters of `CirclePlacer`, in documentation order.
PLACER_PARAMS: tuple[str, ...] = (
    "C", "calibration", "min_members", "max_members", "calibration_fraction",
    "max_train_users", "n_copies", "min_ugc", "min_label_posts", "min_share",
    "engaged_weight", "feature_post_share", "prior_strength", "min_labelled",
    "member_count", "switch_confidence", "random_state",
)  # fmt: skip


def check_placer_params(p: Any) -> None:
    """Raise InvalidInputError for the first parameter of `p` out of its range."""
    if p.C <= 0:
        raise InvalidInputError(f"C must be > 0; got {p.C}")
    if p.calibration not in ("sigmoid", "isotonic", "none"):
        raise InvalidInputError(
            f"calibration must be 'sigmoid', 'isotonic' or 'none'; got {p.calibration!r}"
        )
    if not 0 < p.calibration_fraction < 1:
        raise InvalidInputError(
            f"calibration_fraction must be in (0, 1); got {p.calibration_fraction}"
        )
    if not 0 <= p.feature_post_share < 1:
        raise InvalidInputError(f"feature_post_share must be in [0, 1); got {p.feature_post_share}")
    if p.n_copies < 1 or p.max_train_users < 1 or p.min_ugc < p.min_label_posts:
        raise InvalidInputError(
            "need n_copies >= 1, max_train_users >= 1 and min_ugc >= min_label_posts; got "
            f"{p.n_copies}, {p.max_train_users}, {p.min_ugc} < {p.min_label_posts}"
        )
    if p.member_count not in ("expected", "f1"):
        raise InvalidInputError(f"member_count must be 'expected' or 'f1'; got {p.member_count!r}")
    if p.min_labelled < 2:
        raise InvalidInputError(f"min_labelled must be >= 2; got {p.min_labelled}")
    if p.min_members < 0 or (p.max_members is not None and p.max_members < max(p.min_members, 1)):
        raise InvalidInputError(
            f"need 0 <= min_members <= max_members; got {p.min_members}, {p.max_members}"
        )
    if not 0 < p.switch_confidence < 1:
        raise InvalidInputError(f"switch_confidence must be in (0, 1); got {p.switch_confidence}")
