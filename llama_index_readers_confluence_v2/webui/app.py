"""The browse-and-pick screen: a local web app over the library (starlette, served by uvicorn).

Safe on a shared machine: it listens on loopback only; the address it prints carries a random
per-run token, exchanged on first visit for a strict same-site cookie, and every other request
needs that cookie; a request whose `Host` is not the app's own (DNS rebinding) or whose `Origin`
or `Sec-Fetch-Site` says another site sent it is refused. Secrets typed into the page go to the
credential store and are never sent back or logged.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..app import TargetChoice, browse, load_calls, reader_for
from ..browse import PageNode, PageTree
from ..credential_store import CredentialStore
from ..credentials import ConfluenceCredential
from ..errors import BadArgumentError, ConfluenceError
from ..reader import ConfluenceReader
from ..signin import DEFAULT_REDIRECT_URI
from ..urls import normalize_base_url
from .jobs import Jobs, picks_of
from .signins import SignIns

STATIC = Path(__file__).parent / "static"
COOKIE = "confluence_v2_ui"
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Settings:
    """What the app serves from: the store, the reader's endpoints, the default collection."""

    store: CredentialStore
    token: str
    collection: Path
    reader_options: dict[str, Any] = field(default_factory=dict)
    origins: set[str] = field(default_factory=set)  # e.g. http://127.0.0.1:8123, set by serve
    address: str = ""  # the address field's first value


class Screen:
    """The routes, and what a run of the app remembers: its imports and sign-ins."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs = Jobs()
        self.signins = SignIns(settings.store, settings.reader_options)

    # ---- the page and its session -------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            if not hmac.compare_digest(given, self.settings.token):
                return _refused("this address is not the one the app printed; use that one")
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, self.settings.token, httponly=True, samesite="strict")
            return response
        if not self._signed(request):
            return _refused("open the address the app printed (it carries a one-run token)")
        page = (STATIC / "index.html").read_text()
        page = page.replace("{{collection}}", html.escape(str(self.settings.collection)))
        page = page.replace("{{address}}", html.escape(self.settings.address))
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    def _signed(self, request: Request) -> bool:
        return hmac.compare_digest(request.cookies.get(COOKIE, ""), self.settings.token)

    def guarded(self, handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            if not self._signed(request):
                return _refused("not signed in to this run of the app")
            if request.method != "GET" and not self._same_origin(request):
                return _refused("cross-site requests are refused")
            try:
                return await handler(request)
            except (ConfluenceError, OSError, ValueError) as error:
                return JSONResponse({"error": " ".join(str(error).split())}, 400)

        return checked

    def _same_origin(self, request: Request) -> bool:
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return False
        origin = request.headers.get("origin")
        return origin is None or origin in self.settings.origins

    # ---- credentials --------------------------------------------------------------------------

    async def credentials(self, request: Request) -> Response:
        return JSONResponse({"credentials": self._credential_list()})

    def _credential_list(self) -> list[dict[str, str]]:
        return [
            {"id": c.id, "kind": c.kind, "site": c.site, "user": c.user}
            for c in self.settings.store.list()
        ]

    async def add_token(self, request: Request) -> Response:
        body = await _json(request)
        credential_id = str(body.get("id") or "").strip()
        site = str(body.get("site") or "").strip()
        email = str(body.get("email") or "").strip()
        token = str(body.get("token") or "").strip()
        if not (credential_id and site and email and token):
            raise BadArgumentError(
                "an API token needs a name, the site address, your e-mail and the token"
            )
        credential = ConfluenceCredential(email, token, True if body.get("scoped") else None)
        self.settings.store.save(credential_id, credential, site=normalize_base_url(site))
        return JSONResponse({"credentials": self._credential_list(), "added": credential_id})

    async def start_sign_in(self, request: Request) -> Response:
        body = await _json(request)
        name, client_id, secret = (
            str(body.get(key) or "").strip() for key in ("id", "client_id", "client_secret")
        )
        if not (name and client_id and secret):
            raise BadArgumentError("OAuth sign-in needs a name, your app's client id and secret")
        redirect = str(body.get("redirect_uri") or DEFAULT_REDIRECT_URI).strip()
        site = str(body.get("site") or "").strip() or None
        ticket = self.signins.start(name, client_id, secret, redirect, site)
        return JSONResponse({"sign_in": ticket})

    async def sign_in(self, request: Request) -> Response:
        found = self.signins.status(request.path_params["ticket"])
        if found is None:
            return JSONResponse({"error": "no such sign-in"}, 404)
        return JSONResponse({**found, "credentials": self._credential_list()})

    # ---- browsing -----------------------------------------------------------------------------

    def _reader(self, credential_id: str) -> ConfluenceReader:
        if credential_id not in {c.id for c in self.settings.store.list()}:
            raise BadArgumentError("pick a stored credential first (or add an API token)")
        return reader_for(
            credential_id=credential_id,
            store=self.settings.store,
            **self.settings.reader_options,
        )

    async def browse(self, request: Request) -> Response:
        body = await _json(request)
        credential_id = str(body.get("credential") or "")
        address = str(body.get("url") or "").strip()
        reader = self._reader(credential_id)
        if not address:
            raise BadArgumentError("enter a site, space or page address, or a space key")
        shown = await asyncio.to_thread(
            lambda: browse(
                reader,
                address,
                personal=bool(body.get("personal")),
                keywords=str(body.get("filter") or ""),
                one_level=True,
            )
        )
        if isinstance(shown, list):
            nodes = [
                {"id": s.key, "title": f"{s.name} ({s.key})", "kind": "space", "children": True}
                for s in shown
            ]
            return JSONResponse({"title": f"{len(nodes)} spaces", "nodes": nodes})
        return JSONResponse({"title": shown.title, "nodes": _nodes_of(shown)})

    async def children(self, request: Request) -> Response:
        """What is right under a node the page opens, read then (a level at a time)."""
        body = await _json(request)
        reader = self._reader(str(body.get("credential") or ""))
        node_id, kind = str(body.get("id") or ""), str(body.get("kind") or "")
        if kind == "space":
            tree = await asyncio.to_thread(lambda: reader.browse(node_id, one_level=True))
            return JSONResponse({"nodes": _nodes_of(tree)})
        below = await asyncio.to_thread(reader.level_below, node_id, kind)
        return JSONResponse({"nodes": [_node(child) for child in below]})

    # ---- importing and searching --------------------------------------------------------------

    async def start_import(self, request: Request) -> Response:
        body = await _json(request)
        reader = self._reader(str(body.get("credential") or ""))
        calls = load_calls(picks_of(body.get("picks") or []), reader.base_url)
        target = self._target(body.get("target") or {})
        job_id = self.jobs.start(reader, target.open, calls, body.get("options") or {})
        return JSONResponse({"job": job_id})

    def _target(self, chosen: dict[str, Any]) -> TargetChoice:
        if chosen.get("kind") == "h2ogpte":
            return TargetChoice(
                h2ogpte_address=str(chosen.get("address") or ""),
                collection_id=str(chosen.get("collection") or ""),
                api_key=str(chosen.get("api_key") or ""),
            )
        return TargetChoice(str(chosen.get("path") or self.settings.collection))

    async def job(self, request: Request) -> Response:
        found = self.jobs.progress(request.path_params["job"])
        if found is None:
            return JSONResponse({"error": "no such import"}, 404)
        return JSONResponse(found)

    async def search(self, request: Request) -> Response:
        from ..sinks import LocalCollection

        query = request.query_params.get("q", "")
        path = Path(request.query_params.get("path") or self.settings.collection).expanduser()
        if not path.exists():
            raise BadArgumentError(f"nothing imported into {path} yet")
        with LocalCollection(path) as collection:
            hits = collection.search(query, limit=20)
        return JSONResponse(
            {
                "hits": [
                    {"title": h.title, "path": h.path, "url": h.url, "snippet": h.snippet}
                    for h in hits
                ]
            }
        )


def _nodes_of(tree: PageTree) -> list[dict[str, Any]]:
    """A tree's first level for the page, its blog posts last, apart."""
    posts = [
        {**_node(post), "kind": "blogpost", "space": tree.space_key} for post in tree.blog_posts
    ]
    return [_node(root) for root in tree.roots] + posts


