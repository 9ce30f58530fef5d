"""The h2oGPTe adapter, on the real `h2ogpte` client (an optional extra, imported lazily).

Pages go up as Markdown files and images as image files (`upload`, with the page or image URL
as `uri`), are ingested into the collection with per-document metadata (`ingest_uploads`), and
the job's `failed` and `errors` are checked: a failed job can still report completed. Re-imports
replace only changed pages: the new version is ingested before the old documents are deleted,
so a page is never missing; a crash in between leaves a duplicate the next run removes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from llama_index.core.schema import Document, ImageDocument

from ..audience import PERMISSION_KEYS
from ..credentials import ConfluenceCredential
from ..errors import BadArgumentError, H2OGPTeIngestError
from ..extras import require
from ..reader import ConfluenceReader
from ..report import SyncReport
from ..sync import sync

logger = logging.getLogger(__name__)

PAGE_KEYS = ("page_id", "title", "path", "space_key", "version", "url", "last_modified", "labels")
SPLIT_KEY = "confluence_audience_split"  # marks the collections an AudienceCollections made
CONFLICT = "conflict"
CHECKPOINTS_KEY = "confluence_checkpoints"  # collection metadata: {scope: checkpoint}


def require_h2ogpte() -> Any:
    return require("h2ogpte", "h2ogpte", "the h2oGPTe adapter")


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
        self._metadata: dict[str, dict[str, Any]] = {}  # document id -> its metadata
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
        self._metadata = {}
        self._attachments = {}
        for document in self._all_documents():
            metadata = _metadata_of(document)
            if metadata.get("source") != "confluence" or metadata.get("confluence_scope") != scope:
                continue
            page_id = str(metadata.get("page_id"))
            self._documents.setdefault(page_id, []).append(str(document.id))
            self._metadata[str(document.id)] = metadata
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

    def checkpoint(self, scope: str) -> str | None:
        """Kept in the collection's metadata, one per scope."""
        held = self._collection_metadata().get(CHECKPOINTS_KEY) or {}
        found = held.get(scope) if isinstance(held, dict) else None
        return None if found is None else str(found)

    def save_checkpoint(self, scope: str, checkpoint: str) -> None:
        metadata = self._collection_metadata()
        held = metadata.get(CHECKPOINTS_KEY)
        checkpoints = {**(held if isinstance(held, dict) else {}), scope: checkpoint}
        self.client.update_collection_metadata(
            self.collection_id, {**metadata, CHECKPOINTS_KEY: checkpoints}
        )

    def _collection_metadata(self) -> dict[str, Any]:
        collection = self.client.get_collection(self.collection_id)
        return dict(getattr(collection, "metadata_dict", None) or {})

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

    def relabel(
        self, scope: str, page_id: str, metadata: Mapping[str, Any], fingerprint: str
    ) -> None:
        """A page's audience changed: each of its documents takes the new permission metadata
        (h2oGPTe replaces a document's metadata whole, so the rest is sent again)."""
        self.finish()
        for document_id in self._documents.get(page_id, []):
            stored = {**self._metadata.get(document_id, {}), **metadata}
            if stored.get("kind") == "page":
                stored["fingerprint"] = fingerprint
            self.client.update_document_metadata(document_id, stored)
            self._metadata[document_id] = stored

    def holds(self, page_id: str) -> bool:
        """Whether a page is held (read by `known`)."""
        return page_id in self._documents

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
        chosen.update({key: page.metadata[key] for key in PERMISSION_KEYS if key in page.metadata})
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


