"""The defects the redesign removed, each with the test that caught it (they failed before)."""

from __future__ import annotations

import asyncio
import logging
import random
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner

from llama_index_readers_confluence_v2 import (
    ConfluenceCredential,
    ConfluenceReader,
    InvalidRequestError,
    LocalCollection,
    UnknownArgumentError,
    sync,
)
from llama_index_readers_confluence_v2.cli import main
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID

from .conftest import FAST_RETRY, api_client, make_reader
from .sites import current_ids, deep_chain, wide_space
from .test_oauth import gateway_client, oauth_credential

# ---- 1. an OAuth token already expired at start ------------------------------------------------


def test_an_incumbent_oauth2_token_expired_before_the_run_is_refreshed_once(
    emulator: Emulator,
) -> None:
    app = emulator.oauth.register_app()
    tokens = emulator.oauth.issue_tokens(
        emulator.user().account_id, app.client_id, "read:page:confluence offline_access"
    )
    emulator.advance(3700)  # the access token died before the run; no expires_at says so
    reader = ConfluenceReader(
        emulator.base_url,
        oauth2={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "token": {
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "token_type": "bearer",
            },
        },
        api_gateway_url=emulator.gateway_url,
        auth_server_url=emulator.auth_url,
        transport=emulator.transport(),
        retry=FAST_RETRY,
    )
    documents = reader.load_data(page_ids=[BIG_PAGE_ID])
    assert [d.id_ for d in documents] == [BIG_PAGE_ID]
    assert emulator.oauth.refreshes == 1
    refused = [e for e in emulator.log if e.status == 401]
    assert [e.path for e in refused] == ["/oauth/token/accessible-resources"]


async def test_a_refused_token_on_any_gateway_call_refreshes_then_retries(
    emulator: Emulator,
) -> None:
    credential, _ = oauth_credential(emulator)
    async with gateway_client(emulator, credential) as client:
        emulator.advance(3700)
        space = await client.get_json("/wiki/api/v2/spaces", {"keys": "DOCS", "limit": 1})
    assert space["results"][0]["key"] == "DOCS"
    assert credential.refresh_count == 1


# ---- 2. no blank filter, no more than 250 ids ----------------------------------------------------


def selections(emulator: Emulator, chain: list[Any]) -> dict[str, dict[str, Any]]:
    leaf, folder = chain[-1], next(c for c in chain if c.kind == "folder")
    site = emulator.site
    other = site.add_space("OTHER", "Other Space", author_id=emulator.user().account_id)
    elsewhere = site.add_content(other, "Elsewhere")
    return {
        "page": {"page_ids": [chain[3].id]},
        "page with children": {"page_ids": [chain[3].id], "include_children": True},
        "leaf with children": {"page_ids": [leaf.id], "include_children": True},
        "folder": {"folder_id": folder.id},
        "folder id as a page id": {"page_ids": [folder.id]},
        "space": {"space_key": "DEEP"},
        "site": {"url": emulator.base_url},
        "ids across spaces": {"page_ids": [leaf.id, elsewhere.id, chain[0].id]},
    }


@pytest.mark.parametrize(
    "kind",
    [
        "page",
        "page with children",
        "leaf with children",
        "folder",
        "folder id as a page id",
        "space",
        "site",
        "ids across spaces",
    ],
)
def test_no_selection_sends_a_blank_query_value(kind: str) -> None:
    emulator, chain = deep_chain()
    arguments = selections(emulator, chain)[kind]
    reader = make_reader(emulator)
    documents = reader.load_data(**arguments)
    assert documents and not reader.last_report.failures
    with LocalCollection(":memory:") as collection:  # the bodiless inventory too
        sync(reader, collection, **arguments)
        sync(reader, collection, **arguments)
    blank = [(e.path, e.query) for e in emulator.log if any(not v for v in e.query.values())]
    assert blank == []
    oversized = [e.query for e in emulator.log if len(e.query.get("id", "").split(",")) > 250]
    assert oversized == []


