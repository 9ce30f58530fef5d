"""The h2oGPTe adapter, on the real `h2ogpte` client (an optional extra, imported lazily).

Pages go up as Markdown files and images as image files (`upload`, with the page or image URL
as `uri`), are ingested into the collection with per-document metadata (`ingest_uploads`), and
the job's `failed` and `errors` are checked: a failed job can still report completed. Re-imports
replace only changed pages: the new version is ingested before the old documents are deleted,
so a page is never missing; a crash in between leaves a duplicate the next run removes.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from llama_index.core.schema import Document, ImageDocument

from ..credentials import ConfluenceCredential
from ..errors import ConfluenceError, H2OGPTeIngestError
from ..reader import ConfluenceReader
from ..sync import SyncReport, sync

logger = logging.getLogger(__name__)

INSTALL_HINT = "the h2oGPTe adapter needs the h2ogpte client: pip install 'llama-index-readers-confluence-v2[h2ogpte]'"
PAGE_KEYS = ("page_id", "title", "path", "space_key", "version", "url", "last_modified", "labels")
CONFLICT = "conflict"


def require_h2ogpte() -> Any:
    try:
        import h2ogpte
    except ImportError as exc:
        raise ConfluenceError(INSTALL_HINT) from exc
    return h2ogpte


class H2OGPTeCollection:
    """An h2oGPTe collection as a sync target (see `sync`).

    Attached PDF and Office files go up as the files themselves (h2oGPTe parses them, with OCR
    for scans); other attached files as their extracted text. `original_files` changes which
    suffixes go up as they are (empty: every file as text)."""

    ORIGINAL_FILES = frozenset(
        {".pdf", ".docx", ".doc", ".pptx", ".ppt", ".xlsx", ".xls", ".odt", ".rtf"}
    )

    def __init__(
        self,
        client: Any,
        collection_id: str,
        *,
        extra_metadata: dict[str, Any] | None = None,
        batch_pages: int = 25,
        ingest_options: dict[str, Any] | None = None,
        original_files: Iterable[str] | None = None,
    ) -> None:
        self.client = client
        self.collection_id = collection_id
        self.extra_metadata = dict(extra_metadata or {})
        self.batch_pages = max(1, batch_pages)
        self.ingest_options = dict(ingest_options or {})
        chosen = self.ORIGINAL_FILES if original_files is None else original_files
        self.original_files = frozenset(suffix.lower() for suffix in chosen)
        self._documents: dict[str, list[str]] = {}
        self._attachments: dict[str, tuple[str, str]] = {}  # id -> (document id, fingerprint)
        self._pending: list[tuple[str, list[str], dict[str, dict[str, Any]], set[str]]] = []

    def __repr__(self) -> str:
        return f"H2OGPTeCollection({self.collection_id!r})"

    @classmethod
    def create(
        cls, client: Any, name: str, description: str = "Imported from Confluence", **kwargs: Any
    ) -> H2OGPTeCollection:
        collection_id = client.create_collection(name=name, description=description)
        return cls(client, str(collection_id), **kwargs)

    # ---- the sync target ----------------------------------------------------------------------

    def known(self, scope: str) -> dict[str, str]:
        fingerprints: dict[str, str] = {}
        self._documents = {}
        self._attachments = {}
        for document in self._all_documents():
            metadata = _metadata_of(document)
            if metadata.get("source") != "confluence" or metadata.get("confluence_scope") != scope:
                continue
            page_id = str(metadata.get("page_id"))
            self._documents.setdefault(page_id, []).append(str(document.id))
            if metadata.get("kind") == "page":
                seen = fingerprints.get(page_id)
                fingerprints[page_id] = (
                    CONFLICT if seen is not None else str(metadata.get("fingerprint"))
                )
            elif metadata.get("fingerprint") and metadata.get("attachment_id"):
                attachment_id = str(metadata["attachment_id"])
                footprint = CONFLICT if attachment_id in self._attachments else None
                self._attachments[attachment_id] = (
                    str(document.id),
                    footprint or str(metadata["fingerprint"]),
                )
        return fingerprints

    def known_attachments(self, scope: str) -> dict[str, str]:
        """Images and files held in `scope` by fingerprint (read by `known`, called first)."""
        return {key: footprint for key, (_, footprint) in self._attachments.items()}

    def begin(self, scope: str, description: str) -> None:
        self._scope = scope

    def upsert(
        self,
        scope: str,
        page: Document,
        images: list[Document],
        fingerprint: str,
        *,
        kept: Collection[str] = (),
        fingerprints: Mapping[str, str] | None = None,
        originals: Mapping[str, bytes] | None = None,
    ) -> None:
        """Queue a page with its images and files for ingestion (`finish` sends the batch)."""
        metadata: dict[str, dict[str, Any]] = {}
        name = _file_name(page.metadata.get("title", ""), page.id_, "md")
        upload_id = self._upload(name, page.text.encode(), page.metadata.get("url", ""))
        metadata[upload_id] = {
            **self._base(scope, page),
            "kind": "page",
            "fingerprint": fingerprint,
        }
        for attached in images:
            name, data, kind = _attached_file(attached, (originals or {}).get(attached.id_))
            upload_id = self._upload(name, data, attached.metadata.get("url", ""))
            metadata[upload_id] = {
                **self._base(scope, page),
                "kind": kind,
                "attachment_id": attached.id_,
                "file_name": attached.metadata.get("file_name"),
                "media_type": attached.metadata.get("media_type"),
                "fingerprint": (fingerprints or {}).get(attached.id_),
            }
        kept_documents = {self._attachments[key][0] for key in kept if key in self._attachments}
        self._pending.append((page.id_, list(metadata), metadata, kept_documents))
        if len(self._pending) >= self.batch_pages:
            self.finish()

    def remove(self, scope: str, page_id: str) -> None:
        self.finish()
        stale = self._documents.pop(page_id, [])
        if stale:
            self._check(
                self.client.delete_documents_from_collection(self.collection_id, stale), "delete"
            )

    def finish(self) -> None:
        """Ingest what is queued, then delete what it superseded."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        upload_ids = [upload for _, uploads, _, _ in pending for upload in uploads]
        metadata = {key: value for _, _, meta, _ in pending for key, value in meta.items()}
        job = self.client.ingest_uploads(
            self.collection_id, upload_ids, metadata=metadata, **self.ingest_options
        )
        self._check(job, "ingest")
        superseded = [
            document
            for page_id, _, _, kept in pending
            for document in self._documents.pop(page_id, [])
            if document not in kept
        ]
        if superseded:
            self._check(
                self.client.delete_documents_from_collection(self.collection_id, superseded),
                "delete",
            )

    # ---- helpers ------------------------------------------------------------------------------

    def _base(self, scope: str, page: Document) -> dict[str, Any]:
        chosen = {key: page.metadata.get(key) for key in PAGE_KEYS}
        return {**self.extra_metadata, **chosen, "source": "confluence", "confluence_scope": scope}

    def _upload(self, name: str, data: bytes, uri: str) -> str:
        return str(self.client.upload(name, io.BytesIO(data), uri=uri or None))

    def _all_documents(self) -> Iterable[Any]:
        offset = 0
        while True:
            batch = self.client.list_documents_in_collection(
                self.collection_id, offset=offset, limit=100
            )
            yield from batch
            if len(batch) < 100:
                return
            offset += len(batch)

    def _check(self, job: Any, what: str) -> None:
        errors = list(getattr(job, "errors", None) or [])
        failed = getattr(job, "failed", 0) or 0
        if errors or failed or getattr(job, "canceled", False):
            detail = "; ".join(str(error) for error in errors) or f"{failed:.0%} failed"
            raise H2OGPTeIngestError(
                f"h2oGPTe could not {what} documents in collection {self.collection_id}: {detail}. "
                "What was already ingested is kept; re-run to retry the rest"
            )


