"""Browsing: spaces, page trees with folders and ids, selection into load_data."""

from __future__ import annotations

import asyncio

import pytest

from llama_index_readers_confluence_v2 import BadArgumentError, ConfluenceReader, PageNode
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


def _edges_level_by_level(reader: ConfluenceReader, nodes: list[PageNode]) -> set[tuple[str, str]]:
    """(parent id, child id) for the whole tree, opened a level at a time as a screen does."""
    edges: set[tuple[str, str]] = set()
    for node in nodes:
        if node.has_children:
            below = node.children or reader.level_below(node)
            edges |= {(node.id, child.id) for child in below}
            edges |= _edges_level_by_level(reader, below)
    return edges


def _edges(nodes: list[PageNode]) -> set[tuple[str, str]]:
    return {(n.id, c.id) for root in nodes for n in root.walk() for c in n.children}


@pytest.mark.parametrize("where", ["space", "page"])
def test_a_tree_opened_a_level_at_a_time_is_the_whole_tree(emulator: Emulator, where: str) -> None:
    reader = make_reader(emulator)
    address = "DOCS" if where == "space" else str(reader.browse("DOCS").find("Architecture").id)
    whole = reader.browse(address)
    first = reader.browse(address, one_level=True)
    assert [n.id for n in first.roots] == [n.id for n in whole.roots]
    assert first.blog_post_ids() == whole.blog_post_ids()
    assert _edges_level_by_level(reader, first.roots) == _edges(whole.roots)


def test_a_level_lists_folders_and_pages_in_confluences_order_and_says_what_has_more() -> None:
    emulator, chain = deep_chain()
    reader = make_reader(emulator)
    site = emulator.site
    space = next(iter(site.spaces.values()))
    zeta = site.add_content(space, "Zeta notes", chain[3].id)  # made after F2, moved before it
    zeta.position, chain[4].position = chain[4].position, zeta.position
    below = reader.level_below(chain[3].id)
    assert [(n.title, n.kind, n.has_children) for n in below] == [
        ("Zeta notes", "page", False),
        ("F2", "folder", True),
    ]
    folder = reader.level_below(below[1])
    assert [(n.title, n.kind) for n in folder] == [("F3", "folder")]
    with pytest.raises(BadArgumentError, match="not 'blogpost'"):
        reader.level_below("123", kind="blogpost")


def test_a_large_space_opens_in_a_few_requests_with_its_root_folders() -> None:
    emulator = wide_space(5_000, folders=3)
    site = emulator.site
    space = next(iter(site.spaces.values()))
    loose = site.add_content(space, "Loose folder", None, kind="folder")  # under no page
    site.add_content(space, "Filed loosely", loose.id)
    reader = make_reader(emulator)
    emulator.clear_log()
    first = reader.browse("BIG", one_level=True)
    assert [(n.title, n.kind) for n in first.roots] == [
        ("Home", "page"),
        ("Loose folder", "folder"),
    ]
    # the space looked up, its root pages, its folders (CQL), its blog posts: not its 5,000 pages
    assert len(emulator.log) == 4
    emulator.clear_log()
    home = reader.level_below(first.roots[0])
    assert [n.title for n in home[:3]] == ["Shelf 0", "Shelf 1", "Shelf 2"]
    assert all(n.has_children for n in home[:3])
    assert [entry.path.rsplit("/", 1)[-1] for entry in emulator.log] == ["descendants"]
    assert [n.title for n in reader.level_below(first.roots[1])] == ["Filed loosely"]
