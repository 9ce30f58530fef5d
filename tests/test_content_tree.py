"""Whiteboards, databases and embeds are tree nodes like folders: the pages beneath them are
imported by every selection that covers them, with full paths (issue 27)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from llama_index.core.schema import Document

from llama_index_readers_confluence_v2 import LocalCollection, sync
from llama_index_readers_confluence_v2.emulator import Content, Emulator

from .conftest import make_reader
from .sites import content_tree_site

PAGES = {
    "Home",
    "Sketch notes",
    "Sketch detail",
    "Service A",
    "Incident log",
    "L1",
    "L2",
    "L3",
    "L4",
    "Deep entry",
}


@pytest.fixture
def tree() -> tuple[Emulator, dict[str, Content]]:
    return content_tree_site()


def by_title(documents: list[Document]) -> dict[str, Document]:
    return {d.metadata["title"]: d for d in documents}


def test_a_space_import_takes_the_pages_beneath_every_kind_of_node(
    tree: tuple[Emulator, dict[str, Content]],
) -> None:
    emulator, made = tree
    reader = make_reader(emulator)
    found = by_title(reader.load_data(space_key="TREE"))
    assert set(found) == PAGES
    detail = found["Sketch detail"].metadata
    assert detail["path"] == "Content tree > Home > Board > Sketch notes > Sketch detail"
    ids = [made[t].id for t in ("Home", "Board", "Sketch notes")]
    assert (detail["ancestor_ids"], detail["depth"]) == (",".join(ids), 3)
    assert found["Sketch notes"].metadata["parent_type"] == "whiteboard"
    assert found["Service A"].metadata["path"] == "Content tree > Home > Catalog > Service A"
    assert found["Incident log"].metadata["path"] == "Content tree > Home > Status > Incident log"
    deep = "Content tree > Home > L1 > L2 > L3 > L4 > Inventory > Deep entry"
    assert found["Deep entry"].metadata["path"] == deep


def test_the_nodes_themselves_are_reported_skipped_with_why(
    tree: tuple[Emulator, dict[str, Content]],
) -> None:
    emulator, made = tree
    reader = make_reader(emulator)
    reader.load_data(space_key="TREE")
    reasons = {s.page_id: s.reason for s in reader.last_report.skipped}
    assert "whiteboard 'Board'" in reasons[made["Board"].id]
    assert "database 'Catalog'" in reasons[made["Catalog"].id]
    assert "https://status.example.com/" in reasons[made["Status"].id]
    assert all("pages beneath" in reason for reason in reasons.values())


def test_a_subtree_walks_through_a_database_on_the_last_level_one_request_reaches(
    tree: tuple[Emulator, dict[str, Content]],
) -> None:
    emulator, made = tree
    documents = make_reader(emulator).load_data(page_ids=[made["Home"].id], include_children=True)
    assert set(by_title(documents)) == PAGES


@pytest.mark.parametrize(
    ("selection", "node", "expected"),
    [
        ("folder_id", "Board", {"Sketch notes", "Sketch detail"}),
        ("page_ids", "Catalog", {"Service A"}),
        ("url", "Status", {"Incident log"}),
        ("url", "Inventory", {"Deep entry"}),
    ],
)
def test_a_node_given_by_id_or_address_selects_what_is_beneath_it(
    tree: tuple[Emulator, dict[str, Content]], selection: str, node: str, expected: set[str]
) -> None:
    emulator, made = tree
    content = made[node]
    value: object = content.id
    if selection == "url":
        value = f"{emulator.base_url}/spaces/TREE/{content.kind}/{content.id}"
    documents = make_reader(emulator).load_data(**{selection: value}, include_children=True)
    found = by_title(documents)
    assert set(found) == expected
    assert all(f" > {node} > " in d.metadata["path"] for d in found.values())


def test_browse_shows_the_nodes_with_their_kind_and_opens_them(
    tree: tuple[Emulator, dict[str, Content]],
) -> None:
    emulator, made = tree
    reader = make_reader(emulator)
    whole = reader.browse("TREE")
    kinds = {node.title: node.kind for node in whole.walk()}
    assert (kinds["Board"], kinds["Catalog"], kinds["Status"]) == (
        "whiteboard",
        "database",
        "embed",
    )
    assert "[whiteboard] Board" in str(whole)
    below = reader.level_below(made["Board"].id, "whiteboard")
    assert [(n.title, n.has_children) for n in below] == [("Sketch notes", True)]


def test_a_daily_sync_finds_an_edit_beneath_a_database_with_its_full_path(
    tree: tuple[Emulator, dict[str, Content]], tmp_path: Path
) -> None:
    emulator, made = tree
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="TREE", full_every=timedelta(days=7))
        emulator.site.edit_page(made["Deep entry"].id, body="<p>Quartz inventory count.</p>")
        report = sync(reader, collection, space_key="TREE", full_every=timedelta(days=7))
        hits = collection.search("quartz inventory")
    assert not report.full_listing and report.updated == 1
    assert [hit.path for hit in hits] == [
        "Content tree > Home > L1 > L2 > L3 > L4 > Inventory > Deep entry"
    ]


def test_the_notebook_picker_names_the_nodes_and_a_ticked_one_takes_what_is_beneath(
    tree: tuple[Emulator, dict[str, Content]],
) -> None:
    from .test_picker import row_titled

    emulator, _ = tree
    reader = make_reader(emulator)
    picker = reader.picker("TREE")
    board = row_titled(picker.rows, "Board")
    assert board.ticked.description == "Board [whiteboard]"
    board.ticked.value = True
    found = by_title(reader.load_data(**picker.selection))
    assert set(found) == {"Sketch notes", "Sketch detail"}


def test_a_ticked_node_on_the_screen_imports_what_is_beneath_it(
    tree: tuple[Emulator, dict[str, Content]], tmp_path: Path
) -> None:
    """The screen's ticks (picks.Pick) of a whiteboard and a database become load calls that
    bring the pages beneath them."""
    from llama_index_readers_confluence_v2.picks import Pick, load_calls

    emulator, made = tree
    reader = make_reader(emulator)
    picks = [Pick("whiteboard", made["Board"].id), Pick("database", made["Catalog"].id)]
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        for call in load_calls(picks, reader.base_url):
            sync(reader, collection, **call)
        titles = {d.metadata["title"] for d in collection.documents()}
    assert titles == {"Sketch notes", "Sketch detail", "Service A"}
