"""Circle placement: calibrated circle affinities and member circles for every user."""

from recsys.placement.baseline import HistoryFrequencyBaseline, history_counts
from recsys.placement.features import placement_feature_batches, placement_features
from recsys.placement.labels import ugc_labels
from recsys.placement.placer import CirclePlacer

__all__ = [
    "CirclePlacer",
    "HistoryFrequencyBaseline",
    "history_counts",
    "placement_feature_batches",
    "placement_features",
    "ugc_labels",
]