def test_a_leaf_with_children_costs_no_page_listing_at_all() -> None:
    emulator, chain = deep_chain()
    make_reader(emulator).load_data(page_ids=[chain[-1].id], include_children=True)
    by_id = [e.query["id"] for e in emulator.log if e.path.endswith("/pages") and "id" in e.query]
    assert by_id[0] == chain[-1].id  # the leaf itself, then its ancestors' titles in one batch
    assert len(by_id) == 2 and all(by_id), by_id  # never `id=` with nothing


async def test_the_emulator_reads_a_blank_id_filter_as_no_filter(emulator: Emulator) -> None:
    """The pessimistic reading of an unknown behaviour, so that a regression shows in counts."""
    async with api_client(emulator) as client:
        answer = await client.get("/wiki/api/v2/pages", params={"id": "", "limit": 250})
    assert len(answer.json()["results"]) > 10


@pytest.mark.parametrize(
    "params",
    [{"id": ""}, {"id": "1,,2"}, {"space-id": " "}, {"id": ",".join(map(str, range(1, 252)))}],
)
async def test_the_client_refuses_blank_filters_and_over_250_ids(
    emulator: Emulator, params: dict[str, str]
) -> None:
    account = emulator.user()
    client = ConfluenceReader(
        emulator.base_url,
        credentials=ConfluenceCredential(account.email, account.api_token),
        api_gateway_url=emulator.gateway_url,
        transport=emulator.transport(),
    ).client()
    async with client:
        with pytest.raises(InvalidRequestError, match="refused to send"):
            await client.get_json("/wiki/api/v2/pages", params)
    assert not [e for e in emulator.log if e.path == "/wiki/api/v2/pages"]


# ---- 4. public names -------------------------------------------------------------------------------


def test_the_promised_names_import_from_the_package_root() -> None:
    import llama_index_readers_confluence_v2 as package

    for name in (
        "ingest_from_confluence",
        "H2OGPTeCollection",
        "sync",
        "LocalCollection",
        "PageUpsert",
        "PageUnchanged",
        "PageRemoval",
        "PageTree",
        "SpaceSummary",
    ):
        assert name in package.__all__ and getattr(package, name) is not None, name


