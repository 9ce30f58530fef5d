"""A page's parts -> its Document and fingerprint (pure: no requests).

A page arrives as its record (body converted to Markdown) and what was fetched beside it: its
attachments as documents, its comments, its audience. `assemble` appends the comments under
`## Comments`, puts the audience on the page and on each of its images and files, and computes
the fingerprint a sync target stores, from the same parts the bodiless listing compares
(inventory.py), so the two never drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from llama_index.core.schema import Document

from .attachments import Attached
from .audience import Audience
from .comments import PageComment, comments_digest, comments_section
from .documents import PageRecord, page_document
from .fingerprint import Fingerprint
from .markdown import ConversionContext, ConvertedBody, storage_to_markdown


@dataclass(frozen=True)
class PageParts:
    """What a page brings besides its body (None: not asked for in this run)."""

    attached: Attached
    comments: list[PageComment] | None = None
    audience: Audience | None = None
    includes: tuple[tuple[str, str, str, str], ...] = ()  # see includes.Resolution.parts


@dataclass(frozen=True)
class AssembledPage:
    document: Document
    record: PageRecord
    parts: PageParts

    @property
    def fingerprint(self) -> Fingerprint:
        """Computed when a sync target asks for it (a plain load does not)."""
        return fingerprint_of(self.record, self.parts)


def assemble(
    record: PageRecord,
    converted: ConvertedBody,
    parts: PageParts,
    base_url: str,
    names: Mapping[str, str],
    unreadable_comment: Callable[[str], None],
) -> AssembledPage:
    """The page's Document (comments appended, audience on it and its attachments) and its
    fingerprint. A comment that cannot be converted is left out, its heading kept, and
    `unreadable_comment(reason)` told; it never turns into error text."""
    markdown = converted.markdown
    if parts.comments is not None:
        context = ConversionContext(base_url, record.id, record.space.key, names)
        section = comments_section(
            parts.comments, lambda body: _comment_text(body, context, unreadable_comment)
        )
        markdown = f"{markdown.rstrip()}\n\n{section}" if section else markdown
    document = page_document(record, markdown, base_url)
    if parts.comments is not None:
        document.metadata["comment_count"] = len(parts.comments)
    if parts.audience is not None:
        for labelled in (document, *parts.attached.images, *parts.attached.files):
            labelled.metadata.update(parts.audience.metadata())
    return AssembledPage(document, record, parts)


def fingerprint_of(record: PageRecord, parts: PageParts) -> Fingerprint:
    return Fingerprint.of(
        record.version,
        record.path,
        files=parts.attached.digest or None,
        comments=None if parts.comments is None else comments_digest(parts.comments),
        audience=None if parts.audience is None else parts.audience.digest(),
        includes=parts.includes,
    )


def _comment_text(body: str, context: ConversionContext, unreadable: Callable[[str], None]) -> str:
    try:
        return storage_to_markdown(body, context).markdown
    except Exception as exc:  # one unreadable comment must not cost the page
        unreadable(f"a comment could not be converted ({type(exc).__name__}: {exc})")
        return ""
