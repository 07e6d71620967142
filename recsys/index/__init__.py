"""Vector indexes (faiss) for user -> item, item -> item and item -> audience retrieval."""

from recsys.index.recall import exact_search, measure_recall, recall_at_k
from recsys.index.vector_index import IndexConfig, VectorIndex

__all__ = ["IndexConfig", "VectorIndex", "exact_search", "measure_recall", "recall_at_k"]
