"""What gets imported, with how many requests, and where each page sits in the tree."""

from __future__ import annotations

import pytest

from llama_index_readers_confluence_v2 import ConfluenceReader, NotFoundError
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID

from .conftest import make_reader
from .sites import deep_chain, wide_space

LABEL_PATHS = ("/labels/", "/content/labels")


def api_requests(emulator: Emulator) -> list[str]:
    return [
        entry.path
        for entry in emulator.log
        if entry.origin in ("site", "gateway") and not any(p in entry.path for p in LABEL_PATHS)
    ]


def test_a_thousand_page_space_takes_six_requests() -> None:
    emulator = wide_space(1000, folders=1)
    documents = make_reader(emulator).load_data(space_key="BIG")
    assert len(documents) == 1000
    assert len({d.id_ for d in documents}) == 1000
    requests = api_requests(emulator)
    assert len(requests) <= 6, requests
    assert sum("/pages" in path for path in requests) == 4  # 250 a request


def test_each_folder_costs_one_request_and_is_fetched_once() -> None:
    emulator = wide_space(300, folders=2)
    make_reader(emulator).load_data(space_key="BIG")
    folder_requests = [path for path in api_requests(emulator) if "/folders/" in path]
    assert len(folder_requests) == len(set(folder_requests)) == 2


def test_a_space_with_many_folders_learns_them_in_one_search() -> None:
    """From three folders above a space's pages, one CQL search of the space's folders (a
    point a folder) replaces a request per folder (two points each); paths are the same."""
    emulator = wide_space(300, folders=5)
    documents = make_reader(emulator).load_data(space_key="BIG")
    asked = api_requests(emulator)
    searches = [p for p in asked if p.endswith("/content/search")]
    assert [p for p in asked if "/folders/" in p] == [] and len(searches) == 1
    shelved = {d.metadata["path"].split(" > ")[2] for d in documents if d.metadata["depth"] == 3}
    assert {f"Shelf {n}" for n in range(5)} <= shelved


def test_parents_come_before_children_and_paths_include_folders() -> None:
    emulator = wide_space(300, folders=2)
    documents = make_reader(emulator).load_data(space_key="BIG")
    seen: set[str] = set()
    for document in documents:
        parent = document.metadata["parent_id"]
        if document.metadata["parent_type"] == "page":
            assert parent in seen, f"{document.id_} came before its parent {parent}"
        seen.add(document.id_)
    shelved = next(d for d in documents if d.metadata["parent_type"] == "folder")
    assert shelved.metadata["path"] == f"Big Space > Home > Shelf 0 > {shelved.metadata['title']}"


def test_a_subtree_eight_levels_deep_through_folders() -> None:
    emulator, chain = deep_chain()
    documents = make_reader(emulator).load_data(page_ids=[chain[1].id], include_children=True)
    by_title = {d.metadata["title"]: d for d in documents}
    assert list(by_title) == ["A", "B", "C", "D", "E", "G"]
    g = by_title["G"].metadata
    assert g["path"] == "Deep Space > Home > A > F1 > B > F2 > F3 > C > D > E > G"
    assert g["ancestor_ids"] == ",".join(c.id for c in chain[:-1])
    assert g["depth"] == 9
    assert (g["parent_id"], g["parent_type"]) == (chain[-2].id, "page")
    c = by_title["C"].metadata
    assert (c["parent_id"], c["parent_type"], c["depth"]) == (chain[5].id, "folder", 6)
    assert by_title["A"].metadata["depth"] == 1
    # descendants cover 5 levels a request, so the walk continued from the deepest nodes
    assert sum("/descendants" in path for path in api_requests(emulator)) >= 2


def test_a_folder_imports_its_pages_but_is_not_a_document() -> None:
    emulator, chain = deep_chain()
    documents = make_reader(emulator).load_data(folder_id=chain[4].id)
    assert [d.metadata["title"] for d in documents] == ["C", "D", "E", "G"]
    assert documents[0].metadata["path"] == "Deep Space > Home > A > F1 > B > F2 > F3 > C"


def test_subtree_bodies_come_in_batches_of_250() -> None:
    emulator = wide_space(600, folders=0)
    home = emulator.site.spaces[next(iter(emulator.site.spaces))].homepage_id
    documents = make_reader(emulator).load_data(page_ids=home, include_children=True)
    assert len(documents) == 600
    body_requests = [
        e for e in emulator.log if e.path.endswith("/api/v2/pages") and "body-format" in e.query
    ]
    assert len(body_requests) == 1 + 3  # the root first (it says which space), then 599 in 3
    assert max(len(e.query["id"].split(",")) for e in body_requests) == 250


def test_single_pages_by_id_int_or_str_and_the_big_id(emulator: Emulator) -> None:
    docs = emulator.site.space_of("DOCS")
    assert docs is not None and docs.homepage_id
    documents = make_reader(emulator).load_data(page_ids=[int(BIG_PAGE_ID), docs.homepage_id])
    assert [d.id_ for d in documents] == [BIG_PAGE_ID, docs.homepage_id]
    big = documents[0].metadata
    assert (
        big["path"]
        == "Product Docs > Product Docs Home > Getting Started Guide > Architecture > Decisions > Big Id Page"
    )
    assert big["labels"] == "adr"
    assert documents[0].text.startswith("# Big Id Page\n")


