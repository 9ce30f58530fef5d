"""Browsing: spaces, page trees with folders and ids, selection into load_data."""

from __future__ import annotations

import asyncio

import pytest

from llama_index_readers_confluence_v2 import BadArgumentError
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID

from .conftest import make_reader
from .sites import deep_chain, wide_space


def test_list_spaces_personal_only_when_asked_and_by_keyword(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    assert [s.key for s in reader.list_spaces()] == ["DOCS", "ENG", "OPS", "HR"]
    assert len(reader.list_spaces(include_personal=True)) == 6
    assert [s.key for s in reader.list_spaces(keywords=["people"])] == ["HR"]
    assert [s.name for s in reader.list_spaces(include_personal=True, keywords="bob")] == [
        "Bob Builder"
    ]


def test_a_space_tree_shows_folders_and_every_page_once(emulator: Emulator) -> None:
    tree = make_reader(emulator).browse("DOCS")
    text = str(tree)
    assert text.splitlines()[0] == "Product Docs (DOCS)"
    assert "[folder] Architecture" in text and f"Big Id Page  ({BIG_PAGE_ID})" in text
    space = emulator.site.space_of("DOCS")
    assert space is not None
    visible = {
        str(i)
        for i in emulator.site.space_pages[space.id]
        if emulator.site.contents[str(i)].status == "current"
        and emulator.site.visible(emulator.site.contents[str(i)], emulator.user().account_id)
    }
    assert sorted(tree.page_ids()) == sorted(visible)
    folder = tree.find("architecture")
    assert folder.kind == "folder" and folder.children[0].title == "Decisions"
    blog = text[text.index("Blog (blog posts, not in the page tree)") :]
    assert "[blog post] Release 2.0 is out" in blog and len(tree.blog_post_ids()) == 2
    assert not set(tree.blog_post_ids()) & set(tree.page_ids())


def test_a_subtree_with_empty_folders_and_selection_into_load_data() -> None:
    emulator, chain = deep_chain()
    site = emulator.site
    space = next(iter(site.spaces.values()))
    site.add_content(space, "Empty shelf", chain[1].id, kind="folder")
    reader = make_reader(emulator)
    tree = reader.browse(chain[1].id)
    assert "[folder] Empty shelf" in str(tree)
    assert [n.title for n in tree.walk() if n.kind == "page"] == ["A", "B", "C", "D", "E", "G"]
    chosen = tree.find("F2")
    documents = reader.load_data(page_ids=[chosen.id], include_children=True)
    assert [d.metadata["title"] for d in documents] == ["C", "D", "E", "G"]


def test_browse_uses_the_listing_not_one_request_per_page() -> None:
    emulator = wide_space(600, folders=2)
    tree = make_reader(emulator).browse("BIG")
    assert len(tree.page_ids()) == 600
    assert len(emulator.log) <= 1 + 3 + 2 + 1  # space look-up, 3 listings, 2 folders, the blog


def test_browse_refuses_a_site_address(emulator: Emulator) -> None:
    with pytest.raises(BadArgumentError, match="list_spaces"):
        make_reader(emulator).browse(emulator.base_url)


async def test_browse_works_inside_a_running_loop(emulator: Emulator) -> None:
    asyncio.get_running_loop()
    assert make_reader(emulator).browse("HR").page_ids()
