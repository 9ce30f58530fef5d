"""Syncs between full listings: only what changed since the last run is asked for (recent.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import h2ogpte
import pytest

from llama_index_readers_confluence_v2 import BadArgumentError, Checkpoint, RateLimitError
from llama_index_readers_confluence_v2.emulator import Content, Emulator
from llama_index_readers_confluence_v2.emulator.h2ogpte import H2OGPTeEmulator
from llama_index_readers_confluence_v2.recent import full_listing_due
from llama_index_readers_confluence_v2.selection import parse_request
from llama_index_readers_confluence_v2.sinks import LocalCollection
from llama_index_readers_confluence_v2.sinks.h2ogpte import H2OGPTeCollection
from llama_index_readers_confluence_v2.sync import sync

from .conftest import make_reader, oauth_reader, to_the_top_of_an_hour
from .sites import wide_space

WEEKLY = timedelta(days=7)
EVERY_RUN = timedelta(0)


def body_requests(emulator: Emulator) -> set[str]:
    ids: set[str] = set()
    for entry in emulator.log:
        if "/api/v2/pages" in entry.path and "body-format" in entry.query and "id" in entry.query:
            ids |= set(entry.query["id"].split(","))
    return ids


def big_space_pages(emulator: Emulator) -> list[Content]:
    site = emulator.site
    space = site.space_of("BIG")
    assert space is not None
    return [site.contents[str(i)] for i in site.space_pages[space.id]]


def stored_paths(collection: Path) -> dict[str, str]:
    with sqlite3.connect(collection) as db:
        return dict(db.execute("SELECT id, path FROM documents WHERE kind = 'page'").fetchall())


def stored_metadata(collection: Path, document_id: str) -> dict[str, object]:
    with sqlite3.connect(collection) as db:
        (metadata,) = db.execute(
            "SELECT metadata FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
    return dict(json.loads(metadata))


def test_a_sync_between_full_listings_asks_only_for_what_changed(tmp_path: Path) -> None:
    emulator = wide_space(600)
    site = emulator.site
    pages = big_space_pages(emulator)
    space = site.spaces[pages[0].space_id]
    for page in pages[100:110]:
        site.add_attachment(page, f"notes-{page.id}.txt", "text/plain", "plain", b"first notes")
    for page in pages[290:310]:
        site.label_page(page.id, "runbook")
    reader = make_reader(emulator)
    options = {"space_key": "BIG", "include_attachments": True, "include_comments": True}
    path = tmp_path / "wiki.sqlite"
    with LocalCollection(path) as collection:
        first = sync(reader, collection, full_every=WEEKLY, **options)
        assert first.full_listing and first.added == 600

        edited, parent = pages[300], pages[20]
        children = {p.id for p in pages if p.parent_id == parent.id}
        assert children, "the renamed page must have pages under it"
        site.edit_page(edited.id, body="<p>The zebra crossing procedure was rewritten.</p>")
        site.edit_page(parent.id, title="Renamed shelf")
        refiled = pages[105]  # its file gets a new version; the page itself does not
        attachment_id = site.page_attachments[refiled.id][0]
        site.new_attachment_version(attachment_id, b"second notes about the quokka")
        discussed = pages[400]
        site.add_comment(discussed, "<p>Should this mention the wombat?</p>")
        new = site.add_content(space, "Quokka onboarding checklist", pages[0].id)
        leaf = next(p for p in reversed(pages) if not site.child_ids(p.id))
        site.delete_content(leaf.id)  # deleted for good: no trace in the trash
        emulator.clear_log()

        second = sync(reader, collection, full_every=WEEKLY, **options)
        assert not second.full_listing
        changed = {edited.id, parent.id, refiled.id, discussed.id} | _below(emulator, parent.id)
        # the edited, renamed and new pages came with their bodies in the newest-first listing
        assert body_requests(emulator) == changed - {edited.id, parent.id}
        assert (second.added, second.updated, second.deleted) == (1, len(changed), 0)
        assert second.unchanged == 600 - len(changed)
        assert [h.page_id for h in collection.search("zebra crossing")] == [edited.id]
        assert {h.page_id for h in collection.search("quokka")} == {new.id, attachment_id}
        assert [h.page_id for h in collection.search("wombat")] == [discussed.id]
        assert stored_metadata(path, edited.id)["labels"] == "runbook"  # still labelled
        paths = stored_paths(path)
        assert all("Renamed shelf" in paths[child] for child in children)
        space_listings = [e for e in emulator.log if e.path.endswith(f"/spaces/{space.id}/pages")]
        assert space_listings == []  # no page was listed but what changed

        emulator.clear_log()  # the next full listing: deletions, and nothing fetched again
        third = sync(reader, collection, full_every=EVERY_RUN, **options)
        assert third.full_listing
        assert (third.added, third.updated, third.deleted) == (0, 0, 1)
        assert body_requests(emulator) == set()


def _below(emulator: Emulator, page_id: str) -> set[str]:
    return {content.id for content, _ in emulator.site.descendants(page_id, 100)}


def test_a_daily_sync_of_a_large_space_costs_points_in_proportion_to_the_change(
    tmp_path: Path,
) -> None:
    """5,000 pages with 1% edited: the default (no full_every) lists only what changed."""
    emulator = wide_space(5_000)
    site = emulator.site
    pages = big_space_pages(emulator)
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        first = sync(reader, collection, space_key="BIG")
        assert first.full_listing and first.added == 5_000
        listing_points = 5_000 + 5_000 // 250  # what a bodiless listing costs
        edited = pages[7::100]  # 50 pages, all over the tree
        for page in edited:
            site.edit_page(page.id, body=f"<p>Edited {page.id}.</p>")
        emulator.clear_log()
        daily = sync(reader, collection, space_key="BIG")
        assert not daily.full_listing
        assert (daily.updated, daily.added, daily.deleted) == (50, 0, 0)
        assert body_requests(emulator) == set()  # the bodies came with the newest-first listing
        # the listing down to the watermark (at most one response of 25 beyond it) with the 50
        # bodies, their labels (a request each), the trash down to the watermark; no ancestor
        # (the collection kept the tree): a few points per changed page, none per page held
        assert daily.points <= 2 * 25 + 50 * 3, daily.points
        assert daily.points * 12 < listing_points


def test_a_quiet_days_sync_pays_a_few_points_not_a_page_of_250(tmp_path: Path) -> None:
    """Three edits in 5,000 pages: the newest-first listing stops at the watermark (an hour
    before the last run's newest edit: the emulator's last 60 pages, one a minute, come again),
    and what it pays beyond that is one small response, not 250 objects."""
    emulator = wide_space(5_000)
    pages = big_space_pages(emulator)
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="BIG")
        for page in pages[100:103]:
            emulator.site.edit_page(page.id, body=f"<p>Quiet edit {page.id}.</p>")
        emulator.clear_log()
        daily = sync(reader, collection, space_key="BIG")
    by_edit = [e for e in emulator.log if e.query.get("sort") == "-modified-date"]
    edits = [e for e in by_edit if "trashed" not in e.query["status"]]
    trash = [e for e in by_edit if "trashed" in e.query["status"]]
    assert {e.query["limit"] for e in by_edit} == {"25"} and len(edits) <= 3 and len(trash) == 1
    assert (daily.updated, daily.full_listing) == (3, False)
    assert daily.points <= 25 * len(by_edit) + 3 * 8 < 250, daily.points


def test_a_run_that_fails_leaves_the_watermark_where_it_was(tmp_path: Path) -> None:
    emulator = wide_space(300)
    site = emulator.site
    pages = big_space_pages(emulator)
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="BIG", full_every=WEEKLY)
        site.edit_page(pages[42].id, body="<p>The platypus protocol.</p>")
        emulator.faults.unavailable(path="/wiki/api/v2/pages", times=1_000)
        try:
            failed = sync(reader, collection, space_key="BIG", full_every=WEEKLY)
        except Exception:  # the run may stop at once or report the page failed: both are fine
            pass
        else:
            assert failed.failures
        emulator.faults.clear()
        again = sync(reader, collection, space_key="BIG", full_every=WEEKLY)
        assert not again.full_listing and again.updated == 1
        assert [h.page_id for h in collection.search("platypus")] == [pages[42].id]


def test_when_a_full_listing_is_due() -> None:
    now = time.time()
    recent = Checkpoint("2026-01-05T09:00:00+00:00", full_at=now - 3600)
    old = Checkpoint("2026-01-05T09:00:00+00:00", full_at=now - 8 * 86400)
    site = Emulator(pages=1).base_url
    space = parse_request(site, kwargs={"space_key": "ENG"})
    guarded = parse_request(site, kwargs={"space_key": "ENG", "include_permissions": True})
    pages = parse_request(site, kwargs={"page_ids": ["1"]})

    def due(checkpoint: Checkpoint | None, request: object, every: object) -> bool:
        return full_listing_due(checkpoint, request, now=now, every=every)  # type: ignore[arg-type]

    assert due(None, space, None)  # nothing to start from
    assert not due(recent, space, None)  # changes only for a week, whatever the size: deletions
    assert due(old, space, None)  # that passed through the trash are found in it
    assert due(recent, guarded, None)  # audiences change without any edit
    assert not due(recent, guarded, WEEKLY)  # unless the user accepts the delay
    assert due(recent, pages, WEEKLY)  # a watermark covers whole spaces only
    assert due(recent, space, EVERY_RUN)


def test_since_is_refused_for_a_selection_it_cannot_cover() -> None:
    emulator = wide_space(5)
    reader = make_reader(emulator)

    async def first_change() -> None:
        changes = reader.achanges({"1": "x"}, since="2026-01-05T09:00:00Z", page_ids=["1"])
        async for _ in changes:
            break

    with pytest.raises(BadArgumentError, match="whole spaces"):
        asyncio.run(first_change())
    assert emulator.log == []  # refused before anything was sent


def test_an_h2ogpte_collection_keeps_its_checkpoint(h2o: H2OGPTeEmulator) -> None:
    emulator = wide_space(40)
    pages = big_space_pages(emulator)
    reader = make_reader(emulator)
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    target = H2OGPTeCollection.create(client, "Wiki")
    first = sync(reader, target, space_key="BIG", full_every=WEEKLY)
    assert first.full_listing and first.added == 40
    emulator.site.edit_page(pages[3].id, body="<p>Changed.</p>")
    emulator.clear_log()
    again = H2OGPTeCollection(client, target.collection_id)
    second = sync(reader, again, space_key="BIG", full_every=WEEKLY)
    assert not second.full_listing and (second.updated, second.added) == (1, 0)
    assert body_requests(emulator) == set()  # its body came with the newest-first listing


def test_a_full_listing_the_hour_cannot_hold_does_not_hold_back_the_days_changes(
    tmp_path: Path,
) -> None:
    emulator = wide_space(5_000)
    site = emulator.site
    pages = big_space_pages(emulator)
    reader = oauth_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="BIG")
        scope, _ = reader.request(space_key="BIG").scope(reader.base_url)
        stored = Checkpoint.from_json(collection.checkpoint(scope))
        assert stored is not None
        week_old = Checkpoint(stored.since, stored.full_at - 8 * 86400)
        collection.save_checkpoint(scope, week_old.to_json())  # a full listing is due
        for page in pages[10:13]:
            site.edit_page(page.id, body=f"<p>The axolotl memo {page.id}.</p>")
        to_the_top_of_an_hour(emulator)
        quota = emulator.points_quota(limit=65_000)
        quota.charge(65_000 - 1_500)  # enough for the changes, not for listing 5,000 pages
        with pytest.raises(RateLimitError, match="quota is spent"):
            sync(reader, collection, space_key="BIG")
        found = {hit.page_id for hit in collection.search("axolotl memo")}
        assert found == {page.id for page in pages[10:13]}, "the day's changes were held back"
        site.delete_content(pages[-1].id)  # a leaf: nothing else moves
        emulator.advance(3600)
        listed = sync(reader, collection, space_key="BIG")
    assert listed.full_listing and listed.deleted == 1 and listed.updated == 0
    assert listed.unchanged == 4_999


def test_a_full_listing_that_fetches_a_few_pages_asks_their_labels_page_by_page(
    tmp_path: Path,
) -> None:
    """Labels listed by label return every page of the space carrying them (a point each);
    for a few changed pages of a labelled space, asking each page is cheaper."""
    emulator = wide_space(600)
    pages = big_space_pages(emulator)
    for index, page in enumerate(pages[:300]):
        emulator.site.label_page(page.id, ("runbook", "howto", "adr")[index % 3])
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="BIG", full_every=EVERY_RUN)
        for page in pages[10:20]:  # more pages than labels in use
            emulator.site.edit_page(page.id, body="<p>A labelled page, edited.</p>")
        emulator.clear_log()
        daily = sync(reader, collection, space_key="BIG", full_every=EVERY_RUN)
        [document] = [d for d in collection.documents() if d.id_ == pages[10].id]
    assert daily.full_listing and daily.updated == 10
    by_label = [e for e in emulator.log if "/labels/" in e.path and e.path.endswith("/pages")]
    assert by_label == []  # not three listings of 100 labelled pages each
    assert document.metadata["labels"] == "howto"  # pages[10]: index 10 % 3
