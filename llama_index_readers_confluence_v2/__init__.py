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
from .client import ConfluenceClient, Connection, HttpSettings, RetryPolicy
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
    ImportCancelled,
    ImportRunning,
    InvalidRequestError,
    NotFoundError,
    OversizedError,
    PermissionDeniedError,
    RateLimitError,
    RequestRefusedError,
    TransportError,
    UnknownArgumentError,
)
from .events import (
    AttachmentFailedEvent,
    AttachmentProcessedEvent,
    AttachmentProcessingStartedEvent,
    AttachmentSkippedEvent,
    ConfluenceEvent,
    FileType,
    PageDataFetchCompletedEvent,
    PageDataFetchStartedEvent,
    PageFailedEvent,
    PageSkippedEvent,
    TotalPagesToProcessEvent,
)
from .files import AttachmentInfo
from .fingerprint import Fingerprint
from .markdown import ConversionContext, ConvertedBody, storage_to_markdown
from .reader import ConfluenceReader
from .recent import Checkpoint
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
from .urls import (
    BlogPostSelection,
    CqlSelection,
    FolderSelection,
    InstanceSelection,
    LabelSelection,
    PageSelection,
    Selection,
    SpaceSelection,
    TitleSelection,
    classify,
    id_to_tiny,
    parse_url,
    tiny_to_id,
)

if TYPE_CHECKING:
    from .sinks.h2ogpte import H2OGPTeCollection, ingest_from_confluence

_LAZY = {"H2OGPTeCollection": "sinks.h2ogpte", "ingest_from_confluence": "sinks.h2ogpte"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AttachmentFailedEvent",
    "AttachmentInfo",
    "AttachmentProcessedEvent",
    "AttachmentProcessingStartedEvent",
    "AttachmentSkippedEvent",
    "Audience",
    "AudiencePostprocessor",
    "AudienceUnknown",
    "AuthError",
    "BadArgumentError",
    "BadURLError",
    "BlogPostSelection",
    "Change",
    "Checkpoint",
    "ConfluenceClient",
    "ConfluenceCredential",
    "ConfluenceError",
    "ConfluenceEvent",
    "ConfluenceReader",
    "Connection",
    "ConversionContext",
    "ConvertedBody",
    "CqlSelection",
    "CredentialStore",
    "DEFAULT_SCOPES",
    "Failure",
    "FileRejected",
    "FileType",
    "Fingerprint",
    "FolderSelection",
    "H2OGPTeCollection",
    "H2OGPTeIngestError",
    "HttpSettings",
    "ImageRejected",
    "ImportCancelled",
    "ImportReport",
    "ImportRunning",
    "InstanceSelection",
    "InvalidRequestError",
    "LabelSelection",
    "LoadRequest",
    "LocalCollection",
    "NotFoundError",
    "OAuthCredential",
    "OversizedError",
    "PageDataFetchCompletedEvent",
    "PageDataFetchStartedEvent",
    "PageFailedEvent",
    "PageNode",
    "PageRecord",
    "PageRelabel",
    "PageRemoval",
    "PageSelection",
    "PageSkippedEvent",
    "PageTree",
    "PageUnchanged",
    "PageUpsert",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestRefusedError",
    "RetryPolicy",
    "SearchHit",
    "Selection",
    "SpaceInfo",
    "SpaceSelection",
    "SpaceSummary",
    "StoredCredential",
    "SyncReport",
    "SyncTarget",
    "TitleSelection",
    "TotalPagesToProcessEvent",
    "TransportError",
    "TreeNode",
    "UnknownArgumentError",
    "Viewer",
    "audience_filters",
    "classify",
    "id_to_tiny",
    "ingest_from_confluence",
    "login",
    "may_read",
    "parse_url",
    "storage_to_markdown",
    "sync",
    "tiny_to_id",
]
