"""llama-index-readers-confluence's README examples, with only the import changed, over the
emulator on loopback (the site, the API gateway and the OAuth server come from the environment,
as the placeholders in those examples would)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID


@pytest.fixture
def site(served: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    user = served.user()
    monkeypatch.setenv("CONFLUENCE_USERNAME", user.email)  # for api_token= alone
    monkeypatch.setenv("CONFLUENCE_API_GATEWAY_URL", served.gateway_url)
    monkeypatch.setenv("CONFLUENCE_AUTH_SERVER_URL", served.auth_url)
    return served


def oauth2_dict_of(emulator: Emulator) -> dict[str, Any]:
    from llama_index_readers_confluence_v2 import DEFAULT_SCOPES

    app = emulator.oauth.register_app()
    scopes = " ".join(DEFAULT_SCOPES)
    tokens = emulator.oauth.issue_tokens(emulator.user().account_id, app.client_id, scopes)
    token = {"access_token": tokens["access_token"], "token_type": "Bearer"}
    return {"client_id": app.client_id, "token": token}


def test_the_page_ids_and_space_example(site: Emulator) -> None:
    from llama_index_readers_confluence_v2 import ConfluenceReader

    oauth2_dict = oauth2_dict_of(site)
    base_url = site.base_url
    page_ids = [BIG_PAGE_ID]
    space_key = "DOCS"

    reader = ConfluenceReader(
        base_url=base_url,
        oauth2=oauth2_dict,
        client_args={"backoff_and_retry": True},
    )
    documents = reader.load_data(
        space_key=space_key, include_attachments=True, page_status="current"
    )
    documents.extend(
        reader.load_data(page_ids=page_ids, include_children=True, include_attachments=True)
    )
    titles = [d.metadata.get("title") for d in documents]
    assert "Product Docs Home" in titles and titles.count("Big Id Page") == 2
    assert all(e.origin == "gateway" for e in site.log if e.origin in ("site", "gateway"))


def test_the_first_five_then_the_next_five_example(site: Emulator) -> None:
    from llama_index_readers_confluence_v2 import ConfluenceReader

    reader = ConfluenceReader(base_url=site.base_url, oauth2=oauth2_dict_of(site))
    space_key = "DOCS"
    documents = reader.load_data(
        space_key=space_key,
        include_attachments=True,
        page_status="current",
        start=0,
        max_num_results=5,
    )
    documents.extend(
        reader.load_data(
            space_key=space_key,
            include_children=True,
            include_attachments=True,
            start=5,
            max_num_results=5,
        )
    )
    pages = [d.id_ for d in documents if d.metadata["content_type"] == "page"]
    assert len(pages) == len(set(pages)) == 10
    whole = reader.load_data(space_key=space_key, max_num_results=10)
    assert pages == [d.id_ for d in whole]


def test_the_cql_cursor_example(site: Emulator) -> None:
    from llama_index_readers_confluence_v2 import ConfluenceReader

    current = [c for c in site.site.contents.values() if c.kind == "page" and c.status == "current"]
    for page in current[:12]:
        site.site.label_page(page.id, "devops")
    cql = 'type="page" AND label="devops"'

    reader = ConfluenceReader(base_url=site.base_url, oauth2=oauth2_dict_of(site))
    documents = reader.load_data(cql=cql, max_num_results=5)
    cursor = reader.get_next_cursor()
    documents.extend(reader.load_data(cql=cql, cursor=cursor, max_num_results=5))
    ids = [d.id_ for d in documents]
    assert len(ids) == len(set(ids)) == 10


def test_the_advanced_configuration_example(site: Emulator, tmp_path: Path) -> None:
    from llama_index_readers_confluence_v2 import ConfluenceReader

    custom_folder = tmp_path / "confluence_files"
    custom_folder.mkdir()
    seen_sizes: list[int] = []

    def attachment_filter(media_type: str, file_size: int, title: str) -> tuple[bool, str]:
        seen_sizes.append(file_size)
        if file_size > 10 * 1024 * 1024:
            return False, f"File too large: {file_size} bytes"
        if media_type in ["application/x-zip-compressed", "application/zip"]:
            return False, f"Unsupported file type: {media_type}"
        return True, ""

    excluded_pages = [BIG_PAGE_ID]

    def document_filter(page_id: str) -> bool:
        return page_id not in excluded_pages

    logger = logging.getLogger("confluence_reader")
    logger.setLevel(logging.INFO)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)

    reader = ConfluenceReader(
        base_url=site.base_url,
        api_token=site.user().api_token,
        process_attachment_callback=attachment_filter,
        process_document_callback=document_filter,
        custom_folder=str(custom_folder),
        logger=logger,
        fail_on_error=False,
    )
    documents = reader.load_data(space_key="DOCS", include_attachments=True)
    logger.removeHandler(handler)
    assert BIG_PAGE_ID not in {d.id_ for d in documents} and seen_sizes
    bodies = [e.query["id"] for e in site.log if "body-format" in e.query and "id" in e.query]
    assert all(BIG_PAGE_ID not in ids.split(",") for ids in bodies)  # asked before fetching
    assert any("skipped" in record.getMessage() for record in records)


def test_the_event_handler_example(site: Emulator) -> None:
    from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    from llama_index_readers_confluence_v2 import (
        AttachmentFailedEvent,
        AttachmentProcessedEvent,
        AttachmentProcessingStartedEvent,
        AttachmentSkippedEvent,
        ConfluenceReader,
        PageDataFetchCompletedEvent,
        PageDataFetchStartedEvent,
        PageFailedEvent,
        PageSkippedEvent,
        TotalPagesToProcessEvent,
    )

    received: list[Any] = []

    class ConfluenceEventHandler(BaseEventHandler):  # type: ignore[misc]
        @classmethod
        def class_name(cls) -> str:
            return "ConfluenceEventHandler"

        def handle(self, event: Any, **kwargs: Any) -> None:
            if isinstance(
                event,
                (
                    TotalPagesToProcessEvent,
                    PageDataFetchStartedEvent,
                    PageDataFetchCompletedEvent,
                    PageSkippedEvent,
                    PageFailedEvent,
                    AttachmentProcessingStartedEvent,
                    AttachmentProcessedEvent,
                    AttachmentSkippedEvent,
                    AttachmentFailedEvent,
                ),
            ):
                received.append(event)

    reader = ConfluenceReader(base_url=site.base_url, api_token=site.user().api_token)
    dispatcher = get_dispatcher("llama_index.readers.confluence.base")
    confluence_handler = ConfluenceEventHandler()
    dispatcher.add_event_handler(confluence_handler)
    try:
        documents = reader.load_data(space_key="DOCS", include_attachments=True)
    finally:
        dispatcher.event_handlers.remove(confluence_handler)
    names = {type(event).__name__ for event in received}
    pages = [d for d in documents if d.metadata["content_type"] == "page"]
    completed = [e for e in received if isinstance(e, PageDataFetchCompletedEvent)]
    assert len(completed) == len(pages) and completed[0].document.id_ == pages[0].id_
    assert {
        "PageDataFetchStartedEvent",
        "AttachmentProcessingStartedEvent",
        "AttachmentProcessedEvent",
        "AttachmentSkippedEvent",
        "AttachmentFailedEvent",
    } <= names
    failed = next(e for e in received if isinstance(e, AttachmentFailedEvent))
    assert failed.attachment_name and failed.error and failed.page_id
