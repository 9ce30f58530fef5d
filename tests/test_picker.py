"""The notebook picker: a tree of ipywidgets to tick, whose selection load_data takes."""

from __future__ import annotations

import sys

import pytest

from llama_index_readers_confluence_v2 import BadArgumentError, ConfluenceError
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.notebook import NodeRow, Picker

from .conftest import make_reader


def row_titled(rows: list[NodeRow], title: str) -> NodeRow:
    """The row whose node is titled `title`, opening rows on the way as a user would."""
    for row in rows:
        if row.node.title == title:
            return row
        if any(title == n.title for n in row.node.walk()):
            if row.children is None:
                row.opener.click()
            assert row.children is not None
            return row_titled(row.children, title)
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
    picked = picker.page_ids()
    assert sorted(picked) == sorted({*under_folder, leaf_parent.id})  # each once, no folder ids
    documents = reader.load_data(**picker.selection)
    imported = {d.id_ for d in documents if d.metadata.get("content_type") in ("page", "blogpost")}
    assert imported == {*under_folder, leaf_parent.id, post.node.id}


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
