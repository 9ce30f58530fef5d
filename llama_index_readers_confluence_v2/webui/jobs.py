"""Imports started from the screen: sync calls (app.load_calls) run off the web server's loop,
their progress counted as pages are written."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.schema import Document

from ..app import Pick
from ..errors import ConfluenceError
from ..reader import ConfluenceReader
from ..report import ImportReport, SyncReport
from ..sync import SyncTarget, sync

OPTIONS = ("include_attachments", "include_comments", "include_blog_posts", "include_permissions")


KINDS = ("space", "folder", "page", "blogpost")


@dataclass
class Progress:
    state: str = "running"  # "running" | "done" | "failed"
    pages: int = 0
    images: int = 0
    deleted: int = 0
    summary: str = ""
    error: str = ""
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reader: ConfluenceReader | None = None  # while running: its report counts as it goes
    finished: list[ImportReport] = field(default_factory=list)  # of the sync calls done

    def as_json(self) -> dict[str, Any]:
        shown = {k: v for k, v in self.__dict__.items() if k not in ("reader", "finished")}
        skipped, failed = len(self.skipped), len(self.failures)
        if self.state == "running" and self.reader is not None:
            live = self.reader.last_report
            counted = [*self.finished, *([] if _among(live, self.finished) else [live])]
            skipped = sum(len(r.skipped) + len(r.skipped_images) for r in counted)
            failed = sum(len(r.failures) for r in counted)
        return {**shown, "skipped_count": skipped, "failed_count": failed}


def _among(report: ImportReport, reports: list[ImportReport]) -> bool:
    return any(report is other for other in reports)


class CountingTarget:
    """A sync target that counts what is written, for the progress shown while a run goes."""

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
        self.target.upsert(scope, page, images, fingerprint, **more)
        with self.lock:
            self.progress.pages += 1
            self.progress.images += len(images)

    def remove(self, scope: str, page_id: str) -> None:
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
        calls: list[dict[str, Any]],
        options: Mapping[str, bool],
    ) -> str:
        job_id = uuid.uuid4().hex[:12]
        progress = Progress(reader=reader)
        with self._lock:
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
            return None if found is None else found.as_json()

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
        except (ConfluenceError, OSError) as error:
            with self._lock:
                progress.state, progress.error = "failed", " ".join(str(error).split())
            return
        with self._lock:
            progress.state = "done"
            total = SyncReport.combined(reports)
            progress.summary = total.summary()
            progress.failures = [f"page {f.page_id}: {f.reason}" for f in total.failures]
            progress.skipped = [
                f"page {s.page_id}: {s.reason}" for s in (*total.skipped_images, *total.skipped)
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
