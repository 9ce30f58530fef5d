"""A page's attachments: the images embedded in it, and its attached files (one page at a time).

Images are resolved from the body's `ac:image` references, downloaded and checked. Files are
everything else attached: each is offered to `attachment_filter` (and the incumbent's
`process_attachment_callback`) before anything is downloaded, downloaded under a byte cap,
checked (zip bombs), and parsed: text and HTML in a thread, PDF and Office files in worker
processes with a time limit, readers given in `file_extractor` in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.schema import Document

from .client import ConfluenceClient
from .documents import PageRecord, attachment_document, carried_from_page, image_document
from .errors import (
    ConfluenceError,
    FileRejected,
    ImageRejected,
    NotFoundError,
    OversizedError,
    stops_the_run,
)
from .events import (
    AttachmentFailedEvent,
    AttachmentProcessedEvent,
    AttachmentProcessingStartedEvent,
    AttachmentSkippedEvent,
    attachment_fields,
    emit,
)
from .files import (
    ARCHIVE_SUFFIXES,
    DEFAULT_MAX_FILE_BYTES,
    FILE_READERS,
    AttachmentInfo,
    ParserPool,
    check_archive,
    check_original,
    has_parser,
    parse_builtin,
    parse_with_reader,
)
from .images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    CheckedImage,
    check_image,
    is_image_type,
)
from .listings import ContainerListings, container_id, search_by_page
from .markdown import ConvertedBody, ImageReference, attachment_url
from .report import ImportReport
from .routes import V2, collection, cql_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageSettings:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    include_svg: bool = True


@dataclass(frozen=True)
class FetchedImage:
    reference: ImageReference
    attachment_id: str
    image: CheckedImage

    @property
    def base64(self) -> str:
        return base64.b64encode(self.image.data).decode()


@dataclass(frozen=True)
class SkippedImage:
    reference: ImageReference
    attachment_id: str | None
    reason: str


async def fetch_page_images(
    client: ConfluenceClient,
    page_id: str,
    references: tuple[ImageReference, ...],
    settings: ImageSettings,
    listing: list[dict[str, Any]],
) -> list[FetchedImage | SkippedImage]:
    """Every referenced image of the page (its attachments `listing`), in reference order:
    fetched, or skipped with a reason."""
    if not references:
        return []
    attachments: dict[str, dict[str, Any]] = {}
    for attachment in listing:
        attachments.setdefault(str(attachment.get("title")), attachment)
    return list(
        await asyncio.gather(
            *(
                _fetch_one(client, page_id, ref, attachments.get(ref.file_name), settings)
                for ref in references
            )
        )
    )


async def _fetch_one(
    client: ConfluenceClient,
    page_id: str,
    reference: ImageReference,
    attachment: dict[str, Any] | None,
    settings: ImageSettings,
) -> FetchedImage | SkippedImage:
    if attachment is None:
        return SkippedImage(reference, None, "no attachment of that name on the page")
    attachment_id = str(attachment["id"])
    media_type = str(attachment.get("mediaType") or "")
    if not is_image_type(media_type):
        return SkippedImage(
            reference, attachment_id, f"not an image ({media_type or 'unknown type'})"
        )
    size = attachment.get("fileSize")
    if isinstance(size, int) and size > settings.max_bytes:
        return SkippedImage(
            reference, attachment_id, f"{size:,} bytes is over the {settings.max_bytes:,}-byte cap"
        )
    container = str(attachment.get("pageId") or page_id)
    try:
        data = await client.download(container, attachment_id, settings.max_bytes)
        checked = check_image(
            data, media_type, max_pixels=settings.max_pixels, allow_svg=settings.include_svg
        )
    except OversizedError as exc:
        return SkippedImage(reference, attachment_id, str(exc))
    except NotFoundError:
        return SkippedImage(
            reference, attachment_id, "the attachment vanished before it could be downloaded"
        )
    except ImageRejected as exc:
        return SkippedImage(reference, attachment_id, str(exc))
    except ConfluenceError as exc:
        if stops_the_run(exc):
            raise
        return SkippedImage(reference, attachment_id, f"download failed: {exc}")
    return FetchedImage(reference, attachment_id, checked)


async def list_attachments(
    client: ConfluenceClient, page_id: str, kind: str = "page"
) -> list[dict[str, Any]]:
    """Every current attachment of a page (or blog post), 250 a request."""
    path = f"{V2}/{collection(kind)}/{page_id}/attachments"
    return [item async for item in client.paginate(path, {"limit": 250})]


class AttachmentListings(ContainerListings[dict[str, Any]]):
    """Where a page's attachments are learnt, whichever costs fewer requests: for a space
    imported whole, one CQL search of its attachments, 200 a request, shared by all its pages
    (a 2,000-page space with 400 files: 2 requests instead of 2,000); otherwise each page's own
    listing, 250 a request."""

    def __init__(self, client: ConfluenceClient, whole_spaces: Callable[[str], bool]) -> None:
        super().__init__(client, whole_spaces, space_attachments, list_attachments, "attachments")


async def space_attachments(
    client: ConfluenceClient, space_key: str
) -> dict[str, list[dict[str, Any]]]:
    """A space's current attachments by page id, through v1 CQL search (200 a request)."""
    cql = f"type = attachment and space = {cql_string(space_key)}"
    return await search_by_page(client, cql, "container,version", 200, _from_search)


