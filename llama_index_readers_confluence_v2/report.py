"""What a run produces besides documents: its report, and the changes a sync applies.

One report type serves a load and a sync: the reader fills it as the run goes (the screen reads
it live at `reader.last_report`), and `sync` adds what it wrote (added, updated, deleted) to the
same object; nothing is copied from one report into another.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llama_index.core.schema import Document

# Every skipped image and failed page is logged here once, as it is added to the report; a
# caller that prints the report itself (the CLI) silences this one logger.
logger = logging.getLogger(__name__)


@dataclass
class Failure:
    """A page (or image) that could not be imported, and why."""

    page_id: str
    reason: str
    attachment_id: str | None = None


@dataclass
class ImportReport:
    """What a run did: read it from `reader.last_report` after loading, or as `sync` returns it."""

    pages: int = 0  # pages imported (new and changed ones)
    added: int = 0  # of those, pages a sync target did not hold
    updated: int = 0  # and pages it held at another version, place or content
    deleted: int = 0  # pages a sync removed (they left the selection)
    images: int = 0
    attachments: int = 0
    unchanged: int = 0
    listed: int = 0  # pages a sync's bodiless listing found (what it goes through); 0 unknown
    kept: int = 0  # images and files a sync target already held unchanged: not downloaded
    failures: list[Failure] = field(default_factory=list)
    skipped_images: list[Failure] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)  # attached files left out, and why
    # pages imported with an unknown audience (marked restricted, nobody named), and why
    unknown_audiences: list[Failure] = field(default_factory=list)
    relabeled: int = 0  # pages whose audience changed, re-labelled without their bodies
    requests: int = 0
    # Atlassian API points spent (quota.py): every object a listing returns counted (the reading
    # to plan by), and the least by the other reading (a listing counts its kind once)
    points: int = 0
    points_min: int = 0
    rate_limited: int = 0  # requests answered 429 (and sent again)
    rate_limit_warnings: int = 0  # answers saying a limit not yet enforced would be breached
    latest_edit: datetime | None = None  # the newest edit listed, on Confluence's clock
    next_cursor: str | None = None  # a `cql=` run stopped early: where to resume (`cursor=`)
    full_listing: bool = True  # False: a sync listed only what changed since `since`
    since: str | None = None
    seen_images: set[tuple[str, str]] = field(default_factory=set, repr=False)
    logger: logging.Logger = field(default=logger, repr=False)  # the reader's `logger=`

    @classmethod
    def combined(cls, reports: Iterable[ImportReport]) -> ImportReport:
        """One report for several runs (one import of several selections): counts added up,
        lists joined; a full listing only if each was, changes since the earliest."""
        reports = list(reports)
        total = cls()
        for report in reports:
            for name, value in _summable(report):
                setattr(total, name, getattr(total, name) + value)
            total.seen_images |= report.seen_images
            if report.latest_edit is not None:
                total.latest_edit = max(filter(None, [total.latest_edit, report.latest_edit]))
        total.full_listing = all(report.full_listing for report in reports)
        since = [report.since for report in reports if report.since is not None]
        total.since = min(since) if since and not total.full_listing else None
        return total

    def summary(self) -> str:
        relabeled = f"{self.relabeled} re-labelled, " if self.relabeled else ""
        return (
            f"{self.added} added, {self.updated} updated, {self.deleted} deleted, "
            f"{self.unchanged} unchanged, {relabeled}{self.images} images, "
            f"{self.attachments} attached files, {self.kept} images and files unchanged, "
            f"{len(self.failures)} failed, {len(self.skipped_images)} images skipped, "
            f"{len(self.skipped)} attachments skipped"
        )

    @property
    def failed_page_ids(self) -> list[str]:
        return [failure.page_id for failure in self.failures]

    def fail(self, page_id: str, reason: str) -> Failure:
        failure = Failure(page_id, reason)
        self.failures.append(failure)
        self.logger.warning("skipped page %s: %s", page_id, reason)
        return failure

    def skip_image(self, page_id: str, reason: str, attachment_id: str | None) -> None:
        self.skipped_images.append(Failure(page_id, reason, attachment_id))
        self.logger.warning("skipped image on page %s: %s", page_id, reason)

    def audience_unknown(self, page_id: str, reason: str) -> None:
        if any(failure.page_id == page_id for failure in self.unknown_audiences):
            return
        self.unknown_audiences.append(Failure(page_id, reason))
        self.logger.warning("page %s: audience unknown, marked restricted: %s", page_id, reason)

    def skip(self, page_id: str, reason: str, attachment_id: str | None) -> None:
        self.skipped.append(Failure(page_id, reason, attachment_id))
        self.logger.info("skipped on page %s: %s", page_id, reason)


SyncReport = ImportReport  # the name `sync` returns it under


def _summable(report: ImportReport) -> Iterable[tuple[str, Any]]:
    """The counts (whole numbers, not flags) and lists of a report."""
    for item in dataclasses.fields(report):
        value = getattr(report, item.name)
        if isinstance(value, (int, list)) and not isinstance(value, bool):
            yield item.name, value


@dataclass
class PageUpsert:
    """A new or changed page, with its images and attached files, and the fingerprint to store.

    `kept` names the page's images and files the target already holds unchanged (keep them,
    they were not fetched again); `attachment_fingerprints` holds the fingerprint of every image
    and file written or kept; `originals` the bytes of files the target asked for as they are."""

    document: Document
    images: list[Document]
    fingerprint: str
    is_new: bool
    attachments: list[Document] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    attachment_fingerprints: dict[str, str] = field(default_factory=dict)
    originals: dict[str, bytes] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class PageUnchanged:
    page_id: str


@dataclass(frozen=True)
class PageRelabel:
    """A page whose content is unchanged but whose audience changed: its documents (the page,
    its images and files) take `metadata`, and the target stores `fingerprint`."""

    page_id: str
    metadata: dict[str, Any]
    fingerprint: str


@dataclass(frozen=True)
class PageRemoval:
    """A page the target holds that is no longer in the selection."""

    page_id: str


Change = PageUpsert | PageUnchanged | PageRelabel | PageRemoval
