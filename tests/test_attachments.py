"""Attached files of every kind become Documents of their own; bad files are skipped and reported."""

from __future__ import annotations

import os
import tempfile
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.schema import Document, ImageDocument, NodeRelationship

from llama_index_readers_confluence_v2 import FileRejected, LocalCollection, sync
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.documents import make_pdf, make_zip_bomb
from llama_index_readers_confluence_v2.files import (
    TEMP_PREFIX,
    AttachmentInfo,
    check_archive,
    remove_stale_temporary_folders,
)

from .conftest import make_reader
from .sites import empty_site

IMPORTED = {
    "spec.pdf": "quarterly encryption audits",
    "plan.docx": "migration for April",
    "budget.xlsx": "hosting",
    "roadmap.pptx": "mobile app in March",
    "export.csv": "north",
    "notes.html": "adopt PostgreSQL",
    "changelog.md": "single sign-on",
    "readme-files.txt": "run the installer twice",
}
SKIPPED = {
    "scan.pdf": "no text",
    "locked.pdf": "encrypted",
    "damaged.pdf": "could not be parsed",
    "bomb.docx": "zip bomb",
    "archive.zip": "no parser for .zip",
    "old-screenshot.png": "not embedded",
}


def files_page(emulator: Emulator) -> str:
    site = emulator.site
    return next(c.id for c in site.contents.values() if c.title == "Specs and Files")


@pytest.fixture(scope="module")
def imported() -> tuple[Emulator, list[Document], Any]:
    emulator = Emulator(pages=60)
    reader = make_reader(emulator)
    documents = reader.load_data(page_ids=[files_page(emulator)], include_attachments=True)
    return emulator, documents, reader.last_report


def test_every_kind_of_file_is_imported_with_its_words(imported: tuple[Any, ...]) -> None:
    emulator, documents, _ = imported
    page = documents[0]
    files = {
        d.metadata["file_name"]: d
        for d in documents
        if d.metadata.get("content_type") == "attachment"
    }
    assert set(files) == set(IMPORTED)
    for name, words in IMPORTED.items():
        document = files[name]
        assert document.text.startswith(f"# {name}\n"), document.text[:80]
        assert "Specs and Files" in document.text.split("\n\n")[1]  # says which page it belongs to
        assert words in document.text, (name, document.text)
        assert document.relationships[NodeRelationship.PARENT].node_id == page.id_
    pdf = files["spec.pdf"].metadata
    attachment = next(a for a in emulator.site.attachments.values() if a.title == "spec.pdf")
    assert files["spec.pdf"].id_ == attachment.id == pdf["attachment_id"]
    assert pdf["media_type"] == "application/pdf" and pdf["file_size"] > 500
    assert pdf["version"] == 1 and pdf["page_id"] == page.id_ and pdf["title"] == "Specs and Files"
    assert pdf["space_key"] == "DOCS" and pdf["path"] == page.metadata["path"]
    assert pdf["page_url"] == page.metadata["url"] and pdf["url"].endswith("/spec.pdf")
    assert "Appendix" in files["spec.pdf"].text  # a PDF's pages are joined into one document
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in pdf.values())


def test_each_bad_file_is_skipped_with_its_reason_and_nothing_else_is_lost(
    imported: tuple[Any, ...],
) -> None:
    _, documents, report = imported
    reasons = {s.reason.split(":")[0]: s.reason for s in report.skipped}
    assert set(reasons) == set(SKIPPED)
    for name, why in SKIPPED.items():
        assert why in reasons[name], reasons[name]
    texts = " ".join(d.text for d in documents)
    assert "secret salaries" not in texts and "Error" not in texts
    assert not report.failures
    assert report.attachments == len(IMPORTED)


def test_nothing_filtered_out_is_downloaded() -> None:
    emulator = Emulator(pages=60)
    seen: list[AttachmentInfo] = []

    def only_pdfs(info: AttachmentInfo) -> bool:
        seen.append(info)
        return info.file_name.endswith(".pdf")

    reader = make_reader(emulator, attachment_filter=only_pdfs)
    documents = reader.load_data(page_ids=[files_page(emulator)], include_attachments=True)
    names = {
        d.metadata.get("file_name")
        for d in documents
        if d.metadata.get("content_type") == "attachment"
    }
    assert names == {"spec.pdf"}
    downloads = [e.path for e in emulator.log if e.path.endswith("/download")]
    fetched = {
        a.title for a in emulator.site.attachments.values() if any(a.id in p for p in downloads)
    }
    assert fetched <= {"spec.pdf", "scan.pdf", "locked.pdf", "damaged.pdf"}
    first = next(i for i in seen if i.file_name == "spec.pdf")
    assert first.page_title == "Specs and Files" and first.media_type == "application/pdf"
    assert first.file_size and first.suffix == ".pdf"


