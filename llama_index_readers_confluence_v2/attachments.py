"""Embedded images of a page: resolve `ac:image` references, download, check (one page at a time)."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any

from .client import ConfluenceClient
from .errors import ConfluenceError, ImageRejected, NotFoundError, OversizedError
from .images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    CheckedImage,
    check_image,
    is_image_type,
)
from .markdown import ImageReference

V2 = "/wiki/api/v2"


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
) -> list[FetchedImage | SkippedImage]:
    """Every referenced image of the page, in reference order: fetched, or skipped with a reason."""
    if not references:
        return []
    attachments = await _attachments_by_name(client, page_id, references)
    return list(
        await asyncio.gather(
            *(
                _fetch_one(client, page_id, ref, attachments.get(ref.file_name), settings)
                for ref in references
            )
        )
    )


async def _attachments_by_name(
    client: ConfluenceClient, page_id: str, references: tuple[ImageReference, ...]
) -> dict[str, dict[str, Any]]:
    params: dict[str, Any] = {"limit": 250}
    if len(references) == 1:  # the API filters by one file name, never by several
        params["filename"] = references[0].file_name
    found: dict[str, dict[str, Any]] = {}
    async for attachment in client.paginate(f"{V2}/pages/{page_id}/attachments", params):
        found.setdefault(str(attachment.get("title")), attachment)
    return found


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
        return SkippedImage(reference, attachment_id, f"download failed: {exc}")
    return FetchedImage(reference, attachment_id, checked)
