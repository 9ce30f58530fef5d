"""Confluence Cloud (REST API v2) reader for LlamaIndex.

from llama_index_readers_confluence_v2 import ConfluenceReader
reader = ConfluenceReader(base_url="https://your-site.atlassian.net/wiki",
                          user_name="you@example.com", api_token="...")
documents = reader.load_data(space_key="ENG")

Every public name is importable from here; the h2oGPTe adapter is resolved on first use, so
importing the package never needs the optional `h2ogpte` client.
"""

from typing import TYPE_CHECKING, Any

from .audience import Audience, AudiencePostprocessor, Viewer, audience_filters, may_read
from .browse import PageNode, PageTree, SpaceSummary
from .client import RetryPolicy
from .credential_store import CredentialStore, StoredCredential
from .credentials import DEFAULT_SCOPES, ConfluenceCredential, OAuthCredential
from .documents import PageRecord, SpaceInfo, TreeNode
from .errors import (
    AudienceUnknown,
    AuthError,
    BadArgumentError,
    BadURLError,
    ConfluenceError,
    FileRejected,
    H2OGPTeIngestError,
    ImageRejected,
    InvalidRequestError,
    NotFoundError,
    OversizedError,
    PermissionDeniedError,
    RateLimitError,
    RequestRefusedError,
    TransportError,
    UnknownArgumentError,
)
from .files import AttachmentInfo
from .fingerprint import Fingerprint
from .markdown import ConversionContext, ConvertedBody, storage_to_markdown
from .reader import ConfluenceReader
from .report import (
    Change,
    Failure,
    ImportReport,
    PageRelabel,
    PageRemoval,
    PageUnchanged,
    PageUpsert,
    SyncReport,
)
from .selection import LoadRequest
from .signin import login
from .sinks.local import LocalCollection, SearchHit
from .sync import SyncTarget, sync
from .urls import id_to_tiny, parse_url, tiny_to_id

if TYPE_CHECKING:
    from .sinks.h2ogpte import H2OGPTeCollection, ingest_from_confluence

_LAZY = {"H2OGPTeCollection": "sinks.h2ogpte", "ingest_from_confluence": "sinks.h2ogpte"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AttachmentInfo",
    "Audience",
    "AudiencePostprocessor",
    "AudienceUnknown",
    "AuthError",
    "BadArgumentError",
    "BadURLError",
    "Change",
    "ConfluenceCredential",
    "ConfluenceError",
    "ConfluenceReader",
    "ConversionContext",
    "ConvertedBody",
    "CredentialStore",
    "DEFAULT_SCOPES",
    "Failure",
    "FileRejected",
    "Fingerprint",
    "H2OGPTeCollection",
    "H2OGPTeIngestError",
    "ImageRejected",
    "ImportReport",
    "InvalidRequestError",
    "LoadRequest",
    "LocalCollection",
    "NotFoundError",
    "OAuthCredential",
    "OversizedError",
    "PageNode",
    "PageRecord",
    "PageRelabel",
    "PageRemoval",
    "PageTree",
    "PageUnchanged",
    "PageUpsert",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestRefusedError",
    "RetryPolicy",
    "SearchHit",
    "SpaceInfo",
    "SpaceSummary",
    "StoredCredential",
    "SyncReport",
    "SyncTarget",
    "TransportError",
    "TreeNode",
    "UnknownArgumentError",
    "Viewer",
    "audience_filters",
    "id_to_tiny",
    "ingest_from_confluence",
    "login",
    "may_read",
    "parse_url",
    "storage_to_markdown",
    "sync",
    "tiny_to_id",
]