class AudienceCollections:
    """One h2oGPTe collection per audience: every page (with its images and files) goes to the
    collection of the people who may read it, so a collection can be shared in h2oGPTe with
    exactly them (h2oGPTe shares by its own user names and groups, not Confluence's ids: each
    collection's metadata names the Confluence audience to share it with). Needs
    `include_permissions=True`. A page whose audience changes moves to the other collection
    (sent again); collections are found again on the next run by their metadata.

    >>> target = AudienceCollections(client, "Engineering wiki")
    >>> sync(reader, target, space_key="ENG", include_permissions=True)
    >>> target.collections  # {audience: collection id}
    """

    def __init__(self, client: Any, name: str, **collection_options: Any) -> None:
        self.client = client
        self.name = name
        self.options = collection_options
        self.original_files = H2OGPTeCollection.ORIGINAL_FILES
        self.collections: dict[str, str] = {}  # audience digest -> collection id
        self._targets: dict[str, H2OGPTeCollection] = {}
        self._scope = ""

    def __repr__(self) -> str:
        return f"AudienceCollections({self.name!r}, {len(self.collections)} collections)"

    def known(self, scope: str) -> dict[str, str]:
        self._find_collections()
        fingerprints: dict[str, str] = {}
        for target in self._targets.values():
            fingerprints.update(target.known(scope))
        return fingerprints

    def known_attachments(self, scope: str) -> dict[str, str]:
        held: dict[str, str] = {}
        for target in self._targets.values():
            held.update(target.known_attachments(scope))
        return held

    def begin(self, scope: str, description: str) -> None:
        self._scope = scope
        for target in self._targets.values():
            target.begin(scope, description)

    def upsert(
        self,
        scope: str,
        page: Document,
        images: list[Document],
        fingerprint: str,
        **attachments: Any,
    ) -> None:
        if "allowed_users" not in page.metadata:
            raise BadArgumentError(
                "AudienceCollections splits by who may read each page: pass "
                "include_permissions=True to sync"
            )
        target = self._target_for(page.metadata)
        target.upsert(scope, page, images, fingerprint, **attachments)
        moved = [o for o in self._targets.values() if o is not target and o.holds(page.id_)]
        if moved:  # to another audience: in the new collection first, so it is never missing
            target.finish()
        for other in moved:
            other.remove(scope, page.id_)

    def remove(self, scope: str, page_id: str) -> None:
        for target in self._targets.values():
            if target.holds(page_id):
                target.remove(scope, page_id)

    def finish(self) -> None:
        for target in self._targets.values():
            target.finish()

    def _find_collections(self) -> None:
        offset = 0
        while True:
            batch = self.client.list_recent_collections(offset=offset, limit=100)
            for collection in batch:
                metadata = getattr(collection, "metadata_dict", None) or {}
                if metadata.get(SPLIT_KEY) == self.name and metadata.get("audience"):
                    self._adopt(str(metadata["audience"]), str(collection.id))
            if len(batch) < 100:
                return
            offset += len(batch)

    def _target_for(self, metadata: Mapping[str, Any]) -> H2OGPTeCollection:
        audience = {key: metadata.get(key) for key in PERMISSION_KEYS}
        digest = hashlib.sha256(repr(sorted(audience.items())).encode()).hexdigest()[:16]
        if digest not in self._targets:
            name = f"{self.name} ({_audience_title(audience)})"
            collection_id = str(
                self.client.create_collection(name=name, description="Imported from Confluence")
            )
            self.client.update_collection_metadata(
                collection_id, {SPLIT_KEY: self.name, "audience": digest, **audience}
            )
            self._adopt(digest, collection_id).begin(self._scope, "")
        return self._targets[digest]

    def _adopt(self, digest: str, collection_id: str) -> H2OGPTeCollection:
        self.collections[digest] = collection_id
        self._targets[digest] = H2OGPTeCollection(self.client, collection_id, **self.options)
        return self._targets[digest]


def _audience_title(audience: Mapping[str, Any]) -> str:
    if audience.get("anonymous"):
        return "public"
    users = [u for u in str(audience.get("allowed_users") or "").split(",") if u]
    groups = [g for g in str(audience.get("allowed_groups") or "").split(",") if g]
    if not users and not groups:
        return "nobody known"
    kind = "restricted" if audience.get("restricted") else "space readers"
    return f"{kind}: {len(users)} users, {len(groups)} groups"


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
