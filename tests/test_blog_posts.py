"""Blog posts: imported with their space when asked, selected by URL, synced like pages."""

from __future__ import annotations

from pathlib import Path

from llama_index.core.schema import ImageDocument

from llama_index_readers_confluence_v2 import LocalCollection, sync
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.views import blogpost_webui
from llama_index_readers_confluence_v2.urls import id_to_tiny

from .conftest import make_reader


def post_of(emulator: Emulator, title: str) -> tuple[str, str]:
    """A blog post's id and its address as Confluence shows it."""
    site = emulator.site
    post = next(c for c in site.contents.values() if c.title == title)
    return post.id, emulator.base_url + blogpost_webui(post, site.spaces[post.space_id])


def blog_requests(emulator: Emulator) -> list[str]:
    return [e.path for e in emulator.log if "blogposts" in e.path]


def test_a_space_brings_its_blog_posts_when_asked_in_one_listing(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    plain = reader.load_data(space_key="DOCS")
    assert all(d.metadata["content_type"] == "page" for d in plain)
    assert blog_requests(emulator) == []
    emulator.clear_log()
    documents = reader.load_data(space_key="DOCS", include_blog_posts=True)
    posts = {d.metadata["title"]: d for d in documents if d.metadata["content_type"] == "blogpost"}
    assert set(posts) == {"Release 2.0 is out", "Quarterly engineering update"}
    assert len(documents) == len(plain) + 2
    update = posts["Quarterly engineering update"]
    assert update.metadata["path"] == "Product Docs > Blog > Quarterly engineering update"
    assert update.metadata["parent_id"] is None and update.metadata["depth"] == 0
    assert update.metadata["labels"] == "howto" and "retired the legacy sync" in update.text
    assert "/blog/" in update.metadata["url"]
    listings = [e for e in emulator.log if e.path.endswith("/blogposts")]
    assert len(listings) == 1 and listings[0].query["body-format"] == "storage"
    assert not [e for e in emulator.log if "/blogposts/" in e.path and "labels" not in e.path]


def test_a_blog_post_url_of_either_form_or_its_tiny_link_selects_it(emulator: Emulator) -> None:
    post_id, address = post_of(emulator, "Release 2.0 is out")
    short = f"{emulator.base_url}/spaces/DOCS/blog/{post_id}"
    tiny = f"{emulator.base_url}/x/{id_to_tiny(int(post_id))}"
    reader = make_reader(emulator)
    for url in (address, short, tiny):
        documents = reader.load_data(url=url, include_attachments=True)
        post, banner = documents
        assert post.id_ == post_id and post.metadata["content_type"] == "blogpost", url
        assert isinstance(banner, ImageDocument) and banner.metadata["page_id"] == post_id
        assert banner.metadata["path"] == "Product Docs > Blog > Release 2.0 is out"


def test_blog_posts_re_sync_like_pages(emulator: Emulator, tmp_path: Path) -> None:
    reader = make_reader(emulator)
    post_id, _ = post_of(emulator, "Quarterly engineering update")
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        first = sync(reader, collection, space_key="DOCS", include_blog_posts=True)
        unchanged = sync(reader, collection, space_key="DOCS", include_blog_posts=True)
        emulator.site.edit_page(post_id, body="<p>Corrected: the sync service moves in May.</p>")
        emulator.clear_log()
        edited = sync(reader, collection, space_key="DOCS", include_blog_posts=True)
        hits = collection.search("sync service moves")
    assert first.added > 2 and (unchanged.added, unchanged.updated) == (0, 0)
    assert (edited.updated, edited.added, edited.deleted) == (1, 0, 0)
    assert hits and hits[0].path == "Product Docs > Blog > Quarterly engineering update"
    # the day's edits come with their bodies, newest first: nothing is fetched again by id
    bodies = [(e.path, e.query.get("sort")) for e in emulator.log if "body-format" in e.query]
    assert bodies == [
        ("/wiki/api/v2/pages", "-modified-date"),
        ("/wiki/api/v2/blogposts", "-modified-date"),
    ]


def test_a_label_selection_takes_in_labelled_blog_posts_when_asked(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    pages = reader.load_data(label="howto", space_key="DOCS")
    both = reader.load_data(label="howto", space_key="DOCS", include_blog_posts=True)
    added = [d.metadata["title"] for d in both if d.metadata["content_type"] == "blogpost"]
    assert added == ["Quarterly engineering update"] and len(both) == len(pages) + 1


def test_a_blog_posts_comments_come_with_it(emulator: Emulator) -> None:
    post_id, address = post_of(emulator, "Quarterly engineering update")
    post = emulator.site.contents[post_id]
    emulator.site.add_comment(post, "<p>Great news for the on-call rota.</p>")
    (document,) = make_reader(emulator).load_data(url=address, include_comments=True)
    assert document.metadata["comment_count"] == 1
    assert "## Comments" in document.text and "on-call rota" in document.text
