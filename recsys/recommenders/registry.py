"""Every recommender by name: the one place a config's `model = "..."` is resolved.

A plain dict, on purpose: adding a model is one import and one entry, and a typo in a config
fails with the list of known names instead of an import error.
"""

from __future__ import annotations

from recsys.errors import ConfigError
from recsys.recommenders.als import ALSRecommender
from recsys.recommenders.base import Recommender
from recsys.recommenders.bpr import BPRRecommender
from recsys.recommenders.ease import EASERecommender
from recsys.recommenders.itemknn import ItemKNNRecommender
from recsys.recommenders.popularity import PopularityRecommender
from recsys.recommenders.ranked import RankedRecommender
from recsys.recommenders.shipped import ShippedRecommender

RECOMMENDERS: dict[str, type[Recommender]] = {
    ALSRecommender.name: ALSRecommender,
    BPRRecommender.name: BPRRecommender,
    ItemKNNRecommender.name: ItemKNNRecommender,
    EASERecommender.name: EASERecommender,
    PopularityRecommender.name: PopularityRecommender,
    ShippedRecommender.name: ShippedRecommender,
    RankedRecommender.name: RankedRecommender,
}


def recommender_class(name: str) -> type[Recommender]:
    """The recommender class registered as `name`; ConfigError lists the known names."""
    try:
        return RECOMMENDERS[name]
    except KeyError:
        raise ConfigError(f"unknown recommender {name!r}; known: {sorted(RECOMMENDERS)}") from None