def _node(node: PageNode) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": node.id,
        "title": node.title,
        "kind": node.kind,
        "children": node.has_children,
    }
    if node.children:  # read already: drawn open
        shown["nodes"] = [_node(child) for child in node.children]
    return shown


def create_app(settings: Settings) -> Starlette:
    screen = Screen(settings)
    guard = screen.guarded
    return Starlette(
        routes=[
            Route("/", screen.index),
            Route("/api/credentials", guard(screen.credentials)),
            Route("/api/credentials", guard(screen.add_token), methods=["POST"]),
            Route("/api/sign-in", guard(screen.start_sign_in), methods=["POST"]),
            Route("/api/sign-in/{ticket}", guard(screen.sign_in)),
            Route("/api/browse", guard(screen.browse), methods=["POST"]),
            Route("/api/children", guard(screen.children), methods=["POST"]),
            Route("/api/import", guard(screen.start_import), methods=["POST"]),
            Route("/api/jobs/{job}", guard(screen.job)),
            Route("/api/search", guard(screen.search)),
            Mount("/static", StaticFiles(directory=STATIC)),
        ],
        middleware=[],
    )


def host_guard(app: Starlette, hosts: set[str]) -> Callable[..., Awaitable[None]]:
    """Refuse a request whose Host is not the app's own (a page on another site reaching it
    through DNS rebinding)."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if host not in hosts:
                await _refused("this app answers on its own loopback address only")(
                    scope, receive, send
                )
                return
        await app(scope, receive, send)

    return guarded


async def _json(request: Request) -> dict[str, Any]:
    if "application/json" not in request.headers.get("content-type", ""):
        raise BadArgumentError("send JSON")
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise BadArgumentError("send JSON") from None
    if not isinstance(body, dict):
        raise BadArgumentError("send a JSON object")
    return body


def _refused(why: str) -> Response:
    return JSONResponse({"error": why}, 403)