def test_a_missing_page_raises_not_found_naming_the_id(emulator: Emulator) -> None:
    with pytest.raises(NotFoundError, match="999999"):
        make_reader(emulator).load_data(page_ids=["999999"])


def test_archived_pages_only_when_asked(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    current = reader.load_data(space_key="DOCS")
    archived = reader.load_data(space_key="DOCS", page_status="archived")
    both = reader.load_data(space_key="DOCS", page_status=["current", "archived"])
    assert {d.metadata["status"] for d in current} == {"current"}
    assert {d.metadata["status"] for d in archived} == {"archived"}
    assert len(both) == len(current) + len(archived)


def test_site_url_lists_spaces_personal_only_when_asked_and_filters(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    every_global = reader.load_data(url=emulator.base_url)
    with_personal = reader.load_data(url=emulator.base_url, include_personal_spaces=True)
    filtered = reader.load_data(url=emulator.base_url, space_filter=["people", "ops"])
    keys = lambda docs: {d.metadata["space_key"] for d in docs}  # noqa: E731
    assert keys(every_global) == {"DOCS", "ENG", "OPS", "HR"}
    assert keys(with_personal) - keys(every_global) == {
        s.key for s in emulator.site.spaces.values() if s.type == "personal"
    }
    assert keys(filtered) == {"OPS", "HR"}  # "People Team" is HR's name


def test_every_url_form_resolves_to_the_right_content(emulator: Emulator) -> None:
    site = emulator.site
    big = site.contents[BIG_PAGE_ID]
    folder = site.contents[big.parent_id or ""]
    base = emulator.base_url
    from llama_index_readers_confluence_v2.urls import id_to_tiny

    reader = make_reader(emulator)
    cases = {
        f"{base}/spaces/DOCS/pages/{BIG_PAGE_ID}/Big+Id+Page": [BIG_PAGE_ID],
        f"{base}/spaces/DOCS/pages/{BIG_PAGE_ID}": [BIG_PAGE_ID],
        f"{base}/spaces/DOCS/pages/edit-v2/{BIG_PAGE_ID}": [BIG_PAGE_ID],
        f"{base}/pages/viewpage.action?pageId={BIG_PAGE_ID}": [BIG_PAGE_ID],
        f"{base}/x/{id_to_tiny(int(BIG_PAGE_ID))}": [BIG_PAGE_ID],
        f"{base}/display/DOCS/Big+Id+Page": [BIG_PAGE_ID],
    }
    for url, expected in cases.items():
        assert [d.id_ for d in reader.load_data(url=url)] == expected, url
    space_ids = {d.id_ for d in reader.load_data(url=f"{base}/spaces/DOCS/overview")}
    assert space_ids == {d.id_ for d in reader.load_data(url=f"{base}/spaces/DOCS")}
    assert BIG_PAGE_ID in space_ids and len(space_ids) > 10
    folder_docs = reader.load_data(url=f"{base}/spaces/DOCS/folder/{folder.id}")
    assert folder_docs[0].id_ == BIG_PAGE_ID
    assert all(
        d.metadata["path"].startswith(
            "Product Docs > Product Docs Home > Getting Started Guide > Architecture > Decisions"
        )
        for d in folder_docs
    )


def test_several_selections_yield_each_page_once(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    documents = reader.load_data(
        space_key="DOCS",
        page_ids=[BIG_PAGE_ID],
        url=f"{emulator.base_url}/spaces/DOCS/pages/{BIG_PAGE_ID}",
    )
    ids = [d.id_ for d in documents]
    assert len(ids) == len(set(ids)) and BIG_PAGE_ID in ids


def test_labels_come_in_bulk_per_space_not_per_page(emulator: Emulator) -> None:
    make_reader(emulator).load_data(space_key="DOCS")
    per_page = [e for e in emulator.log if e.path.endswith("/labels") and "/pages/" in e.path]
    bulk = [e for e in emulator.log if e.path.endswith("/content/labels")]
    assert not per_page and len(bulk) == 1


def test_restricted_pages_are_not_imported(emulator: Emulator) -> None:
    restricted = {c.id for c in emulator.site.contents.values() if c.restricted_to}
    imported = {d.id_ for d in make_reader(emulator).load_data(space_key="DOCS")}
    assert restricted and not restricted & imported


def test_lazy_loading_streams_without_listing_the_whole_space() -> None:
    emulator = wide_space(1000, folders=0)
    stream = make_reader(emulator).lazy_load_data(space_key="BIG")
    first = next(stream)
    listings = [e for e in emulator.log if e.path.endswith("/pages")]
    assert first.metadata["title"] == "Home"
    assert len(listings) <= 2, "the first document waited for the whole space (4 listings)"
    stream.close()


def test_max_num_results_stops_early(emulator: Emulator) -> None:
    reader: ConfluenceReader = make_reader(emulator)
    assert len(reader.load_data(space_key="DOCS", max_num_results=3)) == 3
    assert reader.last_report.pages == 3