def test_an_image_attached_but_not_embedded_can_be_taken_in_by_the_filter() -> None:
    emulator = Emulator(pages=60)
    reader = make_reader(emulator)
    documents = reader.load_data(
        page_ids=[files_page(emulator)],
        include_attachments=True,
        attachment_filter=lambda info: info.file_name == "old-screenshot.png",
    )
    images = [d for d in documents if isinstance(d, ImageDocument)]
    assert [d.metadata["file_name"] for d in images] == ["old-screenshot.png"]


class ShoutingReader:
    """A stand-in for any LlamaIndex reader: one document per file, upper-cased."""

    def load_data(self, file: Path, extra_info: dict[str, Any] | None = None) -> list[Document]:
        return [Document(text=Path(file).read_text().upper())]


def test_file_extractor_overrides_a_parser_and_the_call_wins() -> None:
    emulator = Emulator(pages=60)
    reader = make_reader(emulator, file_extractor={".md": ShoutingReader()})
    documents = reader.load_data(page_ids=[files_page(emulator)], include_attachments=True)
    changelog = next(d for d in documents if d.metadata.get("file_name") == "changelog.md")
    assert "ADDED SINGLE SIGN-ON" in changelog.text
    documents = reader.load_data(
        page_ids=[files_page(emulator)],
        include_attachments=True,
        file_extractor={"TXT": ShoutingReader()},  # the call adds one; suffixes normalised
    )
    readme = next(d for d in documents if d.metadata.get("file_name") == "readme-files.txt")
    assert "RUN THE INSTALLER TWICE" in readme.text


def test_the_incumbents_custom_parsers_and_attachment_callback_keep_working() -> None:
    import enum

    class FileType(enum.Enum):  # the incumbent's enum, by name
        MARKDOWN = "md"

    emulator = Emulator(pages=60)
    calls: list[tuple[Any, ...]] = []

    def callback(media_type: str, file_size: int, title: str) -> tuple[bool, str]:
        calls.append((media_type, file_size, title))
        return (not title.endswith(".xlsx"), "no spreadsheets")

    reader = make_reader(
        emulator,
        custom_parsers={FileType.MARKDOWN: ShoutingReader()},
        process_attachment_callback=callback,
    )
    documents = reader.load_data(page_ids=[files_page(emulator)], include_attachments=True)
    names = {d.metadata.get("file_name") for d in documents}
    assert "budget.xlsx" not in names and "changelog.md" in names
    assert any("no spreadsheets" in s.reason for s in reader.last_report.skipped)
    assert (
        "text/markdown",
        len("# Changelog\n\n- Added single sign-on\n"),
        "changelog.md",
    ) in calls


def test_a_hung_parser_is_cut_off_and_the_import_goes_on() -> None:
    site, author = empty_site()
    space = site.add_space("SLOW", "Slow Space", author_id=author)
    page = site.add_content(space, "Hostile")
    lines = [f"line {n} of a document built to take long to read" for n in range(30000)]
    site.add_attachment(page, "hostile.pdf", "application/pdf", "pdf", make_pdf([lines] * 4))
    site.add_attachment(page, "fine.txt", "text/plain", "plain", b"still imported")
    emulator = Emulator(site)
    reader = make_reader(emulator, parse_timeout=0.3)
    documents = reader.load_data(space_key="SLOW", include_attachments=True)
    assert [d.metadata.get("file_name") for d in documents[1:]] == ["fine.txt"]
    assert any("longer than 0.3 s" in s.reason for s in reader.last_report.skipped)


