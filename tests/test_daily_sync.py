"""The default daily sync (what changed since the last run, no full listing) against each kind
of change a wiki sees: what it finds at once, and what waits for the weekly full listing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from llama_index_readers_confluence_v2.emulator import Emulator, Site
from llama_index_readers_confluence_v2.emulator.model import Content
from llama_index_readers_confluence_v2.recent import Checkpoint
from llama_index_readers_confluence_v2.sinks import LocalCollection
from llama_index_readers_confluence_v2.sync import sync

from .conftest import make_reader
from .sites import empty_site

OPTIONS = {"space_key": "DAY", "include_attachments": True, "include_comments": True}


@dataclass
class Wiki:
    """A small space: Home > Guides > (Setup > Deep, Tips), Home > Shelf (folder) > Filed;
    Setup carries a file."""

    site: Site
    pages: dict[str, Content]


def day_site() -> Wiki:
    site, author = empty_site()
    space = site.add_space("DAY", "Day Space", author_id=author)
    home = site.add_content(space, "Home")
    guides = site.add_content(space, "Guides", home.id)
    setup = site.add_content(space, "Setup", guides.id)
    deep = site.add_content(space, "Deep", setup.id)
    tips = site.add_content(space, "Tips", guides.id)
    shelf = site.add_content(space, "Shelf", home.id, kind="folder")
    filed = site.add_content(space, "Filed", shelf.id)
    site.add_attachment(setup, "notes.txt", "text/plain", "plain", b"The first notes.")
    named = {"home": home, "guides": guides, "setup": setup, "deep": deep, "tips": tips}
    return Wiki(site, named | {"shelf": shelf, "filed": filed})


def texts(collection: LocalCollection, kind: str = "page") -> dict[str, str]:
    return {
        str(d.metadata.get("file_name") or d.metadata["title"]): d.text
        for d in collection.documents(kind)
    }


def paths(collection: LocalCollection) -> dict[str, str]:
    return {str(d.metadata["title"]): str(d.metadata["path"]) for d in collection.documents()}


@dataclass(frozen=True)
class Kind:
    """A change, and what a user sees in the collection once it is found."""

    change: Callable[[Wiki], None]
    found: Callable[[LocalCollection], bool]


def _new_page(wiki: Wiki) -> None:
    space = wiki.site.spaces[wiki.pages["home"].space_id]
    wiki.site.add_content(space, "Brand new", wiki.pages["guides"].id)


def _new_file(wiki: Wiki) -> None:
    wiki.site.add_attachment(wiki.pages["tips"], "extra.txt", "text/plain", "plain", b"Extra.")


def _replace_file(wiki: Wiki) -> None:
    (notes,) = wiki.site.page_attachments[wiki.pages["setup"].id]
    wiki.site.new_attachment_version(notes, b"The second notes.")


def _trash_file(wiki: Wiki) -> None:
    (notes,) = wiki.site.page_attachments[wiki.pages["setup"].id]
    wiki.site.trash_attachment(notes)


def _restore(wiki: Wiki) -> None:
    """Trashed before the last sync (which removed it), restored since."""
    wiki.site.restore_content(wiki.pages["tips"].id)


FOUND_DAILY = {
    "edit": Kind(
        lambda w: w.site.edit_page(w.pages["tips"].id, body="<p>Tips rewritten.</p>"),
        lambda c: "Tips rewritten." in texts(c)["Tips"],
    ),
    "new page": Kind(_new_page, lambda c: "Brand new" in texts(c)),
    "rename of a parent": Kind(
        lambda w: w.site.edit_page(w.pages["guides"].id, title="Handbook"),
        lambda c: paths(c)["Deep"] == "Day Space > Home > Handbook > Setup > Deep",
    ),
    "move": Kind(
        lambda w: w.site.move_content(w.pages["setup"].id, w.pages["home"].id),
        lambda c: paths(c)["Deep"] == "Day Space > Home > Setup > Deep",
    ),
    "delete (to the trash)": Kind(
        lambda w: w.site.trash_content(w.pages["tips"].id), lambda c: "Tips" not in texts(c)
    ),
    "restore from the trash": Kind(_restore, lambda c: "Tips" in texts(c)),
    "file added": Kind(_new_file, lambda c: "extra.txt" in texts(c, "attachment")),
    "file replaced": Kind(
        _replace_file, lambda c: "second notes" in texts(c, "attachment")["notes.txt"]
    ),
    "file removed (to the trash)": Kind(
        _trash_file, lambda c: "notes.txt" not in texts(c, "attachment")
    ),
    "comment": Kind(
        lambda w: w.site.add_comment(w.pages["tips"], "<p>A wombat comment.</p>"),
        lambda c: "wombat" in texts(c)["Tips"],
    ),
}


@pytest.mark.parametrize("name", list(FOUND_DAILY))
def test_the_default_daily_sync_finds(name: str, tmp_path: Path) -> None:
    wiki = day_site()
    kind = FOUND_DAILY[name]
    reader = make_reader(Emulator(wiki.site))
    with LocalCollection(tmp_path / "day.sqlite") as collection:
        if kind.change is _restore:
            wiki.site.trash_content(wiki.pages["tips"].id)
        first = sync(reader, collection, **OPTIONS)
        assert first.full_listing and not kind.found(collection)
        kind.change(wiki)
        daily = sync(reader, collection, **OPTIONS)
        assert not daily.full_listing and not daily.failures
        assert kind.found(collection), name


WAITING = {  # nothing a changes-only listing can ask for: the weekly full listing finds them
    "page deleted for good": Kind(
        lambda w: w.site.delete_content(w.pages["tips"].id), lambda c: "Tips" not in texts(c)
    ),
    "file deleted for good": Kind(
        lambda w: w.site.purge_attachment(w.site.page_attachments[w.pages["setup"].id][0]),
        lambda c: "notes.txt" not in texts(c, "attachment"),
    ),
    "folder renamed": Kind(
        lambda w: setattr(w.pages["shelf"], "title", "Archive shelf"),
        lambda c: paths(c)["Filed"] == "Day Space > Home > Archive shelf > Filed",
    ),
}


@pytest.mark.parametrize("name", list(WAITING))
def test_what_waits_for_the_weekly_full_listing(name: str, tmp_path: Path) -> None:
    wiki = day_site()
    kind = WAITING[name]
    reader = make_reader(Emulator(wiki.site))
    with LocalCollection(tmp_path / "day.sqlite") as collection:
        sync(reader, collection, **OPTIONS)
        kind.change(wiki)
        daily = sync(reader, collection, **OPTIONS)
        assert not daily.full_listing and not kind.found(collection)
        weekly = sync(reader, collection, full_every=timedelta(0), **OPTIONS)
        assert weekly.full_listing and kind.found(collection), name


def test_where_the_trash_is_not_dated_deletions_wait_for_the_full_listing(tmp_path: Path) -> None:
    """Whether Confluence dates a move to the trash is unverified: where it does not, the trash
    listing (newest first, stopped at the watermark) finds nothing, and nothing wrong is
    removed; the weekly full listing removes the page."""
    wiki = day_site()
    wiki.site.trash_dates_items = False
    wiki.site.let_time_pass(24 * 60)  # Tips was last edited long before the watermark
    wiki.site.edit_page(wiki.pages["home"].id, body="<p>Welcome.</p>")
    reader = make_reader(Emulator(wiki.site))
    with LocalCollection(tmp_path / "day.sqlite") as collection:
        sync(reader, collection, **OPTIONS)
        wiki.site.trash_content(wiki.pages["tips"].id)
        daily = sync(reader, collection, **OPTIONS)
        assert (daily.full_listing, daily.deleted) == (False, 0) and "Tips" in texts(collection)
        weekly = sync(reader, collection, full_every=timedelta(0), **OPTIONS)
        assert weekly.deleted == 1 and "Tips" not in texts(collection)


def test_a_daily_sync_asks_for_no_ancestor_the_last_run_learnt(tmp_path: Path) -> None:
    """The tree's upper part is kept in the collection: an edit deep in the tree is imported
    with its full path, and not one ancestor is asked for again."""
    wiki = day_site()
    emulator = Emulator(wiki.site)
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "day.sqlite") as collection:
        sync(reader, collection, **OPTIONS)
        wiki.site.edit_page(wiki.pages["deep"].id, body="<p>Deep rewritten.</p>")
        wiki.site.edit_page(wiki.pages["filed"].id, body="<p>Filed rewritten.</p>")
        emulator.clear_log()
        daily = sync(reader, collection, **OPTIONS)
        assert daily.updated == 2
        assert paths(collection)["Deep"] == "Day Space > Home > Guides > Setup > Deep"
        assert paths(collection)["Filed"] == "Day Space > Home > Shelf > Filed"
    asked = [e.path for e in emulator.log if "/folders/" in e.path or "/ancestors" in e.path]
    by_id = [e for e in emulator.log if e.path.endswith("/v2/pages") and "id" in e.query]
    assert asked == [] and by_id == []


def _age(collection: LocalCollection, reader: object, days: int) -> None:
    """As if `days` had passed since the last full listings of the scope."""
    scope, _ = reader.request(**OPTIONS).scope(reader.base_url)  # type: ignore[attr-defined]
    checkpoint = Checkpoint.from_json(collection.checkpoint(scope))
    assert checkpoint is not None and checkpoint.files_at is not None
    back = days * 86_400
    aged = replace(
        checkpoint, full_at=checkpoint.full_at - back, files_at=checkpoint.files_at - back
    )
    collection.save_checkpoint(scope, aged.to_json())


def test_a_weekly_full_listing_lists_the_attachments_again_only_every_fourth_time(
    tmp_path: Path,
) -> None:
    """Files deleted for good leave no trace: the weekly full listing takes the attachments of
    the pages it holds as they were, save those changed since the watermark (a file added today
    is found), and every fourth one (28 days) lists every attachment again (a purge is found)."""
    wiki = day_site()
    emulator = Emulator(wiki.site)
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "day.sqlite") as collection:
        sync(reader, collection, **OPTIONS)
        _new_file(wiki)
        wiki.site.purge_attachment(wiki.site.page_attachments[wiki.pages["setup"].id][0])
        _age(collection, reader, 7)
        emulator.clear_log()
        weekly = sync(reader, collection, **OPTIONS)
        bulk = [e for e in emulator.log if "type = attachment" in e.query.get("cql", "")]
        assert weekly.full_listing and "extra.txt" in texts(collection, "attachment")
        assert "notes.txt" in texts(collection, "attachment")  # purged: not noticed yet
        assert all("lastmodified" in e.query["cql"] for e in bulk)  # only what changed since
        _age(collection, reader, 28)
        emulator.clear_log()
        monthly = sync(reader, collection, **OPTIONS)
        bulk = [
            e for e in emulator.log if e.query.get("cql") == 'type = attachment and space = "DAY"'
        ]
        assert monthly.full_listing and len(bulk) == 1  # every attachment of the space, once
        assert "notes.txt" not in texts(collection, "attachment")
