"""An embedding that needs no model and no network: words hashed into a fixed-size vector.

For the demo and the command line's `--to-index` on a machine without a model; lexical (a page
is near a query when they share words), not semantic. For real use give your own LlamaIndex
embedding (`--embed-model module:Class`, or `IndexTarget(..., embed_model=...)`).
"""

from __future__ import annotations

import hashlib
import importlib
import math
import re

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import Field

from .errors import BadArgumentError

WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedding(BaseEmbedding):
    """Each word (lower-cased) adds one to a coordinate its hash picks (signed); the vector
    is scaled to length 1, so cosine similarity counts shared words."""

    dimensions: int = Field(default=512, gt=0)
    model_name: str = "hashing-512"

    @classmethod
    def class_name(cls) -> str:
        return "HashingEmbedding"

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            number = int.from_bytes(digest, "big")
            vector[number % self.dimensions] += 1.0 if number & 1 << 63 else -1.0
        length = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / length for v in vector]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)


def embed_model_named(spec: str) -> BaseEmbedding:
    """`hashing` (HashingEmbedding), or `module:name` naming a LlamaIndex embedding class (or
    a function returning one) to build with no arguments, as the command line takes it."""
    if spec == "hashing":
        return HashingEmbedding()
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise BadArgumentError(
            f"--embed-model {spec!r}: give `hashing` or module:Class, e.g. "
            "llama_index.embeddings.openai:OpenAIEmbedding"
        )
    try:
        made = getattr(importlib.import_module(module_name), name)()
    except (ImportError, AttributeError) as exc:
        raise BadArgumentError(
            f"--embed-model {spec!r} could not be loaded ({exc}); install its package"
        ) from exc
    if not isinstance(made, BaseEmbedding):
        raise BadArgumentError(
            f"--embed-model {spec!r} made a {type(made).__name__}, not an embedding"
        )
    return made