def test_a_zip_bomb_is_refused_without_expanding_it() -> None:
    bomb = make_zip_bomb()
    tracemalloc.start()
    with pytest.raises(FileRejected, match="zip bomb"):
        check_archive(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 200 * 1024 * 1024 and len(bomb) < 2 * 1024 * 1024


def test_oversized_files_are_skipped_before_download() -> None:
    emulator = Emulator(pages=60)
    site = emulator.site
    reader = make_reader(emulator, max_file_bytes=1000)
    reader.load_data(page_ids=[files_page(emulator)], include_attachments=True)
    over = {s.reason.split(":")[0] for s in reader.last_report.skipped if "cap" in s.reason}
    large = {
        a.title
        for a in site.attachments.values()
        if a.page_id == files_page(emulator)
        and len(site.bytes_of(a)) > 1000
        and a.title.rsplit(".", 1)[-1] in ("pdf", "docx", "xlsx", "pptx")
    }
    assert len(large) >= 3 and over == large
    downloaded = " ".join(e.path for e in emulator.log if e.path.endswith("/download"))
    assert not [a for a in site.attachments.values() if a.title in large and a.id in downloaded]


def test_temporary_folders_of_a_killed_run_are_removed() -> None:
    stale = Path(tempfile.gettempdir()) / f"{TEMP_PREFIX}999999999-left"
    stale.mkdir(exist_ok=True)
    (stale / "attachment.pdf").write_bytes(b"%PDF")
    mine = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
    try:
        assert remove_stale_temporary_folders() >= 1
        assert not stale.exists() and mine.exists()  # a live process's folder stays
    finally:
        mine.rmdir()


def test_the_local_collection_stores_and_searches_attachment_text(tmp_path: Path) -> None:
    emulator = Emulator(pages=60)
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        report = sync(reader, collection, page_ids=[files_page(emulator)], include_attachments=True)
        hits = collection.search("encryption audits")
        counts = collection.counts()
    assert report.attachments == len(IMPORTED) and counts["attachments"] == len(IMPORTED)
    assert hits and hits[0].title == "spec.pdf (Specs and Files)"
    assert "attachments skipped" in report.summary()


def test_sync_notices_files_added_replaced_and_removed_without_a_page_edit(
    tmp_path: Path,
) -> None:
    site, author = empty_site()
    space = site.add_space("SYNC", "Sync Space", author_id=author)
    home = site.add_content(space, "Home")
    site.add_content(space, "Quiet page", home.id)
    busy = site.add_content(space, "Busy page", home.id)
    site.add_attachment(busy, "old.txt", "text/plain", "plain", b"first words")
    replaced = site.add_attachment(busy, "notes.md", "text/markdown", "markdown", b"# v1 draft")
    site.add_attachment(busy, "steady.txt", "text/plain", "plain", b"never changes")
    emulator = Emulator(site)
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        first = sync(reader, collection, space_key="SYNC", include_attachments=True)
        assert (first.added, first.attachments) == (3, 3)
        version = busy.version
        site.add_attachment(busy, "new.csv", "text/csv", "csv", b"city,rank\nparis,1\n")
        site.new_attachment_version(replaced.id, b"# v2 final")
        gone = next(a for a in site.attachments.values() if a.title == "old.txt")
        site.trash_attachment(gone.id)  # deleting a file moves it to the trash
        assert busy.version == version  # Confluence does not bump a page for its files
        emulator.clear_log()
        second = sync(reader, collection, space_key="SYNC", include_attachments=True)
        assert not second.full_listing  # the default daily sync: what changed only
        texts = {d.metadata["file_name"]: d.text for d in collection.documents("attachment")}
        steady = collection.search("never changes")
        bodies = [e for e in emulator.log if "body-format" in e.query and "id" in e.query]
        downloads = [e.path for e in emulator.log if e.path.endswith("/download")]
        emulator.clear_log()
        third = sync(reader, collection, space_key="SYNC", include_attachments=True)
    assert (second.updated, second.unchanged, second.added) == (1, 2, 0)
    assert set(texts) == {"notes.md", "new.csv", "steady.txt"} and "v2 final" in texts["notes.md"]
    # only the busy page's body is read (by id, or in the newest-first listing's overlap)
    assert {e.query.get("id") for e in bodies} <= {busy.id}, [(e.path, e.query) for e in bodies]
    assert len(downloads) == 2 and all(busy.id in path for path in downloads)  # not steady.txt
    assert (second.attachments, second.kept) == (2, 1)
    assert steady[0].title == "steady.txt (Busy page)"
    assert (third.updated, third.unchanged) == (0, 3)
    assert not [e for e in emulator.log if "id" in e.query or "download" in e.path]
    searches = [e for e in emulator.log if e.path.endswith("/content/search")]
    assert len(searches) == 1  # the cost of noticing: one CQL search of the files changed since


def test_a_file_deleted_for_good_waits_for_the_full_listing(tmp_path: Path) -> None:
    """A file purged without passing through the trash leaves no trace a changes-only sync
    could ask for: the periodic full listing (weekly by default) removes it."""
    site, author = empty_site()
    space = site.add_space("SYNC", "Sync Space", author_id=author)
    busy = site.add_content(space, "Busy page")
    purged = site.add_attachment(busy, "purged.txt", "text/plain", "plain", b"soon gone")
    emulator = Emulator(site)
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="SYNC", include_attachments=True)
        site.purge_attachment(purged.id)
        daily = sync(reader, collection, space_key="SYNC", include_attachments=True)
        still = [d.metadata["file_name"] for d in collection.documents("attachment")]
        weekly = sync(
            reader, collection, space_key="SYNC", include_attachments=True, full_every=timedelta(0)
        )
        after = [d.metadata["file_name"] for d in collection.documents("attachment")]
    assert (daily.full_listing, still) == (False, ["purged.txt"])
    assert (weekly.full_listing, weekly.updated, after) == (True, 1, [])


