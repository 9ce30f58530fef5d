"""Atlassian's points quota and burst limits: counted, paced, and a spent hour survived."""

from __future__ import annotations

import asyncio
import gc
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h2ogpte
import pytest

from llama_index_readers_confluence_v2 import (
    RateLimitError,
)
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.h2ogpte import H2OGPTeEmulator
from llama_index_readers_confluence_v2.sinks import LocalCollection
from llama_index_readers_confluence_v2.sinks.h2ogpte import H2OGPTeCollection
from llama_index_readers_confluence_v2.sync import sync

from .conftest import QUOTA_RETRY, make_reader, oauth_reader, to_the_top_of_an_hour
from .sites import current_ids, imaged_space


@pytest.mark.parametrize("per_object", [True, False], ids=["each object", "once a listing"])
def test_the_points_a_run_spends_match_the_emulators_count(per_object: bool) -> None:
    emulator = Emulator(pages=60)
    quota = emulator.points_quota(limit=10_000_000, per_object=per_object)
    reader = oauth_reader(emulator)
    reader.load_data(
        space_key="DOCS",
        include_attachments=True,
        include_comments=True,
        include_permissions=True,
        include_blog_posts=True,
    )
    report = reader.last_report
    counted = report.points if per_object else report.points_min
    assert quota.total > report.requests  # objects read cost more than the requests
    assert abs(counted - quota.total) <= 0.03 * quota.total, (counted, quota.total)


def test_a_spent_quota_stops_the_sync_at_once_and_the_next_hour_finishes_it(
    tmp_path: Path,
) -> None:
    emulator = imaged_space(500)
    to_the_top_of_an_hour(emulator)
    quota = emulator.points_quota(limit=65_000)
    quota.charge(65_000 - 950)  # the global pool is shared: other apps spent most of this hour
    reader = oauth_reader(emulator)
    selection = {"space_key": "FAULT", "include_attachments": True}
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        with pytest.raises(RateLimitError, match="quota is spent") as stopped:
            sync(reader, collection, **selection)
        # the headers said the quota was running out: at most the requests already in flight
        # meet the closed window, and nothing is sent into it after the first refusal
        refusals = [n for n, e in enumerate(emulator.log) if e.status == 429]
        assert len(refusals) <= reader.max_concurrency
        assert not refusals or len(emulator.log) - refusals[0] <= reader.max_concurrency
        assert quota.used >= 65_000
        retry_at = stopped.value.retry_at
        assert retry_at is not None
        seconds = (retry_at - datetime.now(timezone.utc)).total_seconds()
        assert 3500 < seconds <= 3600  # the emulator's hour had just begun
        scope, _ = reader.request(**selection).scope(reader.base_url)
        stored = set(collection.known(scope))
        assert stored and len(stored) < len(current_ids(emulator))

        emulator.advance(3600)  # the next hour: the whole pool again
        before = len(emulator.log)
        report = sync(reader, collection, **selection)
        fetched_again = {
            page_id
            for e in emulator.log[before:]
            if "body-format" in e.query
            for page_id in e.query.get("id", "").split(",")
            if page_id
        }
        assert not fetched_again & stored, "a page already stored was fetched again"
        assert set(collection.known(scope)) == current_ids(emulator)
        assert report.unchanged == len(stored) and not report.failures


def test_an_h2ogpte_collection_keeps_every_page_handed_over_before_the_hour_ran_out(
    h2o: H2OGPTeEmulator,
) -> None:
    emulator = imaged_space(500)
    to_the_top_of_an_hour(emulator)
    quota = emulator.points_quota(limit=65_000)
    quota.charge(65_000 - 950)
    reader = oauth_reader(emulator)
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    # one batch for the whole space: pages are queued, and ingested only when it is sent
    target = H2OGPTeCollection.create(client, "Wiki", batch_pages=10_000)
    selection = {"space_key": "FAULT", "include_attachments": True}
    with pytest.raises(RateLimitError, match="quota is spent"):
        sync(reader, target, **selection)
    scope, _ = reader.request(**selection).scope(reader.base_url)
    stored = set(H2OGPTeCollection(client, target.collection_id).known(scope))
    assert stored, "the pages queued when the hour ran out were lost"
    emulator.advance(3600)
    before = len(emulator.log)
    report = sync(reader, H2OGPTeCollection(client, target.collection_id), **selection)
    assert report.unchanged == len(stored) and report.added == len(current_ids(emulator)) - len(
        stored
    )
    refetched = {
        page_id
        for e in emulator.log[before:]
        if "body-format" in e.query
        for page_id in e.query.get("id", "").split(",")
    }
    assert not refetched & stored


