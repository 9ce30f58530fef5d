"""Where imports go: the embedded local collection, a LlamaIndex vector index (any vector
store), and h2oGPTe (optional extra)."""

from .local import LocalCollection, SearchHit
from .vector_index import IndexTarget

__all__ = ["IndexTarget", "LocalCollection", "SearchHit"]
