"""Incremental sync into a collection: only what changed is fetched and written.

A target (`LocalCollection`, `H2OGPTeCollection`, or anything with the same four methods)
remembers, per selection ("scope"), each page's fingerprint. A re-run lists the selection
without bodies, fetches bodies only for new and changed pages, replaces those documents and
their images, and removes pages that left the selection. Writes are per page, so an interrupted
run resumes where it stopped. Between full listings, a target that keeps a checkpoint is synced
by what changed since the last run (recent.py).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, cast

from llama_index.core.schema import Document

from .bridge import iterate_sync
from .kept_tree import KeptTree
from .reader import ConfluenceReader
from .recent import (
    Checkpoint,
    changes_first,
    files_listing_due,
    full_listing_due,
    next_since,
)
from .report import Change, PageRelabel, PageRemoval, PageUpsert, SyncReport


class SyncTarget(Protocol):
    def known(self, scope: str) -> dict[str, str]: ...

    def begin(self, scope: str, description: str) -> None: ...

    def upsert(
        self, scope: str, page: Document, images: list[Document], fingerprint: str
    ) -> None: ...

    def remove(self, scope: str, page_id: str) -> None: ...

    def finish(self) -> None: ...


class RelabellingTarget(SyncTarget, Protocol):
    """A target that can change a page's permission metadata in place (the page, its images
    and files), without the page being fetched again."""

    def relabel(
        self, scope: str, page_id: str, metadata: Mapping[str, Any], fingerprint: str
    ) -> None: ...


class CheckpointTarget(SyncTarget, Protocol):
    """A target that keeps a checkpoint per scope (text: `recent.Checkpoint`): between full
    listings a sync then asks only for what changed since the last run."""

    def checkpoint(self, scope: str) -> str | None: ...

    def save_checkpoint(self, scope: str, checkpoint: str) -> None: ...


class TreeKeepingTarget(SyncTarget, Protocol):
    """A target that keeps the upper part of the content tree per scope (text:
    `kept_tree.KeptTree`): a changes-only sync then does not ask for ancestors again."""

    def kept_tree(self, scope: str) -> str | None: ...

    def save_kept_tree(self, scope: str, tree: str) -> None: ...


class AttachmentAwareTarget(SyncTarget, Protocol):
    """A target that also remembers each image and file by fingerprint: a re-run downloads only
    the attachments that changed, and files whose suffix is in `original_files` arrive as they
    are (`originals`: attachment id -> bytes) for a target that parses them itself."""

    original_files: frozenset[str]

    def known_attachments(self, scope: str) -> dict[str, str]: ...

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
    ) -> None: ...


def sync(
    reader: ConfluenceReader,
    target: SyncTarget,
    *,
    show_progress: bool = False,
    full_every: timedelta | None = None,
    **selection: Any,
) -> SyncReport:
    """Bring `target` up to date with the selection; returns what was added, updated, deleted.

    A target that keeps checkpoints (`LocalCollection`, `H2OGPTeCollection`) is synced by what
    changed since the last run, for whole spaces and sites, with a full listing (which notices
    deletions the trash does not show, moves and audience changes) when the last one is
    `full_every` old. By default (None) that is 7 days, or every run with `include_permissions`
    (see recent.py); `timedelta(0)` lists in full every run. A full listing due by
    age is preceded by the changes-only pass, so one that the hour's quota stops (its
    deletions are applied only once it is complete) never holds back the day's changes."""
    request = reader.request(show_progress=show_progress, **selection)  # fails before any write
    scope, description = request.scope(reader.base_url)
    keeper = cast(CheckpointTarget, target) if _keeps_checkpoints(target) else None
    run = _Run(reader, target, keeper, scope, description, show_progress, full_every, selection)
    known = target.known(scope)
    checkpoint = run.checkpoint()
    now = time.time()
    full = not known or full_listing_due(checkpoint, request, now=now, every=full_every)
    if not (full and known and changes_first(checkpoint, request, now=now, every=full_every)):
        return run.once(known, checkpoint, full=full)
    changes = run.once(known, checkpoint, full=False)
    listing = run.once(target.known(scope), run.checkpoint(), full=True)
    both = SyncReport.combined([changes, listing])
    both.unchanged, both.full_listing, both.since = listing.unchanged, True, None
    return both