def test_a_listing_read_ahead_when_the_hour_ran_out_leaves_no_error_behind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = imaged_space(300)
    to_the_top_of_an_hour(emulator)
    quota = emulator.points_quota(limit=65_000)
    quota.charge(65_000 - 400)  # spent while the space's second listing response is on its way
    reader = oauth_reader(emulator)
    collection = LocalCollection(tmp_path / "wiki.sqlite")
    with collection, pytest.raises(RateLimitError, match="quota is spent"):
        sync(reader, collection, space_key="FAULT", include_attachments=True)
    gc.collect()  # an unretrieved task error is logged when the task is collected
    assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text


def test_requests_queued_when_the_hour_runs_out_all_stop_and_none_hangs() -> None:
    reader = make_reader(Emulator(pages=20), max_concurrency=1)

    async def queued_when_the_quota_goes() -> list[BaseException | None]:
        async with reader.client() as client:
            return await queued_behind(client.pacer)

    async def queued_behind(pacer: Any) -> list[BaseException | None]:
        # one request at a time (as near the quota), the rest queued behind it
        inside, answered = asyncio.Event(), asyncio.Event()

        async def in_flight() -> None:
            async with pacer.slot():
                inside.set()
                await answered.wait()

        async def queued() -> None:
            async with pacer.slot():
                pass

        first = asyncio.ensure_future(in_flight())
        await inside.wait()
        behind = [asyncio.ensure_future(queued()) for _ in range(5)]
        await asyncio.sleep(0)
        pacer.hold(3599, "the hour's API points quota is spent")  # what the answer said
        answered.set()
        await first
        done = await asyncio.wait_for(asyncio.gather(*behind, return_exceptions=True), 10)
        return [outcome for outcome in done if not isinstance(outcome, RateLimitError)]

    assert asyncio.run(queued_when_the_quota_goes()) == []


def test_a_short_wait_is_waited_out_with_a_countdown_on_the_progress_bar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = Emulator(pages=20)
    emulator.faults.rate_limit(after=3, times=1, retry_after="2")
    reader = make_reader(emulator, retry=QUOTA_RETRY)
    documents = reader.load_data(space_key="DOCS", show_progress=True)
    assert {d.id_ for d in documents} >= current_ids(emulator, "DOCS")
    shown = capsys.readouterr().err
    assert "rate limited by Confluence: resuming in 2 s" in shown
    assert reader.last_report.rate_limited == 1


def test_a_burst_limited_import_slows_down_and_collects_few_429s() -> None:
    emulator = Emulator(pages=120)
    emulator.faults.latency = 0.01
    emulator.faults.quota(60)  # requests a second, as API tokens are limited
    reader = make_reader(emulator, retry=QUOTA_RETRY, max_concurrency=8)
    documents = reader.load_data(space_key="DOCS", include_attachments=True)
    pages = {d.id_ for d in documents if d.metadata["content_type"] == "page"}
    assert pages == current_ids(emulator, "DOCS")
    refused = sum(1 for e in emulator.log if e.status == 429)
    assert reader.last_report.rate_limited == refused
    assert refused <= max(3, 0.03 * len(emulator.log)), (refused, len(emulator.log))
    assert (not reader.last_report.failures and not reader.last_report.skipped_images) or all(
        "429" not in s.reason for s in reader.last_report.skipped_images
    )


def test_a_points_budget_spreads_a_run_instead_of_spending_the_hour_at_once() -> None:
    emulator = imaged_space(100)
    quota = emulator.points_quota(limit=10_000_000)
    reader = oauth_reader(emulator, max_points_per_hour=54_000, max_concurrency=2)  # 15 a second
    reader.load_data(space_key="FAULT", include_attachments=True)
    log = emulator.log
    took = log[-1].arrived - log[0].arrived
    # ten seconds' worth (150 points) may go at once; what the last requests in flight cost is
    # known only once they are answered
    paced_seconds = (quota.total - 150 - 2 * 2) / 15
    assert paced_seconds > 3, quota.total
    assert took >= 0.9 * paced_seconds, (took, quota.total)
    assert abs(reader.last_report.points - quota.total) <= 0.03 * quota.total


def test_a_budget_below_what_any_run_needs_is_refused_with_the_fix() -> None:
    emulator = Emulator(pages=5)
    with pytest.raises(Exception, match="max_points_per_hour must be a number of at least 100"):
        make_reader(emulator, max_points_per_hour=10)


def test_a_quota_announced_but_not_enforced_is_reported_once_and_refuses_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = Emulator(pages=60)
    quota = emulator.points_quota(limit=40, enforced=False)  # Beta- headers: a limit coming
    reader = oauth_reader(emulator)
    with caplog.at_level("WARNING", logger="llama_index_readers_confluence_v2"):
        documents = reader.load_data(space_key="DOCS")
    assert {d.id_ for d in documents} == current_ids(emulator, "DOCS")
    assert quota.total > 40 and not any(e.status == 429 for e in emulator.log)
    assert reader.last_report.rate_limit_warnings > 0
    warned = [r for r in caplog.records if "rate limit it will enforce" in r.getMessage()]
    assert len(warned) == 1