def _from_search(raw: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """A v1 search hit in the v2 attachment shape the rest of this module reads, and its page."""
    extensions = raw.get("extensions") or {}
    media_type = extensions.get("mediaType") or (raw.get("metadata") or {}).get("mediaType")
    page = container_id(raw)
    return page, {
        "id": str(raw["id"]),
        "title": raw.get("title"),
        "mediaType": media_type,
        "fileSize": extensions.get("fileSize"),
        "version": {"number": (raw.get("version") or {}).get("number")},
        "pageId": page,
    }


# ---- attached files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSettings:
    max_bytes: int = DEFAULT_MAX_FILE_BYTES
    attachment_filter: Callable[[AttachmentInfo], bool] | None = None
    file_extractor: Mapping[str, Any] = field(default_factory=dict)
    process_attachment_callback: Callable[..., Any] | None = None
    originals: frozenset[str] = frozenset()  # suffixes handed over as the file, not parsed
    temp_folder: str | None = None  # where file_extractor readers get their files


@dataclass(frozen=True)
class FetchedFile:
    info: AttachmentInfo
    text: str
    original: bytes | None = None


@dataclass(frozen=True)
class SkippedFile:
    info: AttachmentInfo
    reason: str


def attachment_info(raw: dict[str, Any], page_id: str, page_title: str) -> AttachmentInfo:
    size = raw.get("fileSize")
    version = (raw.get("version") or {}).get("number")
    return AttachmentInfo(
        attachment_id=str(raw["id"]),
        file_name=str(raw.get("title") or ""),
        media_type=str(raw.get("mediaType") or ""),
        file_size=size if isinstance(size, int) else None,
        version=version if isinstance(version, int) else None,
        page_id=str(raw.get("pageId") or page_id),
        page_title=page_title,
    )


def wanted(info: AttachmentInfo, settings: FileSettings) -> str | None:
    """Why a file is left out before download, or None when it is to be fetched."""
    if (
        not has_parser(info.suffix, settings.file_extractor)
        and info.suffix not in settings.originals
    ):
        return f"no parser for {info.suffix or 'files without a suffix'} ({info.media_type or 'unknown type'})"
    if settings.attachment_filter is not None and not settings.attachment_filter(info):
        return "left out by attachment_filter"
    callback = settings.process_attachment_callback
    if callback is not None:
        verdict = callback(info.media_type, info.file_size or 0, info.file_name)
        allowed, reason = verdict if isinstance(verdict, tuple) else (bool(verdict), "")
        if not allowed:
            return f"left out by process_attachment_callback{': ' + reason if reason else ''}"
    if info.file_size is not None and info.file_size > settings.max_bytes:
        return f"{info.file_size:,} bytes is over the {settings.max_bytes:,}-byte cap"
    return None


async def download_file(
    client: ConfluenceClient, info: AttachmentInfo, settings: FileSettings
) -> bytes | SkippedFile:
    """One attached file's bytes under the size cap, or why not."""
    try:
        return await client.download(info.page_id, info.attachment_id, settings.max_bytes)
    except OversizedError as exc:
        return SkippedFile(info, str(exc))
    except NotFoundError:
        return SkippedFile(info, "the attachment vanished before it could be downloaded")
    except ConfluenceError as exc:
        if stops_the_run(exc):
            raise
        return SkippedFile(info, f"download failed: {exc}")


async def read_file(
    info: AttachmentInfo, data: bytes, settings: FileSettings, pool: ParserPool
) -> FetchedFile | SkippedFile:
    """A downloaded file parsed (or checked, when it is handed over as it is); every failure
    becomes a reason, never text."""
    try:
        if info.suffix in settings.originals:
            check_original(info.suffix, data)
            return FetchedFile(info, "", data)
        text = await parse_file(info.suffix, data, settings, pool)
    except FileRejected as exc:
        return SkippedFile(info, str(exc))
    if not text.strip():
        return SkippedFile(info, "no text to extract (a scan without a text layer?)")
    return FetchedFile(info, text)


async def parse_file(suffix: str, data: bytes, settings: FileSettings, pool: ParserPool) -> str:
    if suffix in ARCHIVE_SUFFIXES:
        check_archive(data)
    reader = settings.file_extractor.get(suffix)
    if reader is not None:
        return await asyncio.to_thread(
            parse_with_reader, reader, suffix, data, settings.temp_folder
        )
    if suffix in FILE_READERS:
        return await pool.parse(suffix, data)
    return await asyncio.to_thread(parse_builtin, suffix, data)


def attachments_digest(listing: list[dict[str, Any]]) -> str:
    """The page's attachments as ids and versions: any file added, replaced or removed shows."""
    state = sorted(f"{a.get('id')}:{(a.get('version') or {}).get('number')}" for a in listing)
    return "files:" + hashlib.sha256(",".join(state).encode()).hexdigest()[:16]


def attachment_fingerprint(version: Any, carried: Mapping[str, Any], alt: str = "") -> str:
    """What a stored image or file document depends on: the attachment's version, and what the
    document carries of its page (a renamed or moved page rewrites its files' documents)."""
    state = json.dumps([alt, carried], sort_keys=True, default=str)
    return f"v{version}:" + hashlib.sha256(state.encode()).hexdigest()[:16]


def fingerprint_at_version(fingerprint: str, version: object) -> bool:
    """Whether a stored attachment fingerprint is of this version of the attachment."""
    return version is not None and fingerprint.startswith(f"v{version}:")


def _version(raw: Mapping[str, Any]) -> Any:
    return (raw.get("version") or {}).get("number")


@dataclass
class Attached:
    """A page's attachments as a target receives them."""

    digest: str  # the page's attachments as ids and versions (see `attachments_digest`)
    images: list[Document] = field(default_factory=list)
    files: list[Document] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # held by the target unchanged: not fetched
    fingerprints: dict[str, str] = field(default_factory=dict)  # of written and kept ones
    originals: dict[str, bytes] = field(default_factory=dict)  # files handed over as they are

    def keep(self, attachment_id: str, fingerprint: str) -> None:
        self.kept.append(attachment_id)
        self.fingerprints[attachment_id] = fingerprint


@dataclass
class Backlog:
    """The run's attachment work in progress: pages whose downloads are not all in, and bytes
    downloaded but not yet parsed. The reader takes in no more pages past a limit on either,
    so memory stays bounded while downloads and parsing keep going."""

    downloading_pages: int = 0
    unparsed_bytes: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition, repr=False)

    async def fewer_downloading(self, limit: int) -> None:
        """Return once no more than `limit` pages are downloading."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.downloading_pages <= limit)

    async def downloaded(self) -> None:
        async with self._changed:
            self.downloading_pages -= 1
            self._changed.notify_all()


@dataclass
class PageAttachments:
    """One run's attachments: a page's embedded images and attached files as Documents, every
    skip in the report with its reason. Those a sync target already holds at the same
    fingerprint (`known`: attachment id -> fingerprint) are kept there, not downloaded again."""

    listings: AttachmentListings
    images: ImageSettings
    files: FileSettings
    pool: ParserPool
    base_url: str
    report: ImportReport
    known: Mapping[str, str] = field(default_factory=dict)
    backlog: Backlog = field(default_factory=Backlog)

    async def of(self, record: PageRecord, converted: ConvertedBody) -> Attached:
        self.backlog.downloading_pages += 1
        try:
            attached, downloaded, carried = await self._download(record, converted)
        finally:
            await self.backlog.downloaded()
        await self._read_files(record, attached, downloaded, carried)
        self.report.kept += len(attached.kept)
        return attached

    async def _download(
        self, record: PageRecord, converted: ConvertedBody
    ) -> tuple[Attached, list[tuple[AttachmentInfo, bytes]], dict[str, Any]]:
        """The page's images, and its files' bytes (not parsed yet)."""
        listing = await self.listings.of_page(record.id, record.space.key, record.content_type)
        attached = Attached(attachments_digest(listing))
        carried = carried_from_page(record, self.base_url)
        embedded = {reference.file_name for reference in converted.images}
        taken_in: list[ImageReference] = []
        fetching: list[AttachmentInfo] = []
        for raw in listing:
            info = attachment_info(raw, record.id, record.title)
            if info.file_name in embedded:
                continue
            if is_image_type(info.media_type):
                if self.files.attachment_filter is not None and self.files.attachment_filter(info):
                    url = attachment_url(self.base_url, record.id, info.file_name)
                    taken_in.append(ImageReference(info.file_name, "", url))
                else:
                    self._skip(record, info, "not embedded")
                continue
            reason = wanted(info, self.files)
            if reason is not None:
                self._skip(record, info, reason)
            elif not self._kept(attached, info.attachment_id, info.version, carried):
                fetching.append(info)
        references = self._fresh_images(record, (*converted.images, *taken_in))
        _, downloaded = await asyncio.gather(
            self._images(record, attached, references, listing, carried),
            self._download_files(record, fetching),
        )
        return attached, downloaded, carried

    def _kept(self, attached: Attached, attachment_id: str, version: Any, *state: Any) -> bool:
        footprint = attachment_fingerprint(version, *state)
        if self.known.get(attachment_id) != footprint:
            return False
        attached.keep(attachment_id, footprint)
        return True

    def _fresh_images(
        self, record: PageRecord, references: tuple[ImageReference, ...]
    ) -> tuple[ImageReference, ...]:
        """Each image once per page (a page may show one several times)."""
        seen = self.report.seen_images
        fresh = []
        for reference in references:
            if (record.id, reference.file_name) not in seen:
                seen.add((record.id, reference.file_name))
                fresh.append(reference)
        return tuple(fresh)

    def _skip(
        self, record: PageRecord, info: AttachmentInfo, reason: str, *, failed: bool = False
    ) -> None:
        """Left out: by choice (a filter, no parser, a cap), or `failed` (download, parsing)."""
        self.report.skip(record.id, f"{info.file_name}: {reason}", info.attachment_id)
        fields = self._event_fields(record, info)
        if failed:
            emit(AttachmentFailedEvent, **fields, error=reason)
        else:
            emit(AttachmentSkippedEvent, **fields, reason=reason)

    def _event_fields(self, record: PageRecord, info: AttachmentInfo) -> dict[str, Any]:
        link = attachment_url(self.base_url, record.id, info.file_name)
        return attachment_fields(
            record.id, info.attachment_id, info.file_name, info.media_type, info.file_size, link
        )

    def _image_fields(
        self, record: PageRecord, reference: ImageReference, raw: Any
    ) -> dict[str, Any]:
        raw = raw or {}
        return attachment_fields(
            record.id,
            str(raw.get("id") or ""),
            reference.file_name,
            str(raw.get("mediaType") or ""),
            raw.get("fileSize"),
            reference.url,
        )

    async def _images(
        self,
        record: PageRecord,
        attached: Attached,
        references: tuple[ImageReference, ...],
        listing: list[dict[str, Any]],
        carried: Mapping[str, Any],
    ) -> None:
        by_name: dict[str, dict[str, Any]] = {}
        for raw in listing:
            by_name.setdefault(str(raw.get("title")), raw)
        fetching = []
        for reference in references:
            found = by_name.get(reference.file_name)
            state = (carried, reference.alt)
            if found is None or not self._kept(attached, str(found["id"]), _version(found), *state):
                fetching.append(reference)
        client = self.listings.client
        for reference in fetching:
            fields = self._image_fields(record, reference, by_name.get(reference.file_name))
            emit(AttachmentProcessingStartedEvent, **fields)
        fetched = await fetch_page_images(client, record.id, tuple(fetching), self.images, listing)
        for outcome in fetched:
            listed = by_name.get(outcome.reference.file_name)
            fields = self._image_fields(record, outcome.reference, listed)
            if not isinstance(outcome, FetchedImage):
                reason = f"{outcome.reference.file_name}: {outcome.reason}"
                self.report.skip_image(record.id, reason, outcome.attachment_id)
                emit(AttachmentSkippedEvent, **fields, reason=outcome.reason)
                continue
            self.report.images += 1
            emit(AttachmentProcessedEvent, **fields)
            version = _version(by_name[outcome.reference.file_name])
            footprint = attachment_fingerprint(version, carried, outcome.reference.alt)
            attached.fingerprints[outcome.attachment_id] = footprint
            attached.images.append(
                image_document(
                    record,
                    self.base_url,
                    attachment_id=outcome.attachment_id,
                    file_name=outcome.reference.file_name,
                    alt=outcome.reference.alt,
                    url=outcome.reference.url,
                    image_base64=outcome.base64,
                    mimetype=outcome.image.mimetype,
                    width=outcome.image.width,
                    height=outcome.image.height,
                )
            )

    async def _download_files(
        self, record: PageRecord, fetching: list[AttachmentInfo]
    ) -> list[tuple[AttachmentInfo, bytes]]:
        client = self.listings.client
        for info in fetching:
            emit(AttachmentProcessingStartedEvent, **self._event_fields(record, info))
        outcomes = await asyncio.gather(
            *(download_file(client, info, self.files) for info in fetching)
        )
        downloaded = []
        for info, outcome in zip(fetching, outcomes, strict=True):
            if isinstance(outcome, SkippedFile):
                self._skip(record, info, outcome.reason, failed=True)
            else:
                downloaded.append((info, outcome))
                self.backlog.unparsed_bytes += len(outcome)
        return downloaded

    async def _read_files(
        self,
        record: PageRecord,
        attached: Attached,
        downloaded: list[tuple[AttachmentInfo, bytes]],
        carried: Mapping[str, Any],
    ) -> None:
        try:
            outcomes = await asyncio.gather(
                *(read_file(info, data, self.files, self.pool) for info, data in downloaded)
            )
        finally:
            self.backlog.unparsed_bytes -= sum(len(data) for _, data in downloaded)
        for outcome in outcomes:
            if isinstance(outcome, SkippedFile):
                self._skip(record, outcome.info, outcome.reason, failed=True)
                continue
            self.report.attachments += 1
            info = outcome.info
            emit(AttachmentProcessedEvent, **self._event_fields(record, info))
            attached.fingerprints[info.attachment_id] = attachment_fingerprint(
                info.version, carried
            )
            if outcome.original is not None:
                attached.originals[info.attachment_id] = outcome.original
            attached.files.append(
                attachment_document(
                    record,
                    self.base_url,
                    attachment_id=info.attachment_id,
                    file_name=info.file_name,
                    media_type=info.media_type,
                    file_size=info.file_size,
                    version=info.version,
                    url=attachment_url(self.base_url, record.id, info.file_name),
                    text=outcome.text,
                )
            )
