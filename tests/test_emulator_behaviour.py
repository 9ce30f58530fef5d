"""The emulator's pagination, authentication, faults, downloads and request log."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from llama_index_readers_confluence_v2.emulator import Emulator, Site, populate_space
from llama_index_readers_confluence_v2.emulator.generator import USERS

from .conftest import api_client, make_reader
from .sites import empty_site, wide_space


def site_with_space(pages: int) -> tuple[Site, str]:
    site = Site()
    alice = site.add_account(*USERS[0])
    site.add_account(*USERS[1])
    space = site.add_space("BIG", "Big Space", author_id=alice.account_id)
    populate_space(site, space, pages, random.Random(3))
    return site, space.id


async def list_all(
    client: httpx.AsyncClient, path: str, params: dict[str, object]
) -> tuple[list[str], int]:
    ids: list[str] = []
    requests = 0
    url = path
    query: dict[str, object] | None = dict(params)
    while True:
        response = await client.get(url, params=query)
        requests += 1
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["id"] for item in body["results"]]
        next_link = body["_links"].get("next")
        if not next_link:  # as on real sites, the last page links only its base
            assert set(response.links) == {"base"}
            return ids, requests
        assert response.links["next"]["url"] == next_link
        assert body["_links"]["base"].endswith("/wiki")
        url, query = next_link, None


@pytest.mark.parametrize("limit", [1, 7, 25, 100, 250])
async def test_a_thousand_page_space_lists_every_page_exactly_once(limit: int) -> None:
    site, space_id = site_with_space(1000)
    emulator = Emulator(site)
    expected = {str(i) for i in site.space_pages[space_id]}
    params: dict[str, object] = {"limit": limit, "status": "current,archived"}
    async with api_client(emulator) as client:
        ids, requests = await list_all(client, f"/wiki/api/v2/spaces/{space_id}/pages", params)
    assert len(ids) == len(set(ids)) == 1000
    assert set(ids) == expected
    assert requests == -(-1000 // limit)


async def test_limit_over_250_is_refused_and_defaults_follow_the_api() -> None:
    site, space_id = site_with_space(300)
    page = site.contents[str(site.space_pages[space_id][5])]
    for number in range(60):
        site.add_attachment(page, f"file-{number}.png", "image/png", "png")
    emulator = Emulator(site)
    async with api_client(emulator) as client:
        sizes = {}
        for limit in (None, 0, -5, 250):
            params = {} if limit is None else {"limit": limit}
            listed = await client.get(f"/wiki/api/v2/spaces/{space_id}/pages", params=params)
            sizes[limit] = len(listed.json()["results"])
        attachments = (await client.get(f"/wiki/api/v2/pages/{page.id}/attachments")).json()
        bad = await client.get(f"/wiki/api/v2/spaces/{space_id}/pages", params={"limit": "many"})
        over = await client.get(f"/wiki/api/v2/spaces/{space_id}/pages", params={"limit": 300})
    assert sizes == {None: 25, 0: 1, -5: 1, 250: 250}
    assert len(attachments["results"]) == 50 and "next" in attachments["_links"]
    assert bad.status_code == 400
    assert over.status_code == 400  # refused, not clamped, with the real error body
    assert over.json() == {
        "errors": [
            {
                "status": 400,
                "code": "INVALID_REQUEST_PARAMETER",
                "title": "Provided size {300} for 'limit' is greater than the max allowed: 250",
                "detail": None,
            }
        ]
    }


async def test_cursors_are_opaque_and_carry_the_original_query(emulator: Emulator) -> None:
    space = emulator.site.space_of("DOCS")
    assert space is not None
    async with api_client(emulator) as client:
        body = (
            await client.get(
                f"/wiki/api/v2/spaces/{space.id}/pages",
                params={"limit": 2, "body-format": "storage"},
            )
        ).json()
        garbage = await client.get(
            f"/wiki/api/v2/spaces/{space.id}/pages", params={"cursor": "not-a-cursor"}
        )
    next_link = body["_links"]["next"]
    query = parse_qs(urlsplit(next_link).query)
    assert query["limit"] == ["2"] and query["body-format"] == ["storage"]
    assert urlsplit(next_link).query.startswith("cursor=")  # first here, as real ones are
    cursor = json.loads(base64.b64decode(query["cursor"][0]))  # the real encoding
    last = body["results"][-1]["id"]
    assert cursor == {"id": last, "contentOrder": "id", "contentOrderValue": int(last)}
    assert garbage.status_code == 400


def test_the_reader_follows_next_links_exactly_as_written() -> None:
    emulator = wide_space(1000, folders=0)
    make_reader(emulator).load_data(space_key="BIG")
    listings = [e.raw_query for e in emulator.log if e.path.endswith("/pages")]
    assert len(listings) == 4
    for raw in listings[1:]:  # cursor first, as the next link had it; nothing re-escaped
        assert raw.startswith("cursor=") and "%" not in raw, raw


async def test_cursor_padding_stays_raw_in_next_links() -> None:
    site, space_id = site_with_space(40)
    for number in range(30):
        site.add_content(site.spaces[space_id], f"Long id {number}", content_id=str(10**9 + number))
    emulator = Emulator(site)
    padded = []
    async with api_client(emulator) as client:
        url: str | None = f"/wiki/api/v2/spaces/{space_id}/pages?limit=1"
        while url:
            body = (await client.get(url)).json()
            url = body["_links"].get("next")
            if url and "=&" in url.replace("cursor=", "", 1) + "&":
                padded.append(url)
    assert padded and all("%3D" not in link for link in padded)


async def test_array_parameters_accept_commas_and_repeats(emulator: Emulator) -> None:
    keys = ["DOCS", "ENG"]
    async with api_client(emulator) as client:
        commas = (await client.get("/wiki/api/v2/spaces", params={"keys": ",".join(keys)})).json()
        repeats = (
            await client.get("/wiki/api/v2/spaces", params=[("keys", k) for k in keys])
        ).json()
    assert sorted(s["key"] for s in commas["results"]) == keys
    assert commas["results"] == repeats["results"]


async def test_personal_spaces_are_listed_only_by_type(emulator: Emulator) -> None:
    async with api_client(emulator) as client:
        personal = (await client.get("/wiki/api/v2/spaces", params={"type": "personal"})).json()[
            "results"
        ]
        every = (await client.get("/wiki/api/v2/spaces", params={"limit": 250})).json()["results"]
    assert personal and all(s["key"].startswith("~") for s in personal)
    assert {s["type"] for s in every} == {"global", "personal"}


# ---- authentication -----------------------------------------------------------------------------


async def _status(emulator: Emulator, origin: str, path: str, auth: object) -> int:
    async with httpx.AsyncClient(transport=emulator.transport(), base_url=origin) as client:
        headers = {"Authorization": auth} if isinstance(auth, str) else {}
        basic = auth if isinstance(auth, tuple) else None
        response = await client.get(path, auth=basic, headers=headers)  # type: ignore[arg-type]
        return response.status_code


async def test_each_credential_works_only_where_it_belongs(emulator: Emulator) -> None:
    user = emulator.user()
    site_path = "/wiki/api/v2/spaces"
    gateway_path = f"/ex/confluence/{emulator.cloud_id}/wiki/api/v2/spaces"
    emulator.app.bearer_tokens["oauth-access"] = (user.account_id, time.time() + 60)
    emulator.app.bearer_tokens["expired-access"] = (user.account_id, time.time() - 1)
    site, gateway = emulator.origins.site, emulator.origins.gateway
    cases = {
        ("site", "token"): await _status(emulator, site, site_path, (user.email, user.api_token)),
        ("site", "scoped"): await _status(
            emulator, site, site_path, (user.email, user.scoped_token)
        ),
        ("site", "bearer"): await _status(emulator, site, site_path, "Bearer oauth-access"),
        ("site", "none"): await _status(emulator, site, site_path, None),
        ("site", "wrong"): await _status(emulator, site, site_path, (user.email, "wrong")),
        ("gateway", "scoped"): await _status(
            emulator, gateway, gateway_path, (user.email, user.scoped_token)
        ),
        ("gateway", "bearer"): await _status(
            emulator, gateway, gateway_path, "Bearer oauth-access"
        ),
        ("gateway", "expired"): await _status(
            emulator, gateway, gateway_path, "Bearer expired-access"
        ),
        ("gateway", "token"): await _status(
            emulator, gateway, gateway_path, (user.email, user.api_token)
        ),
        ("gateway", "other-cloud"): await _status(
            emulator,
            gateway,
            "/ex/confluence/other/wiki/api/v2/spaces",
            (user.email, user.scoped_token),
        ),
    }
    assert cases == {
        ("site", "token"): 200,
        ("site", "scoped"): 401,
        ("site", "bearer"): 401,
        ("site", "none"): 401,
        ("site", "wrong"): 401,
        ("gateway", "scoped"): 200,
        ("gateway", "bearer"): 200,
        ("gateway", "expired"): 401,
        ("gateway", "token"): 401,
        ("gateway", "other-cloud"): 404,
    }


async def test_tenant_info_needs_no_credentials(emulator: Emulator) -> None:
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=emulator.origins.site
    ) as client:
        response = await client.get("/_edge/tenant_info")
    assert response.json() == {"cloudId": emulator.cloud_id}


async def test_restricted_pages_are_hidden_from_other_users(emulator: Emulator) -> None:
    restricted = [c for c in emulator.site.contents.values() if c.restricted_to]
    assert restricted
    page = restricted[0]
    bob = emulator.user("bob@example.com")
    async with (
        api_client(emulator) as alice_client,
        api_client(emulator, auth=(bob.email, bob.api_token)) as bob_client,
    ):
        alice_sees = await alice_client.get(f"/wiki/api/v2/pages/{page.id}")
        bob_sees = await bob_client.get(f"/wiki/api/v2/pages/{page.id}")
        listing = (
            await alice_client.get(
                f"/wiki/api/v2/spaces/{page.space_id}/pages", params={"limit": 250}
            )
        ).json()
    assert alice_sees.status_code == 404 and bob_sees.status_code == 200
    assert page.id not in {p["id"] for p in listing["results"]}


# ---- faults and the log -------------------------------------------------------------------------


async def test_rate_limit_answers_429_with_headers_then_recovers(emulator: Emulator) -> None:
    emulator.faults.rate_limit(after=2, times=2, retry_after="3")
    async with api_client(emulator) as client:
        statuses = [(await client.get("/wiki/api/v2/spaces")) for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 429, 429, 200]
    limited = statuses[2]
    assert limited.headers["Retry-After"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert "RateLimit-Reason" not in limited.headers  # a burst limit, not the hour's quota


def oauth_gateway(emulator: Emulator) -> httpx.AsyncClient:
    app = emulator.oauth.register_app()
    tokens = emulator.oauth.issue_tokens(
        emulator.user().account_id, app.client_id, "read:page:confluence read:space:confluence"
    )
    return httpx.AsyncClient(
        transport=emulator.transport(),
        base_url=f"{emulator.gateway_url}/ex/confluence/{emulator.cloud_id}",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )


async def test_the_points_quota_charges_by_objects_read_and_refuses_until_the_hour_resets(
    emulator: Emulator,
) -> None:
    quota = emulator.points_quota(limit=100)
    async with oauth_gateway(emulator) as client:
        first = await client.get("/wiki/api/v2/pages", params={"limit": 20})
        assert first.status_code == 200 and len(first.json()["results"]) == 20
        assert quota.used == 21  # 1 for the request, 1 per page read
        assert first.headers["RateLimit-Policy"] == '"global-app-quota";q=100;w=3600'
        assert ";r=" not in first.headers["RateLimit"]  # remaining shown only above 80% used
        while (
            answer := await client.get("/wiki/api/v2/pages", params={"limit": 20})
        ).status_code == 200:
            last = answer
        assert "r=" in last.headers["RateLimit"] and last.headers["X-RateLimit-NearLimit"] == "true"
        assert answer.status_code == 429
        assert answer.headers["RateLimit-Reason"] == "confluence-quota-global-based"
        assert answer.headers["X-RateLimit-Remaining"] == "0"
        wait = int(answer.headers["Retry-After"])
        assert 0 < wait <= 3600
        refused_again = await client.get("/wiki/api/v2/spaces")
        assert refused_again.status_code == 429  # no partial throttling
        emulator.advance(wait)
        assert (await client.get("/wiki/api/v2/spaces")).status_code == 200
    assert quota.refused == 2


async def test_api_token_traffic_is_counted_but_not_held_to_the_quota(emulator: Emulator) -> None:
    quota = emulator.points_quota(limit=10)
    async with api_client(emulator) as client:
        statuses = [(await client.get("/wiki/api/v2/spaces")).status_code for _ in range(5)]
    assert statuses == [200] * 5 and quota.total > 10


async def test_quota_limits_requests_per_second(emulator: Emulator) -> None:
    emulator.faults.quota(3)
    async with api_client(emulator) as client:
        statuses = [(await client.get("/wiki/api/v2/spaces")).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]


async def test_unavailable_and_latency_are_observable(emulator: Emulator) -> None:
    emulator.faults.unavailable(times=1, retry_after="2")
    emulator.faults.latency = 0.05
    async with api_client(emulator) as client:
        started = time.monotonic()
        first = await client.get("/wiki/api/v2/spaces")
        second = await client.get("/wiki/api/v2/spaces")
        elapsed = time.monotonic() - started
    assert (first.status_code, first.headers["Retry-After"], second.status_code) == (503, "2", 200)
    assert elapsed >= 0.1


async def test_truncated_body_is_not_json(emulator: Emulator) -> None:
    emulator.faults.truncate_body(path="/spaces")
    async with api_client(emulator) as client:
        response = await client.get("/wiki/api/v2/spaces")
        after = await client.get("/wiki/api/v2/spaces")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert after.json()["results"]


def test_dropped_connection_over_loopback(served: Emulator) -> None:
    served.faults.drop_connection(path="/spaces")
    user = served.user()
    with httpx.Client(auth=(user.email, user.api_token)) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"{served.base_url}/api/v2/spaces")
        assert client.get(f"{served.base_url}/api/v2/spaces").status_code == 200


async def test_cursor_loop_repeats_the_cursor(emulator: Emulator) -> None:
    emulator.faults.loop_cursor(path="/spaces")
    async with api_client(emulator) as client:
        first = (await client.get("/wiki/api/v2/spaces", params={"limit": 1})).json()
        second = (await client.get(first["_links"]["next"])).json()
    assert second["_links"]["next"] == first["_links"]["next"]


async def test_request_log_records_method_path_query_and_auth(emulator: Emulator) -> None:
    async with api_client(emulator) as client:
        await client.get("/wiki/api/v2/spaces", params={"limit": 2})
    entry = emulator.log[-1]
    assert (entry.method, entry.origin, entry.path, entry.query, entry.auth, entry.status) == (
        "GET",
        "site",
        "/wiki/api/v2/spaces",
        {"limit": "2"},
        "basic",
        200,
    )


# ---- downloads ----------------------------------------------------------------------------------


def _gallery(emulator: Emulator) -> tuple[str, str]:
    page_id = next(p for p, atts in emulator.site.page_attachments.items() if len(atts) > 10)
    attachment = next(
        a for a in emulator.site.attachments.values() if a.title == "architecture.png"
    )
    return page_id, attachment.id


def test_download_redirects_to_media_without_credentials(served: Emulator) -> None:
    page_id, attachment_id = _gallery(served)
    user = served.user()
    url = f"{served.base_url}/rest/api/content/{page_id}/child/attachment/{attachment_id}/download"
    with httpx.Client(auth=(user.email, user.api_token)) as client:
        first = client.get(url)
        followed = client.get(url, follow_redirects=True)
        legacy = client.get(f"{served.base_url}/download/attachments/{page_id}/architecture.png")
    media = served.requests(origin="media")
    no_token = httpx.get(first.headers["location"].split("?")[0])
    assert first.status_code == 302
    assert first.headers["location"].startswith(served.origins.media + "/file/")
    assert followed.status_code == 200 and followed.content.startswith(b"\x89PNG")
    assert no_token.status_code == 401
    assert legacy.status_code == 401 and legacy.headers["WWW-Authenticate"].startswith(
        "OAuth realm="
    )
    assert media and not any(entry.has_authorization for entry in media)


async def test_download_needs_site_credentials_and_a_visible_page(emulator: Emulator) -> None:
    page_id, attachment_id = _gallery(emulator)
    path = f"/wiki/rest/api/content/{page_id}/child/attachment/{attachment_id}/download"
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=emulator.origins.site
    ) as anonymous:
        assert (await anonymous.get(path)).status_code == 401
    async with api_client(emulator) as client:
        assert (await client.get(path.replace(page_id, "1"))).status_code == 404


# ---- scale --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_fifty_thousand_pages_start_fast_and_memory_does_not_grow_with_requests() -> None:
    import gc
    import tracemalloc

    tracemalloc.start()
    started = time.monotonic()
    emulator = Emulator(pages=50_000)
    built = time.monotonic() - started
    site_bytes = tracemalloc.get_traced_memory()[0]
    assert built < 10, f"generating 50,000 pages took {built:.1f}s"
    assert len([c for c in emulator.site.contents.values() if c.kind == "page"]) >= 50_000

    async def crawl(rounds: int) -> None:
        space = emulator.site.space_of("ENG")
        assert space is not None
        async with api_client(emulator) as client:
            for _ in range(rounds):
                await list_all(
                    client,
                    f"/wiki/api/v2/spaces/{space.id}/pages",
                    {"limit": 250, "body-format": "storage"},
                )

    asyncio.run(crawl(1))
    emulator.clear_log()
    gc.collect()
    after_one = tracemalloc.get_traced_memory()[0]
    asyncio.run(crawl(2))
    emulator.clear_log()
    gc.collect()
    after_three = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert site_bytes < 150 * 1024 * 1024
    assert after_three - after_one < 5 * 1024 * 1024, "memory grew with the number of requests"


def test_the_generated_site_is_deterministic_per_seed() -> None:
    def shape(site: Site) -> list[tuple[str, str, str | None, str, tuple[str, ...]]]:
        return [(c.id, c.title, c.parent_id, c.status, c.labels) for c in site.contents.values()]

    first, again, other = (Emulator(pages=300, seed=s).site for s in (5, 5, 6))
    assert shape(first) == shape(again)
    assert shape(first) != shape(other)
    page = next(c for c in first.contents.values() if c.kind == "page" and c.body is None)
    assert first.body_of(page) == again.body_of(again.contents[page.id])
    kinds = {a.kind for a in first.attachments.values()}
    assert {"png", "jpeg", "gif", "svg", "corrupt", "oversized", "bomb", "text", "pdf"} <= kinds


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('type = attachment and space = "DOCS" and title = "spec.pdf"', ["spec.pdf"]),
        ('type in (page, folder) and space = DOCS and title ~ "Decisions"', ["Decisions"]),
        ('label = "adr" and space = "DOCS"', ["Big Id Page"]),
        (
            'type = page and space = DOCS and not label = "home" and title = "Image Gallery"',
            ["Image Gallery"],
        ),
        ('type = attachment and container = "{files}" and title ~ "plan"', ["plan.docx"]),
    ],
)
async def test_cql_search_matches_what_the_query_says(
    emulator: Emulator, query: str, expected: list[str]
) -> None:
    files = next(c.id for c in emulator.site.contents.values() if c.title == "Specs and Files")
    async with api_client(emulator) as client:
        answer = await client.get(
            "/wiki/rest/api/content/search", params={"cql": query.format(files=files)}
        )
    assert answer.status_code == 200, answer.text
    assert [r["title"] for r in answer.json()["results"]] == expected


async def test_cql_search_pages_with_a_next_link_relative_to_wiki_and_refuses_bad_queries(
    emulator: Emulator,
) -> None:
    seen: list[str] = []
    async with api_client(emulator) as client:
        url = "/wiki/rest/api/content/search"
        params: dict[str, str] | None = {"cql": 'space = "DOCS" order by id desc', "limit": "4"}
        while url:
            body = (await client.get(url, params=params)).json()
            seen += [r["id"] for r in body["results"]]
            following = body["_links"].get("next")
            assert following is None or following.startswith("/rest/api/content/search?next=true")
            url, params = ("/wiki" + following, None) if following else ("", None)
        bad = await client.get("/wiki/rest/api/content/search", params={"cql": "space = = x"})
    assert len(seen) == len(set(seen)) > 4
    assert bad.status_code == 400 and "Could not parse cql" in bad.json()["message"]


@pytest.mark.parametrize(
    ("content_id", "tiny"),
    # real id/tiny pairs from the reference (section 5), and ids of 2**32 and more
    [
        ("7700526", "LoB1"),
        ("24281301", "1YByAQ"),
        ("196695", "VwAD"),
        ("152141923", "Y4ARCQ"),
        ("4294967296", "AAAAAAE"),  # 2**32: the fifth byte is 1
    ],
)
async def test_tiny_links_are_confluences_own(content_id: str, tiny: str) -> None:
    """The emulator makes `_links.tinyui` itself (not with the reader's code), as real pages
    show them."""
    site, _ = empty_site()
    space = site.add_space("TINY", "Tiny")
    site.add_content(space, "Page", content_id=content_id)
    emulator = Emulator(site)
    async with api_client(emulator) as client:
        page = (await client.get(f"/wiki/api/v2/pages/{content_id}")).json()
    assert page["_links"]["tinyui"] == f"/x/{tiny}"
