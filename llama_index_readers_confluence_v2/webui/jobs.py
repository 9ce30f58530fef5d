"""Imports started from the screen: sync calls (picks.load_calls) run off the web server's loop,
their progress counted as pages are written.

One import at a time per collection (a second tab gets a 409 naming the running one, rather
than both doing the whole work); a running import can be listed again after a reload and
cancelled: it stops before its next page is written, and what was written stays consistent
(sync writes page by page, and a stopped run keeps its checkpoint where it was)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.schema import Document

from ..errors import ConfluenceError, ImportCancelled, ImportRunning
from ..picks import Pick
from ..reader import ConfluenceReader
from ..report import ImportReport, SyncReport
from ..sync import SyncTarget, sync

OPTIONS = ("include_attachments", "include_comments", "include_blog_posts", "include_permissions")


@dataclass
class Progress:
    target: str  # where it writes (a collection file, or an h2oGPTe collection)
    state: str = "running"  # "running" | "done" | "failed" | "cancelled"
    pages: int = 0  # new and changed pages written
    images: int = 0
    deleted: int = 0
    error: str = ""
    counts: dict[str, int] = field(default_factory=dict)  # the summary, once done
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # page id -> title, as written
    cancel: threading.Event = field(default_factory=threading.Event)
    reader: ConfluenceReader | None = None  # while running: its report counts as it goes
    finished: list[ImportReport] = field(default_factory=list)  # of the sync calls done

    def as_json(self, job_id: str) -> dict[str, Any]:
        counted = self.finished
        if self.state == "running" and self.reader is not None:
            live = self.reader.last_report
            counted = [*self.finished, *([] if _among(live, self.finished) else [live])]
        return {
            "job": job_id,
            "target": self.target,
            "state": self.state,
            "pages": self.pages,
            "images": self.images,
            "deleted": self.deleted,
            "unchanged": sum(r.unchanged for r in counted),
            "listed": sum(r.listed for r in counted),  # the total, where a listing came first
            "skipped_count": sum(len(r.skipped) + len(r.skipped_images) for r in counted),
            "failed_count": sum(len(r.failures) for r in counted),
            "error": self.error,
            "counts": self.counts,
            "failures": self.failures,
            "skipped": self.skipped,
        }

    def named(self, page_id: str) -> str:
        title = self.titles.get(page_id)
        return f"{title!r} (page {page_id})" if title else f"page {page_id}"


def _among(report: ImportReport, reports: list[ImportReport]) -> bool:
    return any(report is other for other in reports)


class CountingTarget:
    """A sync target that counts what is written, for the progress shown while a run goes, and
    stops the run before the next write once it is cancelled."""

    def __init__(self, target: Any, progress: Progress, lock: threading.Lock) -> None:
        self.target = target
        self.progress = progress
        self.lock = lock
        self.original_files: frozenset[str] = getattr(target, "original_files", frozenset())

    def __getattr__(self, name: str) -> Any:  # known_attachments, checkpoint, relabel, ...
        return getattr(self.target, name)

    def known(self, scope: str) -> dict[str, str]:
        return dict(self.target.known(scope))

    def begin(self, scope: str, description: str) -> None:
        self.target.begin(scope, description)

    def upsert(
        self, scope: str, page: Document, images: list[Document], fingerprint: str, **more: Any
    ) -> None:
        if self.progress.cancel.is_set():
            raise ImportCancelled("the import was cancelled")
        self.target.upsert(scope, page, images, fingerprint, **more)
        with self.lock:
            self.progress.pages += 1
            self.progress.images += len(images)
            self.progress.titles[page.id_] = str(page.metadata.get("title") or "")

    def remove(self, scope: str, page_id: str) -> None:
        if self.progress.cancel.is_set():
            raise ImportCancelled("the import was cancelled")
        self.target.remove(scope, page_id)
        with self.lock:
            self.progress.deleted += 1

    def finish(self) -> None:
        self.target.finish()


class Jobs:
    """Import runs by id; each runs in a thread of its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Progress] = {}

    def start(
        self,
        reader: ConfluenceReader,
        target: Callable[[], Any],
        where: str,
        calls: list[dict[str, Any]],
        options: Mapping[str, Any],
    ) -> str:
        """Start an import into `where` (its description); refused while another runs there."""
        with self._lock:
            running = next(
                (i for i, p in self._runs.items() if p.target == where and p.state == "running"),
                None,
            )
            if running is not None:
                raise ImportRunning(
                    f"an import into {where} is running (import {running}): wait for it to "
                    "end, or cancel it"
                )
            job_id = uuid.uuid4().hex[:12]
            progress = Progress(where, reader=reader)
            self._runs[job_id] = progress
        chosen = {name: bool(options.get(name)) for name in OPTIONS}
        thread = threading.Thread(
            target=self._run,
            args=(reader, target, calls, chosen, progress),
            name=f"import-{job_id}",
            daemon=True,
        )
        thread.start()
        return job_id

    def progress(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._runs.get(job_id)
            return None if found is None else found.as_json(job_id)

    def running(self) -> list[dict[str, Any]]:
        """The imports still running (a page reloaded picks them up again)."""
        with self._lock:
            return [p.as_json(i) for i, p in self._runs.items() if p.state == "running"]

    def cancel(self, job_id: str) -> bool:
        with self._lock:
            found = self._runs.get(job_id)
        if found is None:
            return False
        found.cancel.set()
        return True

    def _run(
        self,
        reader: ConfluenceReader,
        target: Callable[[], Any],
        calls: list[dict[str, Any]],
        options: Mapping[str, Any],
        progress: Progress,
    ) -> None:
        reports: list[SyncReport] = []
        try:
            opened = target()
            try:
                counted: SyncTarget = CountingTarget(opened, progress, self._lock)
                for call in calls:
                    reports.append(sync(reader, counted, **call, **options))
                    with self._lock:
                        progress.finished.append(reader.last_report)
            finally:
                close = getattr(opened, "close", None)
                if close is not None:
                    close()
        except ImportCancelled:
            with self._lock:
                progress.state = "cancelled"
            return
        except (ConfluenceError, OSError) as error:
            with self._lock:
                progress.state, progress.error = "failed", " ".join(str(error).split())
            return
        with self._lock:
            self._done(progress, SyncReport.combined(reports))

    @staticmethod
    def _done(progress: Progress, total: SyncReport) -> None:
        progress.state = "done"
        progress.counts = {
            "added": total.added,
            "updated": total.updated,
            "unchanged": total.unchanged,
            "deleted": total.deleted,
            "images": total.images,
            "files": total.attachments,
            "kept": total.kept,
            "failed": len(total.failures),
            "skipped": len(total.skipped_images) + len(total.skipped),
        }
        progress.failures = [f"{progress.named(f.page_id)}: {f.reason}" for f in total.failures]
        progress.skipped = [
            f"{progress.named(s.page_id)}: {s.reason}"
            for s in (*total.skipped_images, *total.skipped)
        ]


def picks_of(raw: Collection[Mapping[str, Any]]) -> list[Pick]:
    """What the page posted, checked."""
    return [
        Pick(
            str(item.get("kind", "")),
            str(item.get("id", "")).strip(),
            bool(item.get("with_children", True)),
            str(item.get("space") or ""),
        )
        for item in raw
    ]
