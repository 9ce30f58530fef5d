"""The notebook picker: a tree of ipywidgets to tick, whose selection load_data takes."""

from __future__ import annotations

import sys

import pytest

from llama_index_readers_confluence_v2 import BadArgumentError, ConfluenceError
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.notebook import NodeRow, Picker

from .conftest import make_reader
from .sites import wide_space


def row_titled(rows: list[NodeRow], title: str) -> NodeRow:
    """The row whose node is titled `title`, opening rows on the way as a user would (each
    level is read when its row is opened)."""
    for row in rows:
        if row.node.title == title:
            return row
    for row in rows:
        if row.node.has_children:
            if row.children is None:
                row.opener.click()
            try:
                return row_titled(row.children or [], title)
            except AssertionError:
                continue
    raise AssertionError(f"no row titled {title!r}")


def test_ticked_pages_folders_and_posts_are_what_load_data_imports(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    picker = reader.picker(f"{emulator.base_url}/spaces/DOCS")
    assert isinstance(picker, Picker)
    assert "application/vnd.jupyter.widget-view+json" in picker._repr_mimebundle_()
    assert all(row.children is None for row in picker.rows)  # nothing drawn below until opened
    tree = reader.browse("DOCS")
    folder = next(n for n in tree.walk() if n.kind == "folder" and n.children)
    leaf_parent = next(n for n in tree.walk() if n.kind == "page" and n.children and n != folder)

    row_titled(picker.rows, folder.title).ticked.value = True  # a folder: all its pages
    alone = row_titled(picker.rows, leaf_parent.title)
    alone.ticked.value, alone.with_children.value = True, False  # this page, not its sub-pages
    post = next(row for row in picker.rows if row.node.kind == "blogpost")
    post.ticked.value = True

    under_folder = [n.id for n in folder.walk() if n.kind == "page"]
    assert len(picker.selections) == 3  # the folder, the page alone, the blog post
    with pytest.raises(BadArgumentError, match="takes 3 load calls"):
        _ = picker.selection
    documents = picker.load()
    imported = {d.id_ for d in documents if d.metadata.get("content_type") in ("page", "blogpost")}
    assert imported == {*under_folder, leaf_parent.id, post.node.id}


def test_one_call_covers_one_kind_of_tick(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    picker = reader.picker("DOCS")
    picker.rows[0].ticked.value = True  # the home page with its sub-pages
    assert picker.selection == {"page_ids": [picker.rows[0].node.id], "include_children": True}
    assert len(reader.load_data(**picker.selection)) > 5


def test_a_large_space_opens_in_a_few_requests_and_a_node_in_one() -> None:
    emulator = wide_space(5_000)
    reader = make_reader(emulator)
    picker = reader.picker("BIG")
    opening = len([e for e in emulator.log if e.origin in ("site", "gateway")])
    assert opening <= 4, opening  # the space, its root pages, its root nodes, its blog posts
    emulator.clear_log()
    root = next(row for row in picker.rows if row.node.has_children)
    root.opener.click()
    assert root.children and len(emulator.log) == 1


def test_a_site_address_lists_its_spaces_and_a_ticked_space_is_imported_whole(
    emulator: Emulator,
) -> None:
    reader = make_reader(emulator)
    picker = reader.picker(emulator.base_url)
    keys = [row.node.id for row in picker.rows]
    assert "DOCS" in keys and all(row.node.kind == "space" for row in picker.rows)
    docs = next(row for row in picker.rows if row.node.id == "DOCS")
    docs.opener.click()  # its first level, read now
    assert docs.children and any(row.node.kind == "blogpost" for row in docs.children)
    post = next(row for row in docs.children if row.node.kind == "blogpost")
    post.ticked.value = True
    [document] = [d for d in picker.load() if d.metadata.get("content_type") == "blogpost"]
    assert document.id_ == post.node.id
    docs.ticked.value = True
    assert picker.selections[0] == {"space_key": "DOCS"}


def test_nothing_ticked_says_so(emulator: Emulator) -> None:
    picker = make_reader(emulator).picker("DOCS")
    with pytest.raises(BadArgumentError, match="tick at least one"):
        _ = picker.selection


def test_without_ipywidgets_the_picker_says_how_to_install_it(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = make_reader(emulator)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(
        ConfluenceError, match=r"pip install 'llama-index-readers-confluence-v2\[notebook\]'"
    ):
        reader.picker("DOCS")
    assert emulator.log == []  # said before anything was fetched
