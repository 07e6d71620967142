"""Vector indexes (faiss) for user -> item, item -> item and item -> audience retrieval."""

from recsys.index.recall import measure_recall, recall_at_k
from recsys.index.vector_index import IndexConfig, VectorIndex

__all__ = ["IndexConfig", "VectorIndex", "measure_recall", "recall_at_k"]
