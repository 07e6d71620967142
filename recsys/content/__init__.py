"""Content embeddings for items and the map that places text-only items in the CF factor space.

`documents` builds one text per item, `encoder` turns texts into vectors, `factor_map` maps
those vectors to CF item factors, `placer` chains the two for catalogue refresh, and
`cold_start` measures how well cold items placed that way are ranked.
"""

from recsys.content.cold_start import (
    evaluate_cold_items,
    heldout_interactions,
    place_cold_items,
    split_cold_items,
)
from recsys.content.documents import documents_from_tables, item_documents
from recsys.content.encoder import ContentEncoder
from recsys.content.factor_map import ContentToFactorMap
from recsys.content.placer import ContentPlacer

__all__ = [
    "ContentEncoder",
    "ContentPlacer",
    "ContentToFactorMap",
    "documents_from_tables",
    "evaluate_cold_items",
    "heldout_interactions",
    "item_documents",
    "place_cold_items",
    "split_cold_items",
]
