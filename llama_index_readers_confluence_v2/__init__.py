"""Confluence Cloud (REST API v2) reader for LlamaIndex.

from llama_index_readers_confluence_v2 import ConfluenceReader
reader = ConfluenceReader(base_url="https://your-site.atlassian.net/wiki",
                          user_name="you@example.com", api_token="...")
documents = reader.load_data(space_key="ENG")
"""

from .auth import ConfluenceCredential
from .client import RetryPolicy
from .documents import PageRecord, SpaceInfo, TreeNode
from .errors import (
    AuthError,
    BadArgumentError,
    BadURLError,
    ConfluenceError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TransportError,
)
from .reader import ConfluenceReader, Failure, ImportReport
from .storage import ConversionContext, ConvertedBody, storage_to_markdown
from .urls import id_to_tiny, parse_url, tiny_to_id

__all__ = [
    "AuthError",
    "BadArgumentError",
    "BadURLError",
    "ConfluenceCredential",
    "ConfluenceError",
    "ConfluenceReader",
    "ConversionContext",
    "ConvertedBody",
    "Failure",
    "ImportReport",
    "NotFoundError",
    "PageRecord",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "SpaceInfo",
    "TransportError",
    "TreeNode",
    "id_to_tiny",
    "parse_url",
    "storage_to_markdown",
    "tiny_to_id",
]
