"""Incremental sync into a collection: only what changed is fetched and written.

A target (`LocalCollection`, `H2OGPTeCollection`, or anything with the same four methods)
remembers, per selection ("scope"), each page's fingerprint. A re-run lists the selection
without bodies, fetches bodies only for new and changed pages, replaces those documents and
their images, and removes pages that left the selection. Writes are per page, so an interrupted
run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from llama_index.core.schema import Document

from .reader import ConfluenceReader, Failure, PageRemoval, PageUpsert, _iterate_in_thread

SELECTION_KEYS = (
    "space_key",
    "page_ids",
    "url",
    "folder_id",
    "include_children",
    "include_attachments",
    "include_personal_spaces",
    "space_filter",
    "page_status",
)


class SyncTarget(Protocol):
    def known(self, scope: str) -> dict[str, str]: ...

    def begin(self, scope: str, description: str) -> None: ...

    def upsert(
        self, scope: str, page: Document, images: list[Document], fingerprint: str
    ) -> None: ...

    def remove(self, scope: str, page_id: str) -> None: ...

    def finish(self) -> None: ...


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    images: int = 0
    requests: int = 0
    failures: list[Failure] = field(default_factory=list)
    skipped_images: list[Failure] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.deleted} deleted, "
            f"{self.unchanged} unchanged, {self.images} images, {len(self.failures)} failed, "
            f"{len(self.skipped_images)} images skipped"
        )


def scope_of(base_url: str, selection: dict[str, Any]) -> tuple[str, str]:
    """A stable key for a selection (what deletions are computed against), and its description."""
    chosen = {
        key: _canonical(selection.get(key))
        for key in SELECTION_KEYS
        if selection.get(key) not in (None, False, [], "")
    }
    description = json.dumps({"base_url": base_url, **chosen}, sort_keys=True)
    return hashlib.sha256(description.encode()).hexdigest()[:16], description


def _canonical(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return sorted(str(item) for item in value)
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def sync(
    reader: ConfluenceReader, target: SyncTarget, *, show_progress: bool = False, **selection: Any
) -> SyncReport:
    """Bring `target` up to date with the selection; returns what was added, updated, deleted."""
    reader._plan(**selection)  # bad arguments fail before anything is read or written
    scope, description = scope_of(reader.base_url, selection)
    known = target.known(scope)
    target.begin(scope, description)
    report = SyncReport()
    changes = _iterate_in_thread(
        lambda: reader.achanges(known, show_progress=show_progress, **selection)
    )
    for change in changes:
        if isinstance(change, PageUpsert):
            target.upsert(scope, change.document, change.images, change.fingerprint)
            report.images += len(change.images)
            if change.is_new:
                report.added += 1
            else:
                report.updated += 1
        elif isinstance(change, PageRemoval):
            target.remove(scope, change.page_id)
            report.deleted += 1
    target.finish()
    import_report = reader.last_report
    report.unchanged = import_report.unchanged
    report.requests = import_report.requests
    report.failures = list(import_report.failures)
    report.skipped_images = list(import_report.skipped_images)
    return report