def test_importing_the_package_does_not_import_h2ogpte() -> None:
    code = (
        "import sys, llama_index_readers_confluence_v2 as p; "
        "assert 'h2ogpte' not in sys.modules, 'imported eagerly'; "
        "p.H2OGPTeCollection; assert 'llama_index_readers_confluence_v2.sinks.h2ogpte' in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---- 5. progress and logs ---------------------------------------------------------------------------


def _site_with_a_broken_image() -> Emulator:
    emulator = wide_space(40, folders=0)
    site = emulator.site
    space = site.space_of("BIG")
    assert space is not None and space.homepage_id
    home = site.contents[space.homepage_id]
    site.add_attachment(home, "broken.png", "image/png", "corrupt")
    site.edit_page(
        home.id, body='<p>See <ac:image><ri:attachment ri:filename="broken.png" /></ac:image></p>'
    )
    return emulator


def test_log_lines_are_written_above_the_progress_bar_not_into_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = _site_with_a_broken_image()
    reader = make_reader(emulator)
    reader.load_data(space_key="BIG", include_attachments=True, show_progress=True)
    assert len(reader.last_report.skipped_images) == 1
    err = capsys.readouterr().err
    at = err.index("skipped image on page")
    assert "Confluence pages" in err
    line_so_far = err[:at].rsplit("\n", 1)[-1].rsplit("\r", 1)[-1]
    assert line_so_far.strip() == "", f"the log line was glued to the bar: {line_so_far!r}"


def test_the_demo_reports_each_skipped_image_once() -> None:
    result = CliRunner().invoke(main, ["demo", "--pages", "60"])
    assert result.exit_code == 0, result.output
    skips = [line for line in result.output.splitlines() if "skipped image on page" in line]
    assert skips and all(count == 1 for count in Counter(s.strip() for s in skips).values())


# ---- 6. an unknown argument fails at once ----------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("entry", ["load_data", "lazy_load_data", "alazy_load_data", "sync"])
def test_an_unknown_argument_raises_at_once_naming_the_nearest(
    emulator: Emulator, entry: str
) -> None:
    reader = make_reader(emulator)
    arguments = {"space_key": "DOCS", "include_chidren": True}  # a typo: this used to hang
    with pytest.raises(TypeError, match=r"'include_chidren'.*did you mean 'include_children'"):
        if entry == "alazy_load_data":

            async def drain() -> None:
                async for _ in reader.alazy_load_data(**arguments):
                    pass

            asyncio.run(drain())
        elif entry == "sync":
            with LocalCollection(":memory:") as collection:
                sync(reader, collection, **arguments)
        else:
            list(getattr(reader, entry)(**arguments))
    assert not emulator.log, "nothing may be sent for a call that cannot work"
    assert issubclass(UnknownArgumentError, TypeError)


@pytest.mark.timeout(30)
def test_an_error_inside_the_stream_reaches_the_sync_caller(emulator: Emulator) -> None:
    emulator.faults.unavailable(path="/pages", times=1000)
    reader = make_reader(emulator)
    stream = reader.lazy_load_data(space_key="DOCS")
    with pytest.raises(Exception, match="503"):
        next(stream)


def test_the_cli_names_the_option_it_does_not_take(served: Emulator) -> None:
    result = CliRunner().invoke(
        main, ["ingest", "DOCS", "--childrn", "--base-url", served.base_url]
    )
    assert result.exit_code == 2
    assert "--childrn" in result.output and "--children" in result.output


# ---- 7. lists of page ids in bulk ------------------------------------------------------------------


def test_three_hundred_ids_of_one_space_take_a_handful_of_requests() -> None:
    emulator = wide_space(400, folders=2)
    site = emulator.site
    space = site.space_of("BIG")
    assert space is not None
    for number, page_id in enumerate(site.space_pages[space.id][:40]):
        site.label_page(str(page_id), f"label-{number % 4}")
    ids = [str(i) for i in site.space_pages[space.id]][:300]
    random.Random(1).shuffle(ids)
    reader = make_reader(emulator)
    documents = reader.load_data(page_ids=ids)
    assert [d.id_ for d in documents] == ids  # every page, in the order asked
    labelled = {d.id_: d.metadata["labels"] for d in documents if d.metadata["labels"]}
    assert len(labelled) == 40
    assert len(emulator.log) <= 12, Counter(e.path for e in emulator.log)
    bodies = [e for e in emulator.log if e.path.endswith("/pages") and "body-format" in e.query]
    assert len(bodies) == 2  # 250 + 50
    assert not [e for e in emulator.log if e.path.endswith("/labels") and "/pages/" in e.path]


def test_ids_across_spaces_and_orders_keep_their_order_and_labels(emulator: Emulator) -> None:
    wanted = sorted(current_ids(emulator, "DOCS"))[:3] + sorted(current_ids(emulator, "ENG"))[:3]
    random.Random(5).shuffle(wanted)
    documents = make_reader(emulator).load_data(page_ids=wanted)
    assert [d.id_ for d in documents] == wanted
    assert len([e for e in emulator.log if e.path.endswith("/pages")]) == 1


def test_repeated_warning_logger_is_the_reports_own() -> None:
    """Skips and failures are logged once, on the report's logger, which callers can silence."""
    emulator = _site_with_a_broken_image()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("llama_index_readers_confluence_v2.report")
    handler = Keep()
    logger.addHandler(handler)
    try:
        make_reader(emulator).load_data(space_key="BIG", include_attachments=True)
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage().split(":")[0] for r in records] == [
        f"skipped image on page {emulator.site.space_of('BIG').homepage_id}"  # type: ignore[union-attr]
    ]
