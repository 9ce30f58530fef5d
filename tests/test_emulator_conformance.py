"""Every v2 route's JSON validates against the official OpenAPI spec (a copy in tests/data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID

from .conftest import api_client

SPEC = Path(__file__).parent / "data" / "confluence-v2-openapi.json"


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    spec = json.loads(SPEC.read_text())
    spec["servers"] = [{"url": "https://acme.confluence.test/wiki/api/v2"}]
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def _ids(emulator: Emulator) -> dict[str, str]:
    site = emulator.site
    docs = site.space_of("DOCS")
    assert docs is not None
    folder = next(c for c in site.contents.values() if c.kind == "folder")
    page_with_images = next(
        p for p in site.page_attachments if site.contents[p].title == "Image Gallery"
    )
    labelled = next(c for c in site.contents.values() if c.labels)
    post = next(c for c in site.contents.values() if c.title == "Release 2.0 is out")
    labelled_post = next(c for c in site.contents.values() if c.kind == "blogpost" and c.labels)
    nodes = {
        kind: site.add_content(docs, f"A {kind}", docs.homepage_id, kind=kind).id
        for kind in ("whiteboard", "database")
    }
    embed = site.add_content(
        docs, "Status", docs.homepage_id, kind="embed", embed_url="https://status.example.com/"
    )
    site.add_content(docs, "Under the whiteboard", nodes["whiteboard"])
    return {
        **nodes,
        "embed": embed.id,
        "post": post.id,
        "post_label": site.label_ids[labelled_post.labels[0]],
        "space": docs.id,
        "page": BIG_PAGE_ID,
        "home": docs.homepage_id or "",
        "folder": folder.id,
        "gallery": page_with_images,
        "label": site.label_ids[labelled.labels[0]],
    }


ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/spaces", {"limit": "3"}),
    ("/spaces", {"type": "personal"}),
    ("/spaces/{space}", {}),
    ("/spaces/{space}/pages", {"body-format": "storage", "limit": "5"}),
    ("/spaces/{space}/pages", {"body-format": "atlas_doc_format", "sort": "-title"}),
    ("/spaces/{space}/content/labels", {}),
    ("/pages", {"id": "{page},{home}", "body-format": "storage"}),
    ("/pages", {"space-id": "{space}", "status": "archived"}),
    ("/pages/{page}", {"body-format": "storage", "include-labels": "true"}),
    ("/pages/{home}", {"body-format": "view"}),
    ("/pages/{home}", {"body-format": "export_view"}),
    ("/pages/{home}/children", {}),
    ("/pages/{home}/direct-children", {}),
    ("/pages/{home}/descendants", {"depth": "5"}),
    ("/pages/{page}/ancestors", {}),
    ("/attachments", {"sort": "-modified-date", "limit": "3"}),
    ("/folders/{folder}", {}),
    ("/folders/{folder}/direct-children", {}),
    ("/folders/{folder}/descendants", {}),
    ("/folders/{folder}/ancestors", {}),
    ("/whiteboards/{whiteboard}", {}),
    ("/whiteboards/{whiteboard}/direct-children", {}),
    ("/whiteboards/{whiteboard}/descendants", {}),
    ("/whiteboards/{whiteboard}/ancestors", {}),
    ("/databases/{database}", {}),
    ("/databases/{database}/ancestors", {}),
    ("/embeds/{embed}", {}),
    ("/embeds/{embed}/ancestors", {}),
    ("/pages/{gallery}/attachments", {}),
    ("/pages/{gallery}/attachments", {"mediaType": "image/png", "filename": "architecture.png"}),
    ("/pages/{page}/labels", {}),
    ("/labels/{label}/pages", {"space-id": "{space}"}),
    ("/spaces/{space}/blogposts", {"body-format": "storage", "limit": "5"}),
    ("/blogposts", {"id": "{post}", "body-format": "storage"}),
    ("/blogposts", {"space-id": "{space}", "status": "current"}),
    ("/blogposts/{post}", {"body-format": "storage"}),
    ("/blogposts/{post}/attachments", {}),
    ("/labels/{post_label}/blogposts", {"space-id": "{space}", "body-format": "storage"}),
]


# Where captured real responses contradict the spec, the emulator follows reality
# (../shared/reference/real-api-observations.md): the field is checked for its real type, then
# given a spec-valid value so that everything else is still validated against the schema.
REAL_OVER_SPEC = {"/folders/{folder}": ("createdAt", int, "2026-01-01T00:00:00.000Z")}


@pytest.mark.parametrize(("template", "params"), ROUTES, ids=[f"{r[0]}?{r[1]}" for r in ROUTES])
async def test_route_matches_the_official_schema(
    openapi: OpenAPI, emulator: Emulator, template: str, params: dict[str, str]
) -> None:
    ids = _ids(emulator)
    path = "/wiki/api/v2" + template.format(**ids)
    query = {key: value.format(**ids) for key, value in params.items()}
    async with api_client(emulator) as client:
        response = await client.get(path, params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("results", [body]), f"{path} returned nothing to validate"
    if template in REAL_OVER_SPEC:
        field, real_type, spec_value = REAL_OVER_SPEC[template]
        assert isinstance(body[field], real_type), (field, body[field])
        body[field] = spec_value
    request = MockRequest("https://acme.confluence.test", "get", path, args=query)
    openapi.validate_response(
        request,
        MockResponse(
            data=json.dumps(body).encode(), status_code=200, content_type="application/json"
        ),
    )


async def test_bodies_follow_the_requested_format(emulator: Emulator) -> None:
    ids = _ids(emulator)
    async with api_client(emulator) as client:
        plain = (await client.get(f"/wiki/api/v2/pages/{ids['home']}")).json()
        adf = (
            await client.get(
                f"/wiki/api/v2/pages/{ids['home']}", params={"body-format": "atlas_doc_format"}
            )
        ).json()
        bad = await client.get(
            f"/wiki/api/v2/spaces/{ids['space']}/pages", params={"body-format": "view"}
        )
    assert plain["body"] == {}
    assert isinstance(adf["body"]["atlas_doc_format"]["value"], str)
    assert json.loads(adf["body"]["atlas_doc_format"]["value"])["type"] == "doc"
    assert bad.status_code == 400


async def test_folders_are_not_pages_and_ancestors_run_top_down(emulator: Emulator) -> None:
    ids = _ids(emulator)
    async with api_client(emulator) as client:
        as_page = await client.get(f"/wiki/api/v2/pages/{ids['folder']}")
        ancestors = (await client.get(f"/wiki/api/v2/pages/{ids['page']}/ancestors")).json()
        children = (await client.get(f"/wiki/api/v2/pages/{ids['home']}/children")).json()
        direct = (await client.get(f"/wiki/api/v2/pages/{ids['home']}/direct-children")).json()
    assert as_page.status_code == 404
    chain = ancestors["results"]
    assert chain[0]["id"] == ids["home"] and [a["type"] for a in chain][-2:] == ["folder", "folder"]
    assert "_links" in ancestors and "next" not in ancestors["_links"]
    assert {c.get("type", "page") for c in children["results"]} == {"page"}
    assert all("type" in c for c in direct["results"])


async def test_descendants_honour_depth(emulator: Emulator) -> None:
    ids = _ids(emulator)
    async with api_client(emulator) as client:
        depths = {}
        for depth in (1, 3, 5):
            found = (
                await client.get(
                    f"/wiki/api/v2/pages/{ids['home']}/descendants",
                    params={"depth": depth, "limit": 250},
                )
            ).json()["results"]
            depths[depth] = max(item["depth"] for item in found)
        too_deep = await client.get(
            f"/wiki/api/v2/pages/{ids['home']}/descendants", params={"depth": 6}
        )
    assert depths == {1: 1, 3: 3, 5: 5}
    assert too_deep.status_code == 400


async def test_users_bulk_matches_the_official_schema(openapi: OpenAPI, emulator: Emulator) -> None:
    body = {"accountIds": [a.account_id for a in emulator.site.accounts.values()] + ["unknown"]}
    async with api_client(emulator) as client:
        response = await client.post("/wiki/api/v2/users-bulk", json=body)
    assert response.status_code == 200
    assert [u["displayName"] for u in response.json()["results"]] == ["Alice Admin", "Bob Builder"]
    request = MockRequest(
        "https://acme.confluence.test",
        "post",
        "/wiki/api/v2/users-bulk",
        data=json.dumps(body).encode(),
        content_type="application/json",
    )
    openapi.validate_response(
        request,
        MockResponse(data=response.content, status_code=200, content_type="application/json"),
    )
