"""Circle placement: calibrated circle affinities and member circles for every user."""

from recsys.placement.baseline import HistoryFrequencyBaseline, history_counts
from recsys.placement.features import circle_centroids, pair_features
from recsys.placement.labels import ugc_labels
from recsys.placement.placer import CirclePlacer

__all__ = [
    "CirclePlacer",
    "HistoryFrequencyBaseline",
    "circle_centroids",
    "history_counts",
    "pair_features",
    "ugc_labels",
]
