"""Circle placement: calibrated circle affinities and member circles for every user."""

from recsys.placement.baseline import HistoryFrequencyBaseline, history_counts
from recsys.placement.features import circle_centroids, pair_features
from recsys.placement.labels import InsufficientLabelsError, ugc_labels
from recsys.placement.placer import CirclePlacer
from recsys.placement.social import friend_matrix, load_friends

__all__ = [
    "CirclePlacer",
    "HistoryFrequencyBaseline",
    "InsufficientLabelsError",
    "circle_centroids",
    "friend_matrix",
    "history_counts",
    "load_friends",
    "pair_features",
    "ugc_labels",
]
