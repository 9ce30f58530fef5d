"""Selection by CQL: v1 search with cursors from `_links.next`, hits hydrated through v2."""

from __future__ import annotations

import pytest

from llama_index_readers_confluence_v2 import BadArgumentError
from llama_index_readers_confluence_v2.emulator import Emulator

from .conftest import make_reader
from .sites import current_ids
from .test_labels import labelled_site


def searches(emulator: Emulator) -> list[dict[str, str]]:
    return [e.query for e in emulator.log if e.path.endswith("/rest/api/content/search")]


def hydrations(emulator: Emulator) -> list[str]:
    """Page bodies fetched by id (the other id look-ups are ancestors, for paths)."""
    return [
        e.query["id"]
        for e in emulator.log
        if e.path == "/wiki/api/v2/pages" and "body-format" in e.query
    ]


def test_a_query_imports_what_it_matches_with_one_search_and_one_batch(
    emulator: Emulator,
) -> None:
    reader = make_reader(emulator)
    documents = reader.load_data(cql='space = DOCS and label = "adr"')
    assert [d.metadata["title"] for d in documents] == ["Big Id Page"]
    assert documents[0].metadata["path"].startswith("Product Docs > ")
    assert len(searches(emulator)) == 1 and len(hydrations(emulator)) == 1
    assert reader.get_next_cursor() is None


def test_pages_and_blog_posts_are_imported_and_other_hits_reported(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    documents = reader.load_data(cql="space = DOCS")
    kinds = [d.metadata["content_type"] for d in documents]
    assert kinds.count("blogpost") == 2
    assert {d.id_ for d in documents if d.metadata["content_type"] == "page"} == current_ids(
        emulator, "DOCS"
    )
    reasons = [s.reason for s in reader.last_report.skipped]
    assert reasons and all(r.endswith("not a page or blog post") for r in reasons)
    assert any(r.startswith("folder ") for r in reasons)
    assert any(r.startswith("attachment ") for r in reasons)


def test_a_long_query_resumes_from_its_cursor_with_nothing_twice() -> None:
    emulator = labelled_site()
    reader = make_reader(emulator)
    query = 'label = "runbook" order by id'
    first = reader.load_data(cql=query, limit=150)  # the incumbent's name for max_num_results
    cursor = reader.get_next_cursor()
    assert len(first) == 150 and cursor is not None
    assert [q["limit"] for q in searches(emulator)] == ["150"]
    emulator.clear_log()
    rest = reader.load_data(cql=query, cursor=cursor)
    ids = [d.id_ for d in first + rest]
    assert len(ids) == len(set(ids)) == 304 and reader.get_next_cursor() is None
    assert searches(emulator)[0].get("cursor") == cursor
    assert len(searches(emulator)) == 1 and len(hydrations(emulator)) == 1  # 154 hits: 1 of each


def test_hits_are_hydrated_250_at_a_time_whatever_the_search_page() -> None:
    emulator = labelled_site()
    documents = make_reader(emulator).load_data(cql='label = "runbook"')
    assert len(documents) == 304
    assert len(searches(emulator)) == 2  # 200 hits a request
    assert [len(ids.split(",")) for ids in hydrations(emulator)] == [200, 104]


def test_a_bad_query_says_what_confluence_said(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    with pytest.raises(BadArgumentError, match="Confluence refused the CQL query"):
        reader.load_data(cql="space = = DOCS")
    for bad, message in (
        ({"cursor": "abc"}, "pass cql= too"),
        ({"cql": "space = DOCS", "space_key": "DOCS"}, "inside the query"),
        ({"cql": "type = page", "limit": 3, "max_num_results": 3}, "not both"),
        ({"cql": "type = page", "label": "adr"}, "not both"),
    ):
        with pytest.raises(BadArgumentError, match=message):
            reader.load_data(**bad)
