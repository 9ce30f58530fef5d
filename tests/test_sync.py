"""Collections and incremental sync: local SQLite and h2oGPTe (real client, loopback fake)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import h2ogpte  # the [h2ogpte] extra is part of [dev]
import pytest

from llama_index_readers_confluence_v2 import ConfluenceCredential
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.h2ogpte import H2OGPTeEmulator
from llama_index_readers_confluence_v2.sinks import LocalCollection
from llama_index_readers_confluence_v2.sinks.h2ogpte import (
    H2OGPTeCollection,
    H2OGPTeIngestError,
    ingest_from_confluence,
)
from llama_index_readers_confluence_v2.sync import sync

from .conftest import make_reader
from .sites import current_ids, wide_space


def change_the_site(emulator: Emulator) -> dict[str, set[str]]:
    """An edit, a page to the trash (its child moves up), a move, a new page; what a sync must
    touch."""
    site = emulator.site
    space = site.space_of("ENG")
    assert space is not None
    pages = [
        site.contents[str(i)]
        for i in site.space_pages[space.id]
        if site.contents[str(i)].status == "current"
    ]
    leaves = [p for p in pages if not site.child_ids(p.id) and p.parent_id]
    edited, deleted, moved = leaves[0], leaves[1], leaves[2]
    site.edit_page(edited.id, body="<p>The zebra crossing procedure was rewritten.</p>")
    site.trash_content(deleted.id)
    site.move_content(moved.id, space.homepage_id)
    new = site.add_content(space, "Quokka onboarding checklist", space.homepage_id)
    return {"updated": {edited.id, moved.id}, "deleted": {deleted.id}, "added": {new.id}}


def body_requests(emulator: Emulator) -> set[str]:
    ids: set[str] = set()
    for entry in emulator.log:
        if entry.path.endswith("/api/v2/pages") and "body-format" in entry.query:
            ids |= set(entry.query.get("id", "").split(",")) - {""}
    return ids


# ---- the local collection -----------------------------------------------------------------------


def test_a_re_import_touches_exactly_the_changed_pages(emulator: Emulator, tmp_path: Path) -> None:
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        first = sync(reader, collection, space_key="ENG", include_attachments=True)
        assert (
            first.added == len(current_ids(emulator, "ENG")) and first.updated == first.deleted == 0
        )
        assert collection.counts()["images"] == first.images > 0
        touched = change_the_site(emulator)
        emulator.clear_log()
        second = sync(reader, collection, space_key="ENG", include_attachments=True)
        assert (second.added, second.updated, second.deleted) == (1, 2, 1)
        assert second.unchanged == len(current_ids(emulator, "ENG")) - 3
        assert body_requests(emulator) == set()  # they came with the newest-first listing
        assert set(collection.page_ids()) == current_ids(emulator, "ENG")
        assert touched["deleted"].isdisjoint(collection.page_ids())  # found in the trash
        emulator.clear_log()
        third = sync(reader, collection, space_key="ENG", include_attachments=True)
        assert (third.added, third.updated, third.deleted) == (0, 0, 0)
        assert body_requests(emulator) == set()
        assert not any(e.path.endswith("/download") for e in emulator.log)  # nothing fetched
        searches = [e for e in emulator.log if e.path.endswith("/content/search")]
        assert len(searches) == 1  # what noticing files costs: the files changed since, and
        trash = [e for e in emulator.log if e.path.endswith("/v2/attachments")]
        assert [e.query["status"] for e in trash] == ["trashed"]  # those trashed since
        assert not [e for e in emulator.log if "/pages/" in e.path]  # no page listed on its own


def test_full_text_search_finds_pages_by_body_and_by_title(
    emulator: Emulator, tmp_path: Path
) -> None:
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="ENG")
        change_the_site(emulator)
        sync(reader, collection, space_key="ENG")
        by_body = collection.search("zebra crossing")
        by_title = collection.search("quokka")
        nothing = collection.search("nonexistentword")
    assert (
        by_body[0].title.startswith(next(iter(by_body)).title) and "[zebra]" in by_body[0].snippet
    )
    assert by_title[0].title == "Quokka onboarding checklist"
    assert by_title[0].path.startswith("Engineering > Engineering Home > ")
    assert by_title[0].url.startswith(emulator.base_url)
    assert nothing == []


def test_search_input_is_words_not_query_syntax(tmp_path: Path, emulator: Emulator) -> None:
    with LocalCollection(tmp_path / "w.sqlite") as collection:
        sync(make_reader(emulator), collection, page_ids=["4819617065"])
        assert collection.search('Big" OR NEAR( *') == collection.search("Big OR NEAR")


def test_pages_restricted_away_are_removed(emulator: Emulator, tmp_path: Path) -> None:
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="OPS")
        space = emulator.site.space_of("OPS")
        assert space is not None and space.homepage_id
        victim = emulator.site.child_ids(space.homepage_id)[0]
        emulator.site.contents[victim].restricted_to = frozenset({"someone-else"})
        # nothing dates a restriction: the full listing (weekly by default) finds it gone
        report = sync(reader, collection, space_key="OPS", full_every=timedelta(0))
        assert report.deleted >= 1 and victim not in collection.page_ids()
        assert set(collection.page_ids()) == current_ids(emulator, "OPS")


def test_an_import_killed_midway_resumes_to_the_same_result(tmp_path: Path) -> None:
    emulator = wide_space(700, folders=3)
    interrupted = tmp_path / "interrupted.sqlite"
    with emulator.serve():
        script = textwrap.dedent(f"""
            from llama_index_readers_confluence_v2 import ConfluenceReader
            from llama_index_readers_confluence_v2.sinks import LocalCollection
            from llama_index_readers_confluence_v2.sync import sync
            reader = ConfluenceReader({emulator.base_url!r}, user_name={emulator.user().email!r},
                                      api_token={emulator.user().api_token!r})
            sync(reader, LocalCollection({str(interrupted)!r}), space_key="BIG")
        """)
        process = subprocess.Popen([sys.executable, "-c", script])
        emulator.faults.on_request(
            lambda: os.kill(process.pid, signal.SIGKILL), path="/spaces/", after=3
        )
        assert process.wait(timeout=60) == -signal.SIGKILL
        with LocalCollection(interrupted) as collection:
            partial = len(collection.page_ids())
            assert 0 < partial < 700
            report = sync(make_reader(emulator, in_process=False), collection, space_key="BIG")
            resumed = {d.id_: (d.text, d.metadata) for d in collection.documents()}
        assert report.added == 700 - partial and report.unchanged == partial
        with LocalCollection(tmp_path / "straight.sqlite") as straight:
            sync(make_reader(emulator, in_process=False), straight, space_key="BIG")
            expected = {d.id_: (d.text, d.metadata) for d in straight.documents()}
    assert resumed == expected


def test_llama_index_pipeline_upserts_by_stable_ids(emulator: Emulator) -> None:
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.core.vector_stores import SimpleVectorStore

    vector_store = SimpleVectorStore()
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=512), MockEmbedding(embed_dim=8)],
        docstore=SimpleDocumentStore(),
        vector_store=vector_store,
        docstore_strategy=DocstoreStrategy.UPSERTS_AND_DELETE,
    )
    reader = make_reader(emulator)
    before = current_ids(emulator, "ENG")
    first_nodes = pipeline.run(documents=reader.load_data(space_key="ENG"))
    touched = change_the_site(emulator)
    second_nodes = pipeline.run(documents=reader.load_data(space_key="ENG"))
    assert {node.ref_doc_id for node in first_nodes} == before
    assert {node.ref_doc_id for node in second_nodes} == touched["updated"] | touched["added"]
    in_store = set(vector_store.data.text_id_to_ref_doc_id.values())
    assert in_store == current_ids(emulator, "ENG")


# ---- h2oGPTe ------------------------------------------------------------------------------------


def test_h2ogpte_first_import_then_only_changes(emulator: Emulator, h2o: H2OGPTeEmulator) -> None:
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    target = H2OGPTeCollection.create(client, "Engineering wiki")
    reader = make_reader(emulator)
    first = sync(reader, target, space_key="ENG", include_attachments=True)
    documents = h2o.documents_in(target.collection_id)
    assert len([d for d in documents if d.metadata["kind"] == "page"]) == first.added
    assert len([d for d in documents if d.metadata["kind"] == "image"]) == first.images > 0
    page = next(d for d in documents if d.metadata["kind"] == "page")
    assert page.name.endswith(".md") and page.uri == page.metadata["url"]
    assert {"page_id", "title", "path", "space_key", "version", "url"} <= set(page.metadata)
    touched = change_the_site(emulator)
    uploads_before = sum(entry.path == "/rpc/fs" for entry in h2o.log)
    second = sync(reader, target, space_key="ENG", include_attachments=True)
    uploads = sum(entry.path == "/rpc/fs" for entry in h2o.log) - uploads_before
    assert (second.added, second.updated, second.deleted) == (1, 2, 1)
    assert uploads == 3 + second.images
    pages = {
        d.metadata["page_id"]
        for d in h2o.documents_in(target.collection_id)
        if d.metadata["kind"] == "page"
    }
    assert pages == current_ids(emulator, "ENG")
    assert sum(d.metadata["kind"] == "page" for d in h2o.documents_in(target.collection_id)) == len(
        pages
    )
    assert touched["deleted"].isdisjoint(pages)


def test_a_failed_h2ogpte_job_is_a_failure(emulator: Emulator, h2o: H2OGPTeEmulator) -> None:
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    target = H2OGPTeCollection.create(client, "wiki")
    h2o.fail_next_ingest = "parser crashed on page.md"
    with pytest.raises(H2OGPTeIngestError, match=r"parser crashed on page\.md"):
        sync(make_reader(emulator), target, space_key="HR")
    assert h2o.documents_in(target.collection_id) == []
    report = sync(make_reader(emulator), target, space_key="HR")  # a re-run recovers
    assert report.added == len(current_ids(emulator, "HR"))


def test_h2ogpte_interrupted_between_ingest_and_delete_heals_on_the_next_run(
    emulator: Emulator, h2o: H2OGPTeEmulator
) -> None:
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    target = H2OGPTeCollection.create(client, "wiki")
    reader = make_reader(emulator)
    sync(reader, target, space_key="HR")
    page_id = sorted(current_ids(emulator, "HR"))[0]
    emulator.site.edit_page(page_id, body="<p>Second version.</p>")
    h2o.fail_next_delete = "the client went away"
    with pytest.raises(H2OGPTeIngestError):
        sync(reader, target, space_key="HR")

    def copies() -> int:
        return sum(
            d.metadata["page_id"] == page_id and d.metadata["kind"] == "page"
            for d in h2o.documents_in(target.collection_id)
        )

    assert copies() == 2  # the new version is in, the old one was not deleted: never missing
    healed = sync(reader, target, space_key="HR")
    assert healed.updated == 1 and copies() == 1
    pages = [d for d in h2o.documents_in(target.collection_id) if d.metadata["kind"] == "page"]
    assert sorted(d.metadata["page_id"] for d in pages) == sorted(current_ids(emulator, "HR"))
    assert b"Second version." in next(d.content for d in pages if d.metadata["page_id"] == page_id)


def test_ingest_from_confluence_has_the_h2ogpte_call_shape(
    served: Emulator, h2o: H2OGPTeEmulator
) -> None:
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    collection_id = client.create_collection(name="docs", description="d")
    user = served.user()
    report = ingest_from_confluence(
        client,
        collection_id,
        served.base_url,
        page_id=["4819617065"],
        credentials=ConfluenceCredential(username=user.email, password=user.api_token),
        include_attachments=True,
        include_children=True,
        metadata={"team": "docs"},
        api_gateway_url=served.gateway_url,
        auth_server_url=served.auth_url,
    )
    documents = h2o.documents_in(collection_id)
    assert report.added > 1 and {d.metadata["team"] for d in documents} == {"docs"}
    assert {d.metadata["page_id"] for d in documents} >= {"4819617065"}


def test_the_adapter_says_how_to_install_h2ogpte(monkeypatch: pytest.MonkeyPatch) -> None:
    from llama_index_readers_confluence_v2 import ConfluenceError
    from llama_index_readers_confluence_v2.sinks.h2ogpte import require_h2ogpte

    monkeypatch.setitem(sys.modules, "h2ogpte", None)
    with pytest.raises(
        ConfluenceError, match=r"pip install 'llama-index-readers-confluence-v2\[h2ogpte\]'"
    ):
        require_h2ogpte()


@pytest.mark.parametrize(
    "selection",
    [
        {"page_ids": ["4819617065"], "include_children": True},
        {"page_ids": ["4819617065"]},
        {"folder_id": "65553"},
        {"url": "{base}"},
    ],
    ids=["subtree", "page", "folder", "site"],
)
def test_every_selection_kind_re_syncs_without_refetching(
    emulator: Emulator, tmp_path: Path, selection: dict[str, object]
) -> None:
    selection = {
        k: (v.format(base=emulator.base_url) if isinstance(v, str) else v)
        for k, v in selection.items()
    }
    if "folder_id" in selection:
        selection["folder_id"] = emulator.site.contents["4819617065"].parent_id
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "w.sqlite") as collection:
        first = sync(reader, collection, **selection)
        emulator.clear_log()
        second = sync(reader, collection, **selection)
    assert first.added > 0
    assert (second.added, second.updated, second.deleted, second.unchanged) == (
        0,
        0,
        0,
        first.added,
    )
    assert body_requests(emulator) == set()


def test_h2ogpte_receives_attached_files_with_their_metadata(
    emulator: Emulator, h2o: H2OGPTeEmulator
) -> None:
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    target = H2OGPTeCollection.create(client, "Files")
    page_id = next(c.id for c in emulator.site.contents.values() if c.title == "Specs and Files")
    reader = make_reader(emulator)
    report = sync(reader, target, page_ids=[page_id], include_attachments=True)
    files = {
        d.metadata["file_name"]: d
        for d in h2o.documents_in(target.collection_id)
        if d.metadata["kind"] == "attachment"
    }
    spec = files["spec.pdf"]
    assert spec.metadata["page_id"] == page_id and spec.metadata["media_type"] == "application/pdf"
    assert spec.uri.endswith("/spec.pdf")
    # PDF and Office files go up as themselves (h2oGPTe parses them, and OCRs the scan) ...
    originals = {"spec.pdf": b"%PDF-", "scan.pdf": b"%PDF-", "plan.docx": b"PK"}
    originals |= {"budget.xlsx": b"PK", "roadmap.pptx": b"PK"}
    for name, magic in originals.items():
        assert files[name].content.startswith(magic) and files[name].name.endswith(name), name
    # ... the rest as their text; what nothing could open is reported, not sent
    assert files["export.csv"].name.endswith(".md") and b"north" in files["export.csv"].content
    assert report.attachments == len(files) == 9
    reasons = {s.reason.split(":")[0]: s.reason for s in report.skipped}
    assert "encrypted" in reasons["locked.pdf"] and "corrupt" in reasons["damaged.pdf"]
    assert "zip bomb" in reasons["bomb.docx"]
    emulator.site.edit_page(page_id, title="Specs and Files, revised")
    emulator.site.edit_page(page_id)  # the title goes into the files' metadata: all re-sent
    assert sync(reader, target, page_ids=[page_id], include_attachments=True).attachments == 9
    emulator.site.edit_page(page_id, body="<p>Only the text changed.</p>")
    uploads_before = sum(entry.path == "/rpc/fs" for entry in h2o.log)
    edited = sync(reader, target, page_ids=[page_id], include_attachments=True)
    assert sum(entry.path == "/rpc/fs" for entry in h2o.log) - uploads_before == 1  # the page
    assert (edited.updated, edited.attachments, edited.kept) == (1, 0, 9)
    kinds = [d.metadata["kind"] for d in h2o.documents_in(target.collection_id)]
    assert (kinds.count("page"), kinds.count("attachment")) == (1, 9)


def test_a_sync_reports_on_the_one_report_the_reader_fills(
    emulator: Emulator, tmp_path: Path
) -> None:
    """What a sync returns is `reader.last_report` (the screen reads it while the run goes), with
    every count of the run: nothing copied across, so nothing dropped."""
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        report = sync(reader, collection, space_key="DOCS", include_attachments=True)
        counts = collection.counts()
    assert report is reader.last_report
    assert report.added == report.pages == counts["pages"] > 0
    assert (report.images, report.attachments) == (counts["images"], counts["attachments"])
    assert report.points >= report.points_min > 0 and report.requests > 0
    assert report.latest_edit is not None
