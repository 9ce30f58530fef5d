"""Resilience, authentication, the incumbent's call forms, and how the reader behaves in use."""

from __future__ import annotations

import asyncio
import logging

import pytest

from llama_index_readers_confluence_v2 import (
    AuthError,
    BadArgumentError,
    BadURLError,
    ConfluenceCredential,
    ConfluenceError,
    ConfluenceReader,
    RateLimitError,
    RetryPolicy,
)
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID

from .conftest import make_reader
from .sites import current_ids, deep_chain, wide_space

# ---- resilience ---------------------------------------------------------------------------------


def test_a_429_storm_and_503s_are_survived_with_every_page_once() -> None:
    emulator = wide_space(700, folders=2)
    # four requests in five fail, in turn: Retry-After 0, absent, 1, then a 503
    emulator.faults.rate_limit(after=0, times=5, retry_after="0", every=5)
    emulator.faults.rate_limit(after=1, times=5, retry_after=None, every=5)
    emulator.faults.rate_limit(after=2, times=5, retry_after="1", every=5)
    emulator.faults.unavailable(after=3, times=4, retry_after="1", every=5)
    documents = make_reader(emulator).load_data(space_key="BIG")
    ids = [d.id_ for d in documents]
    assert len(ids) == len(set(ids)) == 700
    assert sum(e.status == 429 for e in emulator.log) == 15
    assert sum(e.status == 503 for e in emulator.log) == 4
    assert sum(e.status == 200 for e in emulator.log) >= 6


def test_retries_run_out_with_a_rate_limit_error_that_says_what_to_do(emulator: Emulator) -> None:
    emulator.faults.rate_limit(times=100, retry_after="1")
    reader = make_reader(
        emulator, retry=RetryPolicy(max_attempts=3, backoff_base=0.01, retry_after_max=0.01)
    )
    with pytest.raises(RateLimitError, match=r"429.*3 attempts"):
        reader.load_data(space_key="DOCS")
    assert sum(e.status == 429 for e in emulator.log) == 3


def test_retry_after_is_honoured_but_clamped(emulator: Emulator) -> None:
    emulator.faults.rate_limit(times=1, retry_after="9223372036854775807")
    reader = make_reader(emulator, retry=RetryPolicy(retry_after_max=0.2, backoff_base=0.01))
    started = asyncio.get_event_loop_policy().new_event_loop().time()
    assert reader.load_data(page_ids=[BIG_PAGE_ID])
    assert asyncio.get_event_loop_policy().new_event_loop().time() - started < 5


def test_a_looping_cursor_stops_with_a_clear_error() -> None:
    emulator = wide_space(600, folders=0)
    emulator.faults.loop_cursor(path="/pages")
    with pytest.raises(ConfluenceError, match="same pagination cursor twice"):
        make_reader(emulator).load_data(space_key="BIG")
    assert len([e for e in emulator.log if e.path.endswith("/pages")]) == 2


def test_a_truncated_body_is_retried(emulator: Emulator) -> None:
    emulator.faults.truncate_body(path="/spaces", times=2)
    assert make_reader(emulator).load_data(space_key="DOCS")


def test_dropped_connections_and_latency_over_loopback(served: Emulator) -> None:
    served.faults.drop_connection(path="/pages", times=2)
    served.faults.latency = 0.01
    documents = make_reader(served, in_process=False).load_data(space_key="DOCS")
    assert {d.id_ for d in documents} == current_ids(served, "DOCS")


def test_a_page_deleted_mid_run_is_reported_not_fatal() -> None:
    emulator, chain = deep_chain()
    doomed = chain[-2]
    emulator.faults.on_request(
        lambda: emulator.site.delete_content(doomed.id), path="body-format=storage", after=1
    )
    reader = make_reader(emulator)
    documents = reader.load_data(page_ids=[chain[1].id], include_children=True)
    assert doomed.id not in {d.id_ for d in documents}
    assert reader.last_report.failed_page_ids == [doomed.id]
    assert "deleted or restricted" in reader.last_report.failures[0].reason


def test_fail_on_error_raises_instead() -> None:
    emulator, chain = deep_chain()
    doomed = chain[-2]
    emulator.faults.on_request(
        lambda: emulator.site.delete_content(doomed.id), path="body-format=storage", after=1
    )
    with pytest.raises(ConfluenceError, match=doomed.id):
        make_reader(emulator, fail_on_error=True).load_data(
            page_ids=[chain[1].id], include_children=True
        )


# ---- authentication -----------------------------------------------------------------------------


