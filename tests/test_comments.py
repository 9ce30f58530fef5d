"""Comments: footer and inline, replies in their threads, appended to the page; sync notices them."""

from __future__ import annotations

from pathlib import Path

from llama_index_readers_confluence_v2 import LocalCollection, sync
from llama_index_readers_confluence_v2.emulator import Emulator

from .conftest import make_reader
from .sites import empty_site


def guide_of(emulator: Emulator) -> str:
    return next(c.id for c in emulator.site.contents.values() if c.title == "Getting Started Guide")


def comment_searches(emulator: Emulator) -> list[str]:
    return [
        e.query["cql"]
        for e in emulator.log
        if e.path.endswith("/content/search") and "comment" in e.query.get("cql", "")
    ]


def test_comments_follow_the_page_in_thread_order_with_authors_and_dates(
    emulator: Emulator,
) -> None:
    reader = make_reader(emulator)
    (plain,) = reader.load_data(page_ids=[guide_of(emulator)])
    (page,) = reader.load_data(page_ids=[guide_of(emulator)], include_comments=True)
    assert "## Comments" not in plain.text and "comment_count" not in plain.metadata
    assert page.text.startswith(plain.text.rstrip())
    section = page.text[page.text.index("## Comments") :]
    names = [account.display_name for account in emulator.site.accounts.values()]
    question = section.index(f"### {names[1]}, ")
    reply = section.index(f"#### {names[0]}, ")
    inline = section.index("(inline comment, resolved)")
    assert question < section.index("single sign-on") < reply < section.index("next revision")
    assert reply < inline  # footer threads first, then inline ones
    assert "> install the agent" in section[inline:]  # what the comment is anchored to
    assert page.metadata["comment_count"] == 3
    assert comment_searches(emulator) == [f"type = comment and container = {page.id_}"]


def test_a_space_costs_one_comment_search_not_one_per_page(emulator: Emulator) -> None:
    documents = make_reader(emulator).load_data(space_key="DOCS", include_comments=True)
    counts = {d.metadata["title"]: d.metadata["comment_count"] for d in documents}
    assert counts["Getting Started Guide"] == 3 and sum(counts.values()) == 3
    assert comment_searches(emulator) == ['type = comment and space = "DOCS"']


def test_sync_notices_a_new_and_an_edited_comment_without_a_page_edit(tmp_path: Path) -> None:
    site, author = empty_site()
    space = site.add_space("TALK", "Talk Space", author_id=author)
    home = site.add_content(space, "Home")
    quiet = site.add_content(space, "Quiet", home.id)
    busy = site.add_content(space, "Busy", home.id)
    first = site.add_comment(busy, "<p>First thoughts.</p>")
    emulator = Emulator(site)
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="TALK", include_comments=True)
        version = busy.version
        site.add_comment(busy, "<p>A late objection.</p>", reply_to=first)
        site.edit_comment(first.id, "<p>Revised thoughts.</p>")
        emulator.clear_log()
        second = sync(reader, collection, space_key="TALK", include_comments=True)
        text = next(d.text for d in collection.documents() if d.id_ == busy.id)
        bodies = {e.query.get("id") for e in emulator.log if "body-format" in e.query}
        third = sync(reader, collection, space_key="TALK", include_comments=True)
    assert busy.version == version and quiet.id != busy.id
    # only the busy page's body is read (by id, or in the newest-first listing's overlap)
    assert (second.updated, second.unchanged) == (1, 2) and bodies - {None} <= {busy.id}
    assert "Revised thoughts" in text and "late objection" in text and "First" not in text
    assert (third.updated, third.unchanged) == (0, 3)
    # the daily syncs ask only for the comments changed since the watermark (and the busy
    # page's own): never every comment of the space
    searches = comment_searches(emulator)
    assert searches and all("lastmodified" in cql or "container" in cql for cql in searches)
