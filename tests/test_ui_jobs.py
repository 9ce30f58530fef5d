"""Imports started from the screen: the progress it shows while a job of several sync calls
runs, and at its end."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from llama_index_readers_confluence_v2 import ImportRunning, sync
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.sinks import LocalCollection
from llama_index_readers_confluence_v2.webui.jobs import Jobs

from .conftest import make_reader
from .sites import current_ids


class PausingCollection(LocalCollection):
    """A local collection that holds the import at the first page of its second scope until
    told."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.scopes = 0
        self.paused = threading.Event()
        self.go_on = threading.Event()

    def begin(self, scope: str, description: str) -> None:
        self.scopes += 1
        super().begin(scope, description)

    def upsert(self, *args: Any, **kwargs: Any) -> None:
        if self.scopes == 2 and not self.paused.is_set():
            self.paused.set()
            assert self.go_on.wait(30)
        super().upsert(*args, **kwargs)


def _wait_for(jobs: Jobs, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        state = jobs.progress(job_id)
        assert state is not None
        if state["state"] != "running":
            return state
        time.sleep(0.05)
    raise AssertionError("the import did not end")


def test_skipped_files_stay_counted_while_the_next_space_imports_and_one_summary_ends_it(
    tmp_path: Path,
) -> None:
    emulator = Emulator(pages=60)
    reader = make_reader(emulator)
    collection = PausingCollection(tmp_path / "wiki.sqlite")
    jobs = Jobs()
    calls = [{"space_key": "DOCS"}, {"space_key": "ENG"}]
    job_id = jobs.start(
        reader, lambda: collection, "wiki.sqlite", calls, {"include_attachments": True}
    )
    assert collection.paused.wait(60)
    during = jobs.progress(job_id)
    assert during is not None and during["state"] == "running"
    # DOCS carries a zip bomb, a decompression-bomb image, a scanned PDF, ...: each skipped
    assert during["skipped_count"] >= 5 and during["pages"] > 10
    collection.go_on.set()
    done = _wait_for(jobs, job_id)
    assert done["state"] == "done", done["error"]
    assert done["skipped_count"] == during["skipped_count"] == len(done["skipped"])
    assert done["pages"] > during["pages"] and done["failed_count"] == 0
    # one summary for the whole import, not one per space
    assert done["counts"]["added"] == done["pages"] and done["counts"]["updated"] == 0
    # skipped items are named by their page's title, not only its id
    assert all(line.startswith("'") and "(page " in line for line in done["skipped"])


def test_a_second_import_into_the_same_collection_waits_and_a_cancelled_one_stays_consistent(
    tmp_path: Path,
) -> None:
    emulator = Emulator(pages=60)
    reader = make_reader(emulator)
    collection = PausingCollection(tmp_path / "wiki.sqlite")
    jobs = Jobs()
    calls = [{"space_key": "DOCS"}, {"space_key": "ENG"}]
    job_id = jobs.start(reader, lambda: collection, "wiki.sqlite", calls, {})
    assert collection.paused.wait(60)  # writing ENG's first page
    with pytest.raises(ImportRunning, match=r"an import into wiki\.sqlite is running"):
        jobs.start(reader, lambda: collection, "wiki.sqlite", calls, {})
    assert [r["job"] for r in jobs.running()] == [job_id]  # what a reloaded page picks up
    written = jobs.progress(job_id)["pages"]  # type: ignore[index]
    assert jobs.cancel(job_id)
    collection.go_on.set()
    done = _wait_for(jobs, job_id)
    # the page being written when it was cancelled is finished; no page after it
    assert done["state"] == "cancelled" and done["pages"] == written + 1
    with LocalCollection(tmp_path / "wiki.sqlite") as reopened:  # consistent: it syncs on
        report = sync(make_reader(emulator), reopened, space_key="DOCS")
        docs = len(current_ids(emulator, "DOCS"))  # DOCS was imported whole before the cancel
        assert (report.added, report.updated, report.unchanged) == (0, 0, docs)
        again = sync(make_reader(emulator), reopened, space_key="ENG")
    assert again.added > 0 and not again.failures


def test_a_re_import_knows_its_total_from_the_listing(tmp_path: Path) -> None:
    """A first import walks the space (its size unknown ahead); a re-import lists what changed
    first, so the screen's bar has a total."""
    emulator = Emulator(pages=60)
    reader = make_reader(emulator)
    jobs = Jobs()
    totals = []
    for run in range(2):
        if run == 1:
            edited = sorted(current_ids(emulator, "DOCS"))[:2]
            for page_id in edited:
                emulator.site.edit_page(page_id, body="<p>Edited for the bar.</p>")
        job_id = jobs.start(
            reader,
            lambda: LocalCollection(tmp_path / "wiki.sqlite"),
            "wiki.sqlite",
            [{"space_key": "DOCS"}],
            {},
        )
        done = _wait_for(jobs, job_id)
        totals.append((done["listed"], done["unchanged"]))
    docs = len(current_ids(emulator, "DOCS"))
    assert totals == [(0, 0), (2, docs - 2)]