def test_a_page_edit_downloads_none_of_its_unchanged_images_and_files(tmp_path: Path) -> None:
    site, author = empty_site()
    space = site.add_space("EDIT", "Edit Space", author_id=author)
    page = site.add_content(space, "Diagrams")
    picture = '<ac:image ac:alt="the flow"><ri:attachment ri:filename="flow.png" /></ac:image>'
    site.edit_page(page.id, body=f"<p>First text.</p>{picture}")
    site.add_attachment(page, "flow.png", "image/png", "png")
    site.add_attachment(page, "guide.md", "text/markdown", "markdown", b"# Guide to the flow")
    emulator = Emulator(site)
    reader = make_reader(emulator)

    def downloads() -> list[str]:
        return [e.path for e in emulator.log if e.path.endswith("/download")]

    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        first = sync(reader, collection, space_key="EDIT", include_attachments=True)
        assert (first.images, first.attachments, len(downloads())) == (1, 1, 2)
        site.edit_page(page.id, body=f"<p>Second text.</p>{picture}")
        emulator.clear_log()
        edited = sync(reader, collection, space_key="EDIT", include_attachments=True)
        assert (edited.updated, edited.kept, downloads()) == (1, 2, [])
        assert collection.counts() == {"pages": 1, "images": 1, "attachments": 1}
        assert collection.search("Second text") and collection.search("guide flow")
        site.edit_page(page.id, title="Flow diagrams")  # the files carry the page's title
        emulator.clear_log()
        renamed = sync(reader, collection, space_key="EDIT", include_attachments=True)
        paths = {d.metadata["path"] for d in collection.documents("image")}
        assert (renamed.kept, len(downloads()), paths) == (0, 2, {"Edit Space > Flow diagrams"})
        site.edit_page(page.id, body="<p>The picture is gone.</p>")
        removed = sync(reader, collection, space_key="EDIT", include_attachments=True)
        assert removed.kept == 1 and collection.counts()["images"] == 0


def test_a_token_without_the_search_scope_falls_back_to_page_listings() -> None:
    """OAuth consents granted before the bulk listing existed lack its scope: the gateway says
    401 'scope does not match' (as observed; an expired token's body is not known, so one
    refresh is tried); then pages are listed one by one, and every file still arrives."""
    from llama_index_readers_confluence_v2 import DEFAULT_SCOPES, OAuthCredential

    emulator = Emulator(pages=60)
    app = emulator.oauth.register_app()
    old_scopes = [s for s in DEFAULT_SCOPES if s != "read:content-details:confluence"]
    tokens = emulator.oauth.issue_tokens(
        emulator.user().account_id, app.client_id, " ".join(old_scopes)
    )
    credential = OAuthCredential(
        app.client_id, app.client_secret, tokens["access_token"], tokens["refresh_token"]
    )
    reader = make_reader(emulator, credentials=credential, user_name=None, api_token=None)
    documents = reader.load_data(space_key="DOCS", include_attachments=True)
    files = {
        d.metadata["file_name"] for d in documents if d.metadata["content_type"] == "attachment"
    }
    assert set(IMPORTED) <= files
    searches = [e for e in emulator.log if e.path.endswith("/content/search")]
    assert [e.status for e in searches] == [401, 401] and credential.refresh_count == 1
    assert [e for e in emulator.log if e.path.endswith("/attachments")]
    assert "read:content-details:confluence" in DEFAULT_SCOPES  # new sign-ins ask for it