def test_scoped_tokens_go_through_the_gateway(emulator: Emulator) -> None:
    user = emulator.user()
    reader = make_reader(emulator, api_token=user.scoped_token, scoped_token=True)
    documents = reader.load_data(page_ids=[BIG_PAGE_ID])
    assert documents[0].metadata["url"].startswith(emulator.base_url)
    api = [
        e
        for e in emulator.log
        if e.origin in ("site", "gateway") and e.path != "/_edge/tenant_info"
    ]
    assert api and all(e.origin == "gateway" for e in api)
    tenant = [e for e in emulator.log if e.path == "/_edge/tenant_info"]
    assert tenant and not tenant[0].has_authorization


def test_a_scoped_token_is_detected_when_the_site_refuses_it(emulator: Emulator) -> None:
    user = emulator.user()
    documents = make_reader(emulator, api_token=user.scoped_token).load_data(space_key="DOCS")
    assert {d.id_ for d in documents} == current_ids(emulator, "DOCS")
    assert [
        e.status for e in emulator.log if e.origin == "site" and e.path.startswith("/wiki")
    ] == [401]


def test_a_wrong_token_is_an_auth_error_without_the_token(emulator: Emulator) -> None:
    with pytest.raises(AuthError) as caught:
        make_reader(emulator, api_token="definitely-wrong-token").load_data(space_key="DOCS")
    assert "alice@example.com" in str(caught.value)
    assert "definitely-wrong-token" not in str(caught.value)


def test_secrets_never_appear_in_reprs_or_logs(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    user = emulator.user()
    credential = ConfluenceCredential(username=user.email, password=user.api_token)
    reader = make_reader(emulator, api_token=None, credentials=credential)
    emulator.faults.rate_limit(times=2, retry_after="0")
    with caplog.at_level(logging.DEBUG):
        reader.load_data(space_key="DOCS")
    for text in (repr(reader), repr(credential), str(credential), caplog.text):
        assert user.api_token not in text


def test_environment_variables_are_the_fallback(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = emulator.user()
    monkeypatch.setenv("CONFLUENCE_BASE_URL", emulator.base_url)
    monkeypatch.setenv("CONFLUENCE_USERNAME", user.email)
    monkeypatch.setenv("CONFLUENCE_API_TOKEN", user.api_token)
    reader = ConfluenceReader(transport=emulator.transport())
    assert reader.load_data(page_ids=BIG_PAGE_ID)[0].id_ == BIG_PAGE_ID


# ---- the incumbent's call forms ---------------------------------------------------------------


def test_incumbent_call_forms_work_unchanged(emulator: Emulator) -> None:
    user = emulator.user()
    reader = ConfluenceReader(
        emulator.base_url,
        user_name=user.email,
        password=user.api_token,
        transport=emulator.transport(),
    )
    by_space = reader.load_data(space_key="DOCS", max_num_results=5)
    with_children = reader.load_data(page_ids=[BIG_PAGE_ID], include_children=True)
    with_attachments = reader.load_data(page_ids=[BIG_PAGE_ID], include_attachments=True)
    archived = reader.load_data(space_key="DOCS", page_status="archived")
    assert len(by_space) == 5
    assert with_children[0].id_ == BIG_PAGE_ID and len(with_children) > 1
    assert with_attachments[0].id_ == BIG_PAGE_ID
    assert archived and all(d.metadata["status"] == "archived" for d in archived)
    for document in by_space:
        assert {"title", "page_id", "status", "url"} <= set(document.metadata)
        assert document.metadata["page_id"] == document.id_
        assert document.metadata["url"].startswith(emulator.base_url)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "nothing to load"),
        ({"space_key": ""}, "space_key"),
        ({"page_ids": ["abc"]}, "page id"),
        ({"page_ids": [1], "page_status": "draft"}, "drafts"),
        ({"space_key": "X", "max_num_results": 0}, "max_num_results"),
        ({"url": "https://elsewhere.example/wiki/spaces/X"}, "not to the configured site"),
    ],
)
def test_bad_load_arguments_fail_at_once_with_what_to_pass(
    emulator: Emulator, kwargs: dict[str, object], message: str
) -> None:
    reader = make_reader(emulator)
    with pytest.raises(BadArgumentError, match=message):
        reader.lazy_load_data(**kwargs)
    assert not emulator.log


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cloud": False}, "Data Center"),
        ({"user_name": None, "api_token": "x"}, "user_name is missing"),
        ({"api_token": None}, "api_token is missing"),
        ({"max_concurrency": 0}, "max_concurrency"),
    ],
)
def test_bad_construction_fails_with_what_to_pass(
    emulator: Emulator, kwargs: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CONFLUENCE_USERNAME", "CONFLUENCE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BadArgumentError, match=message):
        make_reader(emulator, **kwargs)


