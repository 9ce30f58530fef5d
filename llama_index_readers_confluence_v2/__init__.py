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
from .oauth import DEFAULT_SCOPES, OAuthCredential, login
from .reader import ConfluenceReader, Failure, ImportReport
from .storage import ConversionContext, ConvertedBody, storage_to_markdown
from .store import CredentialStore, StoredCredential
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
    "CredentialStore",
    "DEFAULT_SCOPES",
    "Failure",
    "ImportReport",
    "NotFoundError",
    "OAuthCredential",
    "PageRecord",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "SpaceInfo",
    "StoredCredential",
    "TransportError",
    "TreeNode",
    "id_to_tiny",
    "login",
    "parse_url",
    "storage_to_markdown",
    "tiny_to_id",
]
