"""Where imports go: the embedded local collection, and h2oGPTe (optional extra)."""

from .local import LocalCollection, SearchHit

__all__ = ["LocalCollection", "SearchHit"]