def test_plain_http_is_refused_except_on_loopback() -> None:
    with pytest.raises(BadURLError, match="https"):
        ConfluenceReader("http://acme.atlassian.net/wiki", user_name="a@b.c", api_token="t")
    assert ConfluenceReader("http://127.0.0.1:9/wiki", user_name="a@b.c", api_token="t")


# ---- in use -------------------------------------------------------------------------------------


async def test_sync_load_inside_a_running_event_loop(emulator: Emulator) -> None:
    asyncio.get_running_loop()
    documents = make_reader(emulator).load_data(page_ids=[BIG_PAGE_ID])
    assert documents[0].id_ == BIG_PAGE_ID


async def test_async_loading_is_native(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    streamed = [d.id_ async for d in reader.alazy_load_data(space_key="DOCS")]
    listed = [d.id_ for d in await reader.aload_data(space_key="DOCS")]
    assert streamed == listed and streamed


def test_show_progress_shows_a_bar(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    make_reader(emulator).load_data(space_key="DOCS", show_progress=True)
    assert "Confluence pages" in capsys.readouterr().err


def test_documents_follow_the_metadata_contract(emulator: Emulator) -> None:
    document = make_reader(emulator).load_data(page_ids=[BIG_PAGE_ID])[0]
    metadata = document.metadata
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in metadata.values())
    assert set(metadata) == {
        "title",
        "page_id",
        "status",
        "url",
        "space_key",
        "space_id",
        "space_name",
        "parent_id",
        "parent_type",
        "ancestor_ids",
        "path",
        "depth",
        "position",
        "version",
        "created_at",
        "last_modified",
        "author_id",
        "labels",
        "content_type",
        "source",
    }
    assert metadata["source"] == "confluence" and metadata["version"] == 1
    embed_text = document.get_metadata_str(
        mode=__import__("llama_index.core.schema", fromlist=["MetadataMode"]).MetadataMode.EMBED
    )
    assert BIG_PAGE_ID not in embed_text and "http" not in embed_text
    assert "Big Id Page" in embed_text


async def test_a_next_link_to_another_host_is_refused() -> None:
    """The server side here is a stand-in returning a hostile `_links.next` (no emulator does)."""
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "acme.confluence.test"
        return httpx.Response(
            200,
            json={
                "results": [{"id": "1"}],
                "_links": {"next": "https://evil.example/wiki/api/v2/spaces?cursor=x"},
            },
        )

    credential = ConfluenceCredential("a@example.com", "token-value")
    client = ConfluenceReader(
        "https://acme.confluence.test/wiki",
        credentials=credential,
        api_gateway_url="https://api.confluence.test",
        transport=httpx.MockTransport(handler),
    ).client()
    async with client:
        with pytest.raises(ConfluenceError, match="another host"):
            [item async for item in client.paginate("/wiki/api/v2/spaces")]


def test_mentions_show_display_names_looked_up_once(emulator: Emulator) -> None:
    site = emulator.site
    space = site.space_of("DOCS")
    assert space is not None and space.homepage_id
    alice, bob = emulator.user(), emulator.user("bob@example.com")
    mention = '<p>Ask <ac:link><ri:user ri:account-id="{}" /></ac:link>.</p>'
    site.edit_page(
        space.homepage_id, body=mention.format(alice.account_id) + mention.format(bob.account_id)
    )
    site.edit_page(BIG_PAGE_ID, body=mention.format(alice.account_id))
    documents = {d.id_: d for d in make_reader(emulator).load_data(space_key="DOCS")}
    assert "Ask @Alice Admin." in documents[space.homepage_id].text
    assert "Ask @Bob Builder." in documents[space.homepage_id].text
    assert "Ask @Alice Admin." in documents[BIG_PAGE_ID].text
    assert len([e for e in emulator.log if e.path.endswith("/users-bulk")]) == 1


def test_mentions_keep_account_ids_when_names_cannot_be_looked_up(emulator: Emulator) -> None:
    emulator.faults.unavailable(path="/users-bulk", times=1000)
    docs = emulator.site.space_of("DOCS")
    assert docs is not None and docs.homepage_id
    document = make_reader(emulator).load_data(page_ids=[docs.homepage_id])[0]
    assert f"@{emulator.user().account_id}" in document.text