@dataclass
class _Run:
    """One sync call's passes over the same target and scope."""

    reader: ConfluenceReader
    target: SyncTarget
    keeper: CheckpointTarget | None
    scope: str
    description: str
    show_progress: bool
    every: timedelta | None
    selection: dict[str, Any]

    def checkpoint(self) -> Checkpoint | None:
        return Checkpoint.from_json(self.keeper.checkpoint(self.scope)) if self.keeper else None

    def once(
        self, known: dict[str, str], checkpoint: Checkpoint | None, *, full: bool
    ) -> SyncReport:
        """One pass: a full listing, or only what changed since the checkpoint's watermark."""
        target, scope = self.target, self.scope
        started = time.time()
        since = None if full or checkpoint is None else checkpoint.since
        files_due = files_listing_due(checkpoint, now=started, every=self.every)
        files_since = checkpoint.since if full and checkpoint and not files_due else None
        aware = cast(AttachmentAwareTarget, target) if _is_aware(target) else None
        known_files = aware.known_attachments(scope) if aware else {}
        originals = aware.original_files if aware else frozenset()
        relabelling = cast(RelabellingTarget, target) if hasattr(target, "relabel") else None
        keeping = cast(TreeKeepingTarget, target) if hasattr(target, "kept_tree") else None
        tree = KeptTree.from_json(keeping.kept_tree(scope)) if keeping else None
        target.begin(scope, self.description)
        report = SyncReport(full_listing=full, since=since)
        changes = iterate_sync(
            lambda: self.reader.achanges(
                known,
                report=report,
                known_attachments=known_files,
                original_files=originals,
                relabel=relabelling is not None,
                since=since,
                files_since=files_since,
                kept_tree=tree,
                show_progress=self.show_progress,
                **self.selection,
            )
        )
        try:
            for change in changes:
                _apply(target, aware, relabelling, scope, change, report)
        except Exception:
            target.finish()  # what was handed over before the stop is kept (a batching target)
            raise
        target.finish()
        if not report.failures:  # failed pages: asked for again from the same place
            if keeping is not None and tree is not None:
                keeping.save_kept_tree(scope, tree.to_json())
            if self.keeper is not None:
                after = _next_checkpoint(checkpoint, report, started, full, files_since is None)
                self.keeper.save_checkpoint(scope, after.to_json())
        if not full:  # what was not listed (nor found in the trash) is held unchanged
            report.unchanged = len(known) - report.updated - report.relabeled - report.deleted
        return report


def _next_checkpoint(
    checkpoint: Checkpoint | None,
    report: SyncReport,
    started: float,
    full: bool,
    files_listed: bool,
) -> Checkpoint:
    """Where the next run starts: the newest edit seen (less the overlap), and when this run
    started if it listed every page (and every attachment)."""
    previous = checkpoint or Checkpoint(None, started)
    return Checkpoint(
        next_since(previous.since, report.latest_edit, time.time() - started),
        started if full else previous.full_at,
        started if full and files_listed else previous.files_at,
    )


def _apply(
    target: SyncTarget,
    aware: AttachmentAwareTarget | None,
    relabelling: RelabellingTarget | None,
    scope: str,
    change: Change,
    report: SyncReport,
) -> None:
    """One change written to the target; what the reader did not count (it counts pages,
    files, unchanged and re-labelled ones) is counted here."""
    if isinstance(change, PageUpsert):
        _upsert(target, aware, scope, change)
        if change.is_new:
            report.added += 1
        else:
            report.updated += 1
    elif isinstance(change, PageRelabel) and relabelling is not None:
        relabelling.relabel(scope, change.page_id, change.metadata, change.fingerprint)
    elif isinstance(change, PageRemoval):
        target.remove(scope, change.page_id)
        report.deleted += 1


def _keeps_checkpoints(target: SyncTarget) -> bool:
    return hasattr(target, "checkpoint") and hasattr(target, "save_checkpoint")


def _is_aware(target: SyncTarget) -> bool:
    return hasattr(target, "known_attachments") and hasattr(target, "original_files")


def _upsert(
    target: SyncTarget, aware: AttachmentAwareTarget | None, scope: str, change: PageUpsert
) -> None:
    attached = [*change.images, *change.attachments]
    if aware is None:
        target.upsert(scope, change.document, attached, change.fingerprint)
        return
    aware.upsert(
        scope,
        change.document,
        attached,
        change.fingerprint,
        kept=change.kept,
        fingerprints=change.attachment_fingerprints,
        originals=change.originals,
    )