def _metadata_of(document: Any) -> dict[str, Any]:
    for name in ("metadata_dict", "meta_data_dict"):
        value = getattr(document, name, None)
        if isinstance(value, dict):
            return value
    return {}


def _attached_file(document: Document, original: bytes | None) -> tuple[str, bytes, str]:
    """An image or attached file as an upload: (file name, content, kind)."""
    file_name = str(document.metadata.get("file_name") or "file")
    if isinstance(document, ImageDocument):
        return f"{document.id_}-{file_name}", base64.b64decode(document.image or ""), "image"
    if original is not None:
        return f"{document.id_}-{file_name}", original, "attachment"
    return _file_name(file_name, document.id_, "md"), document.text.encode(), "attachment"


def _file_name(title: str, page_id: str, extension: str) -> str:
    safe = re.sub(r"[^\w\- ]+", "", title).strip().replace(" ", "-")[:80] or "page"
    return f"{safe}-{page_id}.{extension}"


def ingest_from_confluence(
    client: Any,
    collection_id: str,
    base_url: str,
    page_id: str | int | list[str | int] | None = None,
    credentials: ConfluenceCredential | None = None,
    include_attachments: bool = True,
    include_children: bool = True,
    metadata: dict[str, Any] | None = None,
    *,
    space_key: str | None = None,
    url: str | list[str] | None = None,
    show_progress: bool = False,
    **reader_options: Any,
) -> SyncReport:
    """Import Confluence into an h2oGPTe collection, the way h2oGPTe's own call is shaped.

    `page_id` takes one id or a list; `space_key` and `url` select too. Re-running it updates
    only what changed. `reader_options` go to `ConfluenceReader` (e.g. `credential_id`).
    """
    reader = ConfluenceReader(base_url, credentials=credentials, **reader_options)
    target = H2OGPTeCollection(client, collection_id, extra_metadata=metadata)
    report = sync(
        reader,
        target,
        page_ids=page_id,
        space_key=space_key,
        url=url,
        include_children=include_children if page_id is not None else False,
        include_attachments=include_attachments,
        show_progress=show_progress,
    )
    return report
