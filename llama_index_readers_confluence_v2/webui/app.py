"""The browse-and-pick screen: a local web app over the library (starlette, served by uvicorn).

Safe on a shared machine, and against other pages in the same browser:
- it listens on loopback only, and refuses a request whose `Host` is not its own (DNS
  rebinding);
- the address it prints carries a random per-run token, exchanged on first visit for a strict
  same-site cookie; the page it then serves holds a second per-run secret, which every API
  request (GET included) must send in the `X-Confluence-V2-Session` header. A page on another
  origin (another loopback port is the same site, so the browser sends it our cookie) can
  neither read that secret nor send a custom header without a preflight the app does not
  answer; a request whose `Origin` or `Sec-Fetch-Site` says another origin sent it is refused;
- collections are files in the folder the screen was started with (`--to`), named on the page by
  file name only: nothing the page sends can choose where a file is created or opened;
- request bodies are JSON objects (the exact media type), at most 64 KiB, each field of the type
  it should be; anything else is a 4xx saying what is wrong;
- every answer forbids framing, inline scripts and referrers (CSP, X-Frame-Options,
  Referrer-Policy, nosniff).
Secrets typed into the page go to the credential store and are never sent back or logged.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..app import TargetChoice, browse, check_credential, reader_for
from ..browse import PageNode, PageTree
from ..credential_store import CredentialStore
from ..credentials import ConfluenceCredential
from ..errors import AuthError, BadArgumentError, BodyTooLarge, ConfluenceError, ImportRunning
from ..picks import load_calls
from ..reader import ConfluenceReader
from ..signin import DEFAULT_REDIRECT_URI
from ..urls import normalize_base_url
from .jobs import Jobs, picks_of
from .signins import SignIns

STATIC = Path(__file__).parent / "static"
COOKIE = "confluence_v2_ui"
SESSION_HEADER = "x-confluence-v2-session"
MAX_BODY = 64 * 1024
SEARCH_SHOWN = 20  # hits shown; the page says when there are more
Handler = Callable[[Request], Awaitable[Response]]
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


@dataclass
class Settings:
    """What the app serves from: the store, the reader's endpoints, the default collection."""

    store: CredentialStore
    token: str
    collection: Path  # the default collection; the page names others in its folder only
    session: str = ""  # the per-run secret the page sends in SESSION_HEADER
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
        page = page.replace("{{session}}", html.escape(self.settings.session))
        page = page.replace("{{folder}}", html.escape(str(self.settings.collection.parent)))
        page = page.replace("{{collection}}", html.escape(self.settings.collection.name))
        page = page.replace("{{address}}", html.escape(self.settings.address))
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    def _signed(self, request: Request) -> bool:
        return hmac.compare_digest(request.cookies.get(COOKIE, ""), self.settings.token)

    def guarded(self, handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            if not self._signed(request):
                return _refused("not signed in to this run of the app")
            if not self._same_origin(request):
                return _refused("requests from another origin are refused")
            sent = request.headers.get(SESSION_HEADER, "")
            if not hmac.compare_digest(sent, self.settings.session):
                return _refused("send this run's session header (the app's own page does)")
            try:
                return await handler(request)
            except BodyTooLarge as error:
                return JSONResponse({"error": str(error)}, 413)
            except AuthError as error:
                return JSONResponse({"error": _in_screen_words(error)}, 400)
            except (ConfluenceError, OSError, ValueError) as error:
                return JSONResponse({"error": " ".join(str(error).split())}, 400)

        return checked

    def _same_origin(self, request: Request) -> bool:
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return False
        origin = request.headers.get("origin")
        return origin is None or origin in self.settings.origins

    def _collection(self, name: object) -> Path:
        """A collection file the page names: the default one, or a file name in its folder
        (where the screen was started); no other place, so a page cannot choose where files
        are created or opened."""
        default = self.settings.collection
        if name is None or name == "" or name == default.name or name == str(default):
            return default
        if not isinstance(name, str):
            raise BadArgumentError("the collection is a file name such as wiki.sqlite")
        text = name.strip()
        plain = text and "/" not in text and "\\" not in text and not text.startswith(".")
        if not plain or "\x00" in text:
            raise BadArgumentError(
                f"{text!r}: the screen keeps collections in {default.parent}, so give a file "
                "name such as wiki.sqlite (start `confluence-v2 ui --to PATH` for another folder)"
            )
        return default.parent / (text if text.endswith(".sqlite") else f"{text}.sqlite")

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
        credential_id = _text(body, "id")
        site = _text(body, "site")
        email = _text(body, "email")
        token = _text(body, "token")
        if not (credential_id and site and email and token):
            raise BadArgumentError(
                "an API token needs a name, the site address, your e-mail and the token"
            )
        credential = ConfluenceCredential(email, token, True if body.get("scoped") else None)
        taken = credential_id in {c.id for c in self.settings.store.list()}
        if taken and body.get("replace") is not True:
            return JSONResponse(
                {
                    "error": f"a credential named {credential_id!r} is stored already: choose "
                    "another name, or confirm that it should be replaced",
                    "exists": credential_id,
                },
                409,
            )
        site = normalize_base_url(site)
        try:
            await asyncio.to_thread(
                check_credential, site, credential, **self.settings.reader_options
            )
        except AuthError:
            raise BadArgumentError(_refused_token(email, site)) from None
        self.settings.store.save(credential_id, credential, site=site)
        return JSONResponse({"credentials": self._credential_list(), "added": credential_id})

    async def delete_credential(self, request: Request) -> Response:
        credential_id = request.path_params["credential"]
        self.settings.store.delete(credential_id)
        return JSONResponse({"credentials": self._credential_list(), "deleted": credential_id})

    async def start_sign_in(self, request: Request) -> Response:
        body = await _json(request)
        name, client_id, secret = (_text(body, key) for key in ("id", "client_id", "client_secret"))
        if not (name and client_id and secret):
            raise BadArgumentError("OAuth sign-in needs a name, your app's client id and secret")
        redirect = _text(body, "redirect_uri") or DEFAULT_REDIRECT_URI
        site = _text(body, "site") or None
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
        credential_id = _text(body, "credential")
        address = _text(body, "url")
        reader = self._reader(credential_id)
        if not address:
            raise BadArgumentError("enter a site, space or page address, or a space key")
        shown = await asyncio.to_thread(
            lambda: browse(
                reader,
                address,
                personal=bool(body.get("personal")),
                keywords=_text(body, "filter").replace(",", " ").split(),
                one_level=True,
            )
        )
        if isinstance(shown, list):
            nodes = [
                {"id": s.key, "title": f"{s.name} ({s.key})", "kind": "space", "children": True}
                for s in shown
            ]
            title = f"{len(nodes)} space{'' if len(nodes) == 1 else 's'}"
            return JSONResponse({"title": title, "nodes": nodes, "all": "spaces"})
        nodes = await asyncio.to_thread(self._marked, _nodes_of(shown))
        return JSONResponse({"title": shown.title, "nodes": nodes})

    async def children(self, request: Request) -> Response:
        """What is right under a node the page opens, read then (a level at a time)."""
        body = await _json(request)
        reader = self._reader(_text(body, "credential"))
        node_id, kind = _text(body, "id"), _text(body, "kind")
        if kind == "space":
            tree = await asyncio.to_thread(lambda: reader.browse(node_id, one_level=True))
            return JSONResponse({"nodes": await asyncio.to_thread(self._marked, _nodes_of(tree))})
        below = await asyncio.to_thread(reader.level_below, node_id, kind)
        nodes = [_node(child) for child in below]
        return JSONResponse({"nodes": await asyncio.to_thread(self._marked, nodes)})

    def _marked(self, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Nodes the default collection holds already say so (`imported`); SQLite is read off
        the server's loop (callers run this in a thread)."""
        from ..sinks import LocalCollection

        path = self.settings.collection
        if not path.is_file():
            return nodes
        with LocalCollection(path) as collection:
            held = collection.holding(_ids_in(nodes))
        return _with_marks(nodes, held)

    # ---- importing and searching --------------------------------------------------------------

    async def start_import(self, request: Request) -> Response:
        body = await _json(request)
        reader = self._reader(_text(body, "credential"))
        picks = _of_type(body, "picks", list, "a list of ticked nodes", [])
        if not all(isinstance(pick, dict) for pick in picks):
            raise BadArgumentError('"picks" holds objects: {"kind": "page", "id": "123"}')
        calls = load_calls(picks_of(picks), reader.base_url)
        target = self._target(_of_type(body, "target", dict, "an object", {}))
        options = _of_type(body, "options", dict, "an object of true/false options", {})
        try:
            job_id = self.jobs.start(reader, target.open, target.description, calls, options)
        except ImportRunning as running:
            return JSONResponse({"error": str(running)}, 409)
        return JSONResponse({"job": job_id})

    async def jobs_running(self, request: Request) -> Response:
        return JSONResponse({"running": self.jobs.running()})

    async def cancel_job(self, request: Request) -> Response:
        if not self.jobs.cancel(request.path_params["job"]):
            return JSONResponse({"error": "no such import"}, 404)
        return JSONResponse({"cancelling": request.path_params["job"]})

    def _target(self, chosen: dict[str, Any]) -> TargetChoice:
        if chosen.get("kind") == "h2ogpte":
            return TargetChoice(
                h2ogpte_address=_text(chosen, "address"),
                collection_id=_text(chosen, "collection"),
                api_key=_text(chosen, "api_key"),
            )
        if chosen.get("kind") not in (None, "local"):
            raise BadArgumentError('the target "kind" is "local" or "h2ogpte"')
        return TargetChoice(self._collection(chosen.get("path")))

    async def job(self, request: Request) -> Response:
        found = self.jobs.progress(request.path_params["job"])
        if found is None:
            return JSONResponse({"error": "no such import"}, 404)
        return JSONResponse(found)

    async def search(self, request: Request) -> Response:
        from ..sinks import LocalCollection

        query = request.query_params.get("q", "")
        path = self._collection(request.query_params.get("path"))
        if not path.is_file():
            raise BadArgumentError(f"nothing imported into {path.name} yet")
        with LocalCollection(path) as collection:
            hits = collection.search(query, limit=SEARCH_SHOWN + 1)
        return JSONResponse(
            {
                "hits": [
                    {"title": h.title, "path": h.path, "url": h.url, "snippet": _plain(h.snippet)}
                    for h in hits[:SEARCH_SHOWN]
                ],
                "more": len(hits) > SEARCH_SHOWN,
            }
        )


def _refused_token(email: str, site: str) -> str:
    return (
        f"Confluence refused this API token for {email} at {site}: check the e-mail and the "
        "token (id.atlassian.com > Security > API tokens); a scoped token needs "
        '"scoped token" ticked. Nothing was stored.'
    )


def _in_screen_words(error: AuthError) -> str:
    """The library speaks its arguments (user_name, scoped_token=True); the screen its fields."""
    text = " ".join(str(error).split())
    if "Check user_name" in text:
        return (
            f"{text.split(' (HTTP', 1)[0]}: check the e-mail and the API token of this "
            'credential (a scoped token needs "scoped token" ticked when it is added)'
        )
    return text


def _plain(snippet: str) -> str:
    """A search snippet without Markdown: link and image targets, image marks, emphasis and
    heading marks go (the brackets around matched words stay: they mark the matches)."""
    text = re.sub(r"\]\((?:https?://|/)[^)\s]*\)?", "]", snippet)
    text = text.replace("![", "[")
    text = re.sub(r"(^|\s)#{1,6}\s", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|`|~~)", "", text)
    return " ".join(text.replace("\\", "").split())


def _ids_in(nodes: list[dict[str, Any]]) -> list[str]:
    return [i for node in nodes for i in (str(node["id"]), *_ids_in(node.get("nodes", [])))]


def _with_marks(nodes: list[dict[str, Any]], held: set[str]) -> list[dict[str, Any]]:
    return [
        {
            **node,
            "imported": str(node["id"]) in held,
            **({"nodes": _with_marks(node["nodes"], held)} if "nodes" in node else {}),
        }
        for node in nodes
    ]


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
            Route(
                "/api/credentials/{credential}/delete",
                guard(screen.delete_credential),
                methods=["POST"],
            ),
            Route("/api/sign-in", guard(screen.start_sign_in), methods=["POST"]),
            Route("/api/sign-in/{ticket}", guard(screen.sign_in)),
            Route("/api/browse", guard(screen.browse), methods=["POST"]),
            Route("/api/children", guard(screen.children), methods=["POST"]),
            Route("/api/import", guard(screen.start_import), methods=["POST"]),
            Route("/api/jobs", guard(screen.jobs_running)),
            Route("/api/jobs/{job}", guard(screen.job)),
            Route("/api/jobs/{job}/cancel", guard(screen.cancel_job), methods=["POST"]),
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
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise BadArgumentError("send JSON (Content-Type: application/json)")
    if _declared_length(request) > MAX_BODY:
        raise BodyTooLarge(f"a request body holds at most {MAX_BODY} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BodyTooLarge(f"a request body holds at most {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadArgumentError("send JSON: the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadArgumentError("send a JSON object")
    return body


def _declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length", "0"))
    except ValueError:
        return 0


def _of_type(body: dict[str, Any], key: str, kind: type, what: str, default: Any) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise BadArgumentError(f'"{key}" must be {what}, not {type(value).__name__}')
    return value


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadArgumentError(f'"{key}" must be text, not {type(value).__name__}')
    return value.strip()


def secured(app: Any) -> Callable[..., Awaitable[None]]:
    """Every answer with the headers a local app should send (SECURITY_HEADERS)."""

    async def with_headers(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await app(scope, receive, sending if scope["type"] == "http" else send)

    return with_headers


def _refused(why: str) -> Response:
    return JSONResponse({"error": why}, 403)
