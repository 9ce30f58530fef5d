"""LlamaIndex instrumentation events, with llama-index-readers-confluence's names and fields, so
handlers written for it keep working.

They are emitted on the dispatcher named `llama_index.readers.confluence.base` (the name that
reader's README tells users to attach to) and propagate to the root dispatcher, so a handler
added to either receives them::

    from llama_index.core.instrumentation import get_dispatcher
    get_dispatcher().add_event_handler(MyHandler())  # or get_dispatcher(DISPATCHER_NAME)

Handlers run in the thread that runs the import; an exception in a handler is swallowed by
LlamaIndex and does not affect the import.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

# re-exported by llama-index-core from llama-index-instrumentation without an explicit export
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.base import BaseEvent  # type: ignore[attr-defined]
from llama_index.core.schema import Document

DISPATCHER_NAME = "llama_index.readers.confluence.base"
dispatcher = get_dispatcher(DISPATCHER_NAME)
logger = logging.getLogger(__name__)


class FileType(Enum):
    """Kinds of attached file, as keys of `custom_parsers` (the incumbent's enum)."""

    IMAGE = "image"
    DOCUMENT = "document"
    TEXT = "text"
    HTML = "html"
    CSV = "csv"
    MARKDOWN = "md"
    SPREADSHEET = "spreadsheet"
    PRESENTATION = "presentation"
    PDF = "pdf"
    UNKNOWN = "unknown"


class ConfluenceEvent(BaseEvent):
    """The events' common base: each is named by its class, as the incumbent's are."""

    @classmethod
    def class_name(cls) -> str:
        return cls.__name__


class TotalPagesToProcessEvent(ConfluenceEvent):
    """How many pages will be fetched (emitted when pages are listed before their bodies:
    incremental sync, and loads with process_document_callback)."""

    total_pages: int


class PageDataFetchStartedEvent(ConfluenceEvent):
    """A page's body arrived and its processing starts."""

    page_id: str


class PageDataFetchCompletedEvent(ConfluenceEvent):
    """A page's Document is ready (its images and files follow it)."""

    page_id: str
    document: Document


class PageSkippedEvent(ConfluenceEvent):
    """process_document_callback said no: the page's body was not fetched."""

    page_id: str


class PageFailedEvent(ConfluenceEvent):
    """A page could not be imported (also in `last_report.failures`)."""

    page_id: str
    error: str


class _AttachmentEvent(ConfluenceEvent):
    page_id: str
    attachment_id: str
    attachment_name: str
    attachment_type: str
    attachment_size: int
    attachment_link: str


class AttachmentProcessingStartedEvent(_AttachmentEvent):
    """An image or file is about to be downloaded."""


class AttachmentProcessedEvent(_AttachmentEvent):
    """An image or file became a Document."""


class AttachmentSkippedEvent(_AttachmentEvent):
    """An image or file left out by choice (a filter, no parser, a cap, not embedded)."""

    reason: str


class AttachmentFailedEvent(_AttachmentEvent):
    """An image or file that could not be downloaded or read."""

    error: str


def emit(event_type: type[BaseEvent], **fields: Any) -> None:
    """Send one event; an event that cannot be built is logged, never raised into the import."""
    try:
        event = event_type(**fields)
    except Exception as exc:  # a field of an unexpected type: the import goes on
        logger.debug("instrumentation event %s not sent: %s", event_type.__name__, exc)
        return
    dispatcher.event(event)


def attachment_fields(
    page_id: str, attachment_id: str | None, name: str, media_type: str, size: Any, link: str
) -> dict[str, Any]:
    return {
        "page_id": page_id,
        "attachment_id": attachment_id or "",
        "attachment_name": name,
        "attachment_type": media_type,
        "attachment_size": size if isinstance(size, int) else 0,
        "attachment_link": link,
    }
