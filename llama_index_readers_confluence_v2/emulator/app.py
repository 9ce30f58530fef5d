"""The ASGI application: site, gateway and media origins of Confluence Cloud, with faults.

One application serves every origin; the `Host` of a request says which origin it reached.
Routes follow ../shared/reference/confluence-cloud-api.md section 7.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import collections
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Set
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, Router
from starlette.types import Message, Receive, Scope, Send

from . import views
from .api import ApiError, Caller, Origins, error_response
from .faults import Faults, LoggedRequest
from .model import Attachment, Content, Site, Space
from .oauth import OAuthServer
from .permissions import SCOPES, PermissionRoutes
from .quota import PointsQuota, objects_read, points_for, route_of
from .v1 import V1Routes, legacy_download

V2_PREFIX = "/wiki/api/v2"
PAGE_STATUSES = {"current", "archived", "deleted", "trashed"}
BLOGPOST_STATUSES = {"current", "deleted", "trashed"}
# the routes of the content tree's nodes that are not pages, and their kinds
NODE_ROUTES = {
    "folders": "folder",
    "whiteboards": "whiteboard",
    "databases": "database",
    "embeds": "embed",
}
LIST_BODY_FORMATS = {"storage", "atlas_doc_format"}
SINGLE_BODY_FORMATS = LIST_BODY_FORMATS | {
    "view",
    "export_view",
    "anonymous_export_view",
    "styled_view",
    "editor",
}


class DroppedConnection(ConnectionResetError):
    """Raised inside the app to cut a response off mid-body."""


class EmulatorApp:
    """ASGI callable; `site`, `faults`, `log` and `origins` are read by tests."""

    def __init__(self, site: Site, origins: Origins, faults: Faults | None = None) -> None:
        self.site = site
        self.origins = origins
        self.faults = faults or Faults()
        self.log: collections.deque[LoggedRequest] = collections.deque(maxlen=500_000)
        self.bearer_tokens: dict[str, tuple[str, float]] = {}
        self.bearer_scopes: dict[str, frozenset[str]] = {}
        self.clock_offset = 0.0
        self.quota: PointsQuota | None = None  # points counted (and enforced) when set
        self._media_key = secrets.token_bytes(32)
        api = _V2Routes(self)
        self.router = Router(
            routes=[
                Mount(V2_PREFIX, routes=api.routes()),
                Mount("/ex/confluence/{cloud_id}" + V2_PREFIX, routes=api.routes()),
                Route("/_edge/tenant_info", self._tenant_info),
                Route(
                    "/wiki/rest/api/content/{cid}/child/attachment/{aid}/download", self._download
                ),
                Route(
                    "/ex/confluence/{cloud_id}/wiki/rest/api/content/{cid}/child/attachment/{aid}/download",
                    self._download,
                ),
                Route("/wiki/download/attachments/{rest:path}", self._legacy_download),
                Route("/file/{file_id}/binary", self._media),
            ]
        )
        self.oauth = OAuthServer(self)
        self.add_routes(self.oauth.routes())
        self.add_routes(V1Routes(self).routes())
        self.add_routes(api.permissions.v1_routes())
        self.legacy_downloads = False  # real Cloud: the servlet refuses API tokens

    def now(self) -> float:
        """The emulator's clock (token expiry): real time plus what tests advanced it by."""
        return time.time() + self.clock_offset

    def add_routes(self, routes: Iterable[Route | Mount]) -> None:
        """Let other emulated services (OAuth server, v1 API) share the application."""
        self.router.routes[:0] = list(routes)

    # ---- ASGI entry: origin, log, latency, faults ---------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        request = Request(scope)
        role = self.origins.role_of(request.url.netloc)
        scope.setdefault("state", {})["role"] = role
        entry = LoggedRequest(
            method=request.method,
            origin=role,
            path=request.url.path,
            query=dict(request.query_params),
            auth=_auth_kind(request.headers.get("authorization", "")),
            has_authorization="authorization" in request.headers,
            raw_query=scope.get("query_string", b"").decode("latin-1"),
        )
        self.log.append(entry)
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        target = f"{request.url.path}?{request.url.query}"
        for hook in self.faults.pick_all(target, "hook"):
            if hook.action is not None:
                hook.action()
        for stall in self.faults.pick_all(entry.path, "stall"):
            await asyncio.sleep(float(stall.retry_after or 0))
        if role in ("site", "gateway") and await self._answer_fault(entry, scope, receive, send):
            return
        if role in ("site", "gateway") and self.quota is not None:
            await self._answer_counted(self.quota, entry, scope, receive, send)
            return
        await self.router(scope, receive, _recording(send, entry))

    async def _answer_counted(
        self, quota: PointsQuota, entry: LoggedRequest, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Charge the answer's points; OAuth traffic gets the quota headers, and a 429 once the
        hour's quota is spent."""
        oauth = entry.auth == "bearer"
        if oauth and quota.spent():
            entry.status = 429
            refusal = JSONResponse({"message": "Rate limit exceeded"}, 429, quota.refusal_headers())
            await refusal(scope, receive, send)
            return
        body, start = await self._capture(scope, receive)
        entry.status = start["status"]
        content_type = dict(start["headers"]).get(b"content-type", b"").decode("latin-1")
        objects = objects_read(entry.path, entry.status, body, content_type)
        points = points_for(entry.method, entry.path, objects, per_object=quota.per_object)
        quota.charge(points, route_of(entry.method, entry.path, entry.raw_query))
        extra = quota.headers() if oauth else {}
        headers = [*start["headers"], *((k.lower().encode(), v.encode()) for k, v in extra.items())]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _answer_fault(
        self, entry: LoggedRequest, scope: Scope, receive: Receive, send: Send
    ) -> bool:
        if self.faults.over_quota():
            return await self._send_rate_limited(entry, "1", send)
        rule = self.faults.pick(entry.path, ("429", "503", "drop", "truncate"))
        if rule is None:
            return False
        if rule.kind == "429":
            return await self._send_rate_limited(entry, rule.retry_after, send)
        if rule.kind == "503":
            headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
            response = JSONResponse({"message": "Service Unavailable"}, 503, headers)
            entry.status = 503
            await response(scope, receive, send)
            return True
        body, start = await self._capture(scope, receive)
        entry.status = start["status"]
        if rule.kind == "truncate":
            await _send_truncated(send, start, body)
            return True
        await _send_dropped(send, start, body)
        return True

    async def _send_rate_limited(
        self, entry: LoggedRequest, retry_after: str | None, send: Send
    ) -> bool:
        # a burst limit (requests a second): no RateLimit-Reason, a window of about a second
        window = float(retry_after) if retry_after and float(retry_after) < 3600 else 1.0
        headers = {
            "X-RateLimit-Limit": str(int(self.faults.requests_per_second or 10)),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + max(window, 1.0))
            ),
        }
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        entry.status = 429
        response = JSONResponse({"message": "Rate limit exceeded"}, 429, headers)
        await response({"type": "http"}, _no_receive, send)
        return True

    async def _capture(self, scope: Scope, receive: Receive) -> tuple[bytes, Message]:
        messages: list[Message] = []

        async def collect(message: Message) -> None:
            messages.append(message)

        await self.router(scope, receive, collect)
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        return body, start

    # ---- authentication -----------------------------------------------------------------------

    def authenticate(self, request: Request) -> Caller:
        """Basic on the site; scoped Basic or Bearer on the gateway; 401 otherwise."""
        role = request.scope["state"]["role"]
        on_gateway = request.url.path.startswith("/ex/confluence/")
        if on_gateway and request.path_params.get("cloud_id") != self.site.cloud_id:
            raise ApiError(404, "Unknown cloud id")
        if (role == "gateway") != on_gateway:
            raise ApiError(404, "Not found on this origin")
        header = request.headers.get("authorization", "")
        kind = _auth_kind(header)
        if kind == "basic":
            account_id, scoped = self._check_basic(header)
            if account_id and scoped == on_gateway:
                return Caller(account_id, "scoped" if scoped else "basic")
        if kind == "bearer" and on_gateway:
            account_id = self._check_bearer(header[len("bearer ") :].strip())
            if account_id:
                scopes = self.bearer_scopes.get(header[len("bearer ") :].strip())
                return Caller(account_id, "bearer", scopes)
        raise ApiError(
            401, "Unauthorized; scope does not match" if kind != "none" else "Unauthorized"
        )

    def _check_basic(self, header: str) -> tuple[str | None, bool]:
        try:
            decoded = base64.b64decode(header.split(" ", 1)[1].strip()).decode()
        except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
            return None, False
        email, _, token = decoded.partition(":")
        for account in self.site.accounts.values():
            if account.email == email:
                if hmac.compare_digest(token, account.api_token):
                    return account.account_id, False
                if hmac.compare_digest(token, account.scoped_token):
                    return account.account_id, True
        return None, False

    def require_scope(self, caller: Caller, *accepted: str) -> None:
        """The gateway checks an OAuth token's scopes before routing: 401, as observed."""
        if caller.scopes is not None and not caller.scopes & set(accepted):
            raise ApiError(401, "Unauthorized; scope does not match")

    def _check_bearer(self, token: str) -> str | None:
        grant = self.bearer_tokens.get(token)
        if grant is None or grant[1] <= self.now():
            return None
        return grant[0]

    # ---- non-v2 routes ------------------------------------------------------------------------

    async def _tenant_info(self, request: Request) -> Response:
        if request.scope["state"]["role"] != "site":
            return JSONResponse({"message": "Not found"}, 404)
        return JSONResponse({"cloudId": self.site.cloud_id})

    async def _download(self, request: Request) -> Response:
        try:
            caller = self.authenticate(request)
        except ApiError as error:
            return error_response(error)
        attachment = self.site.attachments.get(request.path_params["aid"])
        page = self.site.contents.get(request.path_params["cid"])
        if (
            attachment is None
            or page is None
            or attachment.page_id != page.id
            or not self.site.visible(page, caller.account_id)
        ):
            return error_response(ApiError(404, "Attachment not found"))
        expires = int(self.now()) + 300
        token = self._media_token(attachment.file_id, expires)
        location = f"{self.origins.media}/file/{attachment.file_id}/binary?" + urlencode(
            {"token": token, "client": "emulator", "name": attachment.title}
        )
        return Response(status_code=302, headers={"Location": location})

    def _media_token(self, file_id: str, expires: int) -> str:
        payload = f"{file_id}.{expires}"
        signature = hmac.new(self._media_key, payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}.{signature}"

    async def _media(self, request: Request) -> Response:
        if request.scope["state"]["role"] != "media":
            return JSONResponse({"message": "Not found"}, 404)
        file_id = request.path_params["file_id"]
        token = request.query_params.get("token", "")
        payload, _, signature = token.rpartition(".")
        token_file, _, expires = payload.partition(".")
        expected = hmac.new(self._media_key, payload.encode(), hashlib.sha256).hexdigest()
        if (
            token_file != file_id
            or not hmac.compare_digest(signature, expected)
            or not expires.isdigit()
            or int(expires) < self.now()
        ):
            return JSONResponse({"error": "invalid or missing token"}, 401)
        attachment = next((a for a in self.site.attachments.values() if a.file_id == file_id), None)
        if attachment is None:
            return JSONResponse({"error": "file not found"}, 404)
        data = self.site.bytes_of(attachment)
        return StreamingResponse(
            _chunks(data),
            media_type=attachment.media_type,
            headers={"Content-Length": str(len(data))},
        )

    async def _legacy_download(self, request: Request) -> Response:
        served = legacy_download(self, request)
        if served is not None:
            return served
        realm = f"{self.origins.site}/wiki"
        return Response(
            status_code=401,
            headers={"WWW-Authenticate": f'OAuth realm="{realm}"'},
            content=b"",
        )


class _V2Routes:
    """Handlers of the v2 API, shared by the site and gateway mounts."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self.site = app.site
        self.permissions: PermissionRoutes = PermissionRoutes(app)

    def routes(self) -> list[Route]:
        table: list[tuple[str, Callable[[Request, Caller], Response]]] = [
            ("/spaces", self.spaces),
            ("/spaces/{id:int}", self.space),
            ("/spaces/{id:int}/permissions", self.space_permissions),
            ("/spaces/{id:int}/role-assignments", self.role_assignments),
            ("/spaces/{id:int}/pages", self.space_pages),
            ("/spaces/{id:int}/content/labels", self.space_content_labels),
            ("/pages", self.pages),
            ("/pages/{id:int}", self.page),
            ("/pages/{id:int}/children", self.children),
            ("/pages/{id:int}/direct-children", self.direct_children),
            ("/pages/{id:int}/descendants", self.descendants),
            ("/pages/{id:int}/ancestors", self.ancestors),
            ("/pages/{id:int}/attachments", self.attachments),
            ("/pages/{id:int}/labels", self.page_labels),
            ("/attachments", self.site_attachments),
            *(
                (f"/{route}{suffix}", handler)
                for route in NODE_ROUTES
                for suffix, handler in (
                    ("/{id:int}", self.node),
                    ("/{id:int}/direct-children", self.direct_children),
                    ("/{id:int}/descendants", self.descendants),
                    ("/{id:int}/ancestors", self.ancestors),
                )
            ),
            ("/labels/{id:int}/pages", self.label_pages),
            ("/spaces/{id:int}/blogposts", self.space_blogposts),
            ("/blogposts", self.blogposts),
            ("/blogposts/{id:int}", self.blogpost),
            ("/blogposts/{id:int}/attachments", self.attachments),
            ("/blogposts/{id:int}/labels", self.page_labels),
            ("/labels/{id:int}/blogposts", self.label_blogposts),
        ]
        routes = [Route(path, self._guard(handler)) for path, handler in table]
        not_ids = [Route(path.replace("{id:int}", "{id}"), _not_an_id) for path, _ in table]
        users = Route("/users-bulk", self._guard_async(self.users_bulk), methods=["POST"])
        mode = Route("/space-role-mode", self._guard(self.space_role_mode))
        return [*routes, users, mode, *not_ids, Route("/{rest:path}", _unrouted)]

    def _guard_async(self, handler: Callable[[Request, Caller], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                caller = self.app.authenticate(request)
                result: Response = await handler(request, caller)
                return result
            except ApiError as error:
                return error_response(error)

        return endpoint

    async def users_bulk(self, request: Request, caller: Caller) -> Response:
        try:
            wanted = (await request.json()).get("accountIds", [])
        except ValueError as exc:
            raise ApiError(400, "the body must be JSON with accountIds") from exc
        if not isinstance(wanted, list) or len(wanted) > 100:
            raise ApiError(400, "accountIds takes up to 100 account ids")
        users = [
            {
                "accountId": account.account_id,
                "accountType": "atlassian",
                "accountStatus": "active",
                "displayName": account.display_name,
                "publicName": account.display_name,
                "email": account.email,
                "isExternalCollaborator": False,
            }
            for account_id in wanted
            if (account := self.site.accounts.get(str(account_id))) is not None
        ]
        return JSONResponse({"results": users, "_links": {"base": f"{self.app.origins.site}/wiki"}})

    def _guard(self, handler: Callable[[Request, Caller], Response]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                caller = self.app.authenticate(request)
                return handler(request, caller)
            except ApiError as error:
                return error_response(error)

        return endpoint

    # ---- helpers ------------------------------------------------------------------------------

    def _visible(self, content_id: str, caller: Caller, kind: str | None = "page") -> Content:
        content = self.site.contents.get(content_id)
        if (
            content is None
            or (kind and content.kind != kind)
            or not self.site.visible(content, caller.account_id)
        ):
            raise ApiError(404, f"Content {content_id} not found or not permitted")
        return content

    def _listing(
        self,
        request: Request,
        items: Iterable[tuple[Any, Any]],
        shape: Callable[[Any], dict[str, Any]],
        default_limit: int = 25,
        *,
        seek: Callable[[Any], Iterable[tuple[Any, Any]]] | None = None,
        order: str = "id",
    ) -> Response:
        """Keyset pagination over (sort key, object) pairs in key order; `seek` jumps to a cursor."""
        limit = _limit(request, default_limit)
        after = _decode_cursor(request.query_params.get("cursor"))
        if after is not None:
            items = seek(after) if seek else (kv for kv in items if not _key_le(kv[0], after))
        results: list[dict[str, Any]] = []
        last_key: Any = None
        more = False
        for key, obj in items:
            if len(results) == limit:
                more = True
                break
            results.append(shape(obj))
            last_key = key
        cursor = _encode_cursor(last_key, order) if more else None
        if (more or "cursor" in request.query_params) and self.app.faults.pick(
            request.url.path, ("loop_cursor",)
        ):
            cursor = request.query_params.get("cursor") or cursor  # the same cursor again, forever
        return self._list_response(request, results, cursor)

    def _list_response(
        self, request: Request, results: list[dict[str, Any]], cursor: str | None
    ) -> Response:
        base = f"{self.app.origins.site}/wiki"
        links: dict[str, str] = {"base": base}
        headers = {"Link": f'<{base}>; rel="base"'}  # the last page too carries the base link
        if cursor:
            links["next"] = _next_link(request, cursor)
            headers["Link"] = f'<{links["next"]}>; rel="next", <{base}>; rel="base"'
        return JSONResponse({"results": results, "_links": links}, headers=headers)

    def _single(self, payload: dict[str, Any]) -> Response:
        payload["_links"] = {**payload.get("_links", {}), "base": f"{self.app.origins.site}/wiki"}
        return JSONResponse(payload)

    def _statuses(self, request: Request, default: set[str], allowed: set[str]) -> set[str]:
        values = _multi(request, "status")
        if not values:
            return default
        unknown = set(values) - allowed
        if unknown:
            raise ApiError(400, f"Invalid status: {sorted(unknown)}")
        return set(values)

    def _body_format(self, request: Request, allowed: set[str]) -> str | None:
        value = request.query_params.get("body-format")
        if value is not None and value not in allowed:
            raise ApiError(400, f"Invalid body-format {value!r}")
        return value

    # ---- spaces -------------------------------------------------------------------------------

    def spaces(self, request: Request, caller: Caller) -> Response:
        ids = set(_multi(request, "ids"))
        keys = set(_multi(request, "keys"))
        types = set(_multi(request, "type"))
        statuses = set(_multi(request, "status"))
        selected = (
            space
            for space in sorted(self.site.spaces.values(), key=lambda s: int(s.id))
            if (not ids or space.id in ids)
            and (not keys or space.key in keys)
            and (not types or space.type in types)
            and (not statuses or space.status in statuses)
            and self.site.can_read_space(space.id, caller.account_id)
        )
        items = ((int(space.id), space) for space in selected)
        return self._listing(request, items, lambda space: views.space_json(space, self.site))

    def _readable_space(self, request: Request, caller: Caller) -> Space:
        space = self.site.spaces.get(str(request.path_params["id"]))
        if space is None or not self.site.can_read_space(space.id, caller.account_id):
            raise ApiError(404, "Space not found")
        return space

    def space(self, request: Request, caller: Caller) -> Response:
        return self._single(views.space_json(self._readable_space(request, caller), self.site))

    def space_permissions(self, request: Request, caller: Caller) -> Response:
        """`SpacePermissionAssignment`s (principal ids only), for a caller who may view it."""
        self.app.require_scope(caller, *SCOPES["space"])
        grants = self.permissions.space_grants(self._readable_space(request, caller))
        return self._listing(request, enumerate(grants), lambda grant: grant)

    def role_assignments(self, request: Request, caller: Caller) -> Response:
        """Who holds the space's roles (the role-based access beta); 404 before roles."""
        self.app.require_scope(caller, *SCOPES["roles"])
        space = self._readable_space(request, caller)
        if self.site.role_mode == "PRE_ROLES":
            raise ApiError(404, "Space roles are not enabled on this site")
        held = self.permissions.role_assignments(space, request.query_params.get("role-id"))
        return self._listing(request, enumerate(held), lambda item: item)

    def space_role_mode(self, request: Request, caller: Caller) -> Response:
        self.app.require_scope(caller, *SCOPES["mode"])
        return JSONResponse({"mode": self.site.role_mode})

    def space_pages(self, request: Request, caller: Caller) -> Response:
        space = self._readable_space(request, caller)
        statuses = self._statuses(request, {"current", "archived"}, PAGE_STATUSES)
        body_format = self._body_format(request, LIST_BODY_FORMATS)
        title = request.query_params.get("title")
        root_only = request.query_params.get("depth") == "root"
        ordered_ids = self.site.space_pages[space.id]

        def pages_from(index: int) -> Iterator[Content]:
            for page_id in ordered_ids[index:]:
                page = self.site.contents.get(str(page_id))
                if (
                    page is not None
                    and page.status in statuses
                    and self.site.visible(page, caller.account_id)
                    and (title is None or page.title == title)
                    and (not root_only or page.parent_id is None)
                ):
                    yield page

        def seek(after: Any) -> Iterator[tuple[Any, Content]]:
            start = bisect.bisect_right(ordered_ids, int(after))
            return ((int(page.id), page) for page in pages_from(start))

        return self._sorted_pages(request, pages_from(0), body_format, seek)

    def _sorted_pages(
        self,
        request: Request,
        pages: Iterable[Content],
        body_format: str | None,
        seek_by_id: Callable[[Any], Iterable[tuple[Any, Content]]] | None = None,
        shape: Callable[[Content, Site, str | None], dict[str, Any]] = views.page_json,
    ) -> Response:
        sort = request.query_params.get("sort", "id")
        keyer = _PAGE_SORTS.get(sort.lstrip("-"))
        if keyer is None:
            raise ApiError(400, f"Invalid sort {sort!r}")
        if sort == "id":
            ordered: Iterable[Content] = pages  # already in id order: stream without sorting
        else:
            ordered = sorted(pages, key=keyer, reverse=sort.startswith("-"))
        descending = sort.startswith("-")
        items = ((_directional(keyer(page), descending), page) for page in ordered)
        return self._listing(
            request,
            items,
            lambda page: shape(page, self.site, body_format),
            seek=seek_by_id if sort == "id" else None,
            order=sort.lstrip("-"),
        )

    def space_content_labels(self, request: Request, caller: Caller) -> Response:
        space_id = self._readable_space(request, caller).id
        listed = (*self.site.space_pages[space_id], *self.site.space_blogposts[space_id])
        names = sorted(
            {label for content_id in listed for label in self.site.contents[str(content_id)].labels}
        )
        items = sorted((int(self.site.label_ids[n]), n) for n in names)
        return self._listing(request, items, lambda name: views.label_json(name, self.site))

    def label_pages(self, request: Request, caller: Caller) -> Response:
        label_id = str(request.path_params["id"])
        name = next((n for n, i in self.site.label_ids.items() if i == label_id), None)
        if name is None:
            raise ApiError(404, "Label not found")
        space_ids = set(_multi(request, "space-id"))
        body_format = self._body_format(request, LIST_BODY_FORMATS)
        candidates = (
            self.site.contents[str(page_id)]
            for space_id in sorted(space_ids or self.site.space_pages, key=int)
            for page_id in self.site.space_pages.get(space_id, [])
        )
        pages = sorted(
            (
                page
                for page in candidates
                if name in page.labels and self.site.visible(page, caller.account_id)
            ),
            key=lambda page: int(page.id),
        )
        return self._sorted_pages(request, pages, body_format)

    # ---- pages --------------------------------------------------------------------------------

    def pages(self, request: Request, caller: Caller) -> Response:
        ids = _multi(request, "id")
        if len(ids) > 250:
            raise ApiError(400, "At most 250 ids may be requested")
        space_ids = set(_multi(request, "space-id"))
        if len(space_ids) > 100:  # the spec's maxItems
            raise ApiError(400, "At most 100 space ids may be requested")
        statuses = self._statuses(request, {"current", "archived"}, PAGE_STATUSES)
        body_format = self._body_format(request, LIST_BODY_FORMATS)
        title = request.query_params.get("title")
        if ids:
            found = (self.site.contents.get(i) for i in sorted(set(ids), key=int) if i.isdigit())
            candidates: Iterable[Content] = (c for c in found if c is not None)
        else:
            candidates = sorted(
                (c for c in self.site.contents.values() if c.kind == "page"),
                key=lambda c: int(c.id),
            )
        selected = (
            page
            for page in candidates
            if page.kind == "page"
            and page.status in statuses
            and (not space_ids or page.space_id in space_ids)
            and (title is None or page.title == title)
            and self.site.visible(page, caller.account_id)
        )
        return self._sorted_pages(request, selected, body_format)

    def page(self, request: Request, caller: Caller) -> Response:
        page = self._visible(str(request.path_params["id"]), caller)
        statuses = self._statuses(
            request, {"current", "archived"}, PAGE_STATUSES | {"historical", "draft"}
        )
        if page.status not in statuses:
            raise ApiError(404, "Page not found")
        body_format = self._body_format(request, SINGLE_BODY_FORMATS)
        payload = views.page_json(page, self.site, body_format, caller.account_id)
        if request.query_params.get("include-labels") == "true":
            labels = [views.label_json(name, self.site) for name in page.labels[:50]]
            payload["labels"] = {
                "results": labels,
                "meta": {"hasMore": len(page.labels) > 50, "cursor": ""},
                "_links": {"self": f"{V2_PREFIX}/pages/{page.id}/labels"},
            }
        return self._single(payload)

    def node(self, request: Request, caller: Caller) -> Response:
        """A folder, whiteboard, database or embed: a tree node of its route's kind only."""
        kind = NODE_ROUTES[request.url.path.split("/")[-2]]
        found = self._visible(str(request.path_params["id"]), caller, kind)
        return self._single(views.node_json(found, self.site))

    def _container(self, request: Request, caller: Caller) -> Content:
        route = request.url.path.split("/")[-3]
        return self._visible(str(request.path_params["id"]), caller, NODE_ROUTES.get(route, "page"))

    def children(self, request: Request, caller: Caller) -> Response:
        parent = self._container(request, caller)
        pages = [
            self.site.contents[i]
            for i in self.site.child_ids(parent.id)
            if self.site.contents[i].kind == "page"
        ]
        return self._tree_listing(request, caller, pages, views.child_page_json)

    def direct_children(self, request: Request, caller: Caller) -> Response:
        parent = self._container(request, caller)
        contents = [self.site.contents[i] for i in self.site.child_ids(parent.id)]
        return self._tree_listing(request, caller, contents, views.direct_child_json)

    def _tree_listing(
        self,
        request: Request,
        caller: Caller,
        contents: list[Content],
        shape: Callable[[Content], dict[str, Any]],
    ) -> Response:
        visible = (
            c
            for c in contents
            if c.status in ("current", "archived") and self.site.visible(c, caller.account_id)
        )
        items = ((c.position, c) for c in sorted(visible, key=lambda c: c.position))
        return self._listing(request, items, shape, order="child-position")

    def descendants(self, request: Request, caller: Caller) -> Response:
        root = self._container(request, caller)
        depth_text = request.query_params.get("depth", "2")
        if not depth_text.isdigit() or not 1 <= int(depth_text) <= 5:
            raise ApiError(400, "depth must be between 1 and 5")
        found = (
            (index, (content, depth))
            for index, (content, depth) in enumerate(
                self.site.descendants(root.id, int(depth_text))
            )
            if content.status in ("current", "archived")
            and self.site.visible(content, caller.account_id)
        )
        return self._listing(request, found, lambda pair: views.descendant_json(*pair))

    def ancestors(self, request: Request, caller: Caller) -> Response:
        content = self._container(request, caller)
        limit = _limit(request, 25)
        chain = self.site.ancestors(content)[-limit:]
        results = [{"id": a.id, "type": a.kind} for a in chain]
        return JSONResponse(
            {"results": results, "_links": {"base": f"{self.app.origins.site}/wiki"}}
        )

    def attachments(self, request: Request, caller: Caller) -> Response:
        page = self._visible(str(request.path_params["id"]), caller, _container_kind(request))
        statuses = self._statuses(
            request, {"current", "archived"}, {"current", "archived", "trashed"}
        )
        file_name = request.query_params.get("filename")
        media_type = request.query_params.get("mediaType")
        found = (self.site.attachments[i] for i in self.site.page_attachments.get(page.id, []))
        selected = (
            a
            for a in found
            if a.status in statuses
            and (file_name is None or a.title == file_name)
            and (media_type is None or a.media_type == media_type)
        )
        items = sorted(((int(a.id[3:]), a) for a in selected), key=lambda pair: pair[0])
        return self._listing(request, items, lambda a: views.attachment_json(a, self.site), 50)

    def site_attachments(self, request: Request, caller: Caller) -> Response:
        """Every attachment of the site the caller may see (on pages and blog posts it may
        read, of any status), filtered and sorted as the page's own listing."""
        statuses = self._statuses(
            request, {"current", "archived"}, {"current", "archived", "trashed"}
        )
        sort = request.query_params.get("sort")  # none given: in id order
        keyer = _ATTACHMENT_SORTS.get((sort or "id").lstrip("-"))
        if keyer is None or sort in ("id", "-id"):
            raise ApiError(400, f"Invalid sort {sort!r}")
        file_name = request.query_params.get("filename")
        media_type = request.query_params.get("mediaType")
        selected = [
            a
            for a in self.site.attachments.values()
            if a.status in statuses
            and (file_name is None or a.title == file_name)
            and (media_type is None or a.media_type == media_type)
            and (page := self.site.contents.get(a.page_id)) is not None
            and self.site.visible(page, caller.account_id)
        ]
        descending = (sort or "").startswith("-")
        ordered = sorted(selected, key=keyer, reverse=descending)
        items = ((_directional(keyer(a), descending), a) for a in ordered)
        order = (sort or "id").lstrip("-")
        return self._listing(
            request, items, lambda a: views.attachment_json(a, self.site), 50, order=order
        )

    def page_labels(self, request: Request, caller: Caller) -> Response:
        page = self._visible(str(request.path_params["id"]), caller, _container_kind(request))
        items = sorted((int(self.site.label_ids[n]), n) for n in page.labels)
        return self._listing(request, items, lambda name: views.label_json(name, self.site))

    # ---- blog posts (no parent, no position: not in the page tree) -------------------------------

    def _blogpost_statuses(self, request: Request) -> set[str]:
        return self._statuses(request, {"current"}, BLOGPOST_STATUSES)

    def space_blogposts(self, request: Request, caller: Caller) -> Response:
        space = self._readable_space(request, caller)
        return self._blogpost_listing(request, caller, self.site.space_blogposts[space.id])

    def blogposts(self, request: Request, caller: Caller) -> Response:
        ids = _multi(request, "id")
        if len(ids) > 250:
            raise ApiError(400, "At most 250 ids may be requested")
        space_ids = set(_multi(request, "space-id"))
        if len(space_ids) > 100:  # the spec's maxItems
            raise ApiError(400, "At most 100 space ids may be requested")
        if ids:
            wanted = sorted({int(i) for i in ids if i.isdigit()})
        else:
            wanted = sorted(
                post_id
                for space_id, posts in self.site.space_blogposts.items()
                if not space_ids or space_id in space_ids
                for post_id in posts
            )
        return self._blogpost_listing(request, caller, wanted, space_ids)

    def _blogpost_listing(
        self, request: Request, caller: Caller, ids: list[int], space_ids: Set[str] = frozenset()
    ) -> Response:
        statuses = self._blogpost_statuses(request)
        body_format = self._body_format(request, LIST_BODY_FORMATS)
        title = request.query_params.get("title")
        posts = (
            post
            for post_id in ids
            if (post := self.site.contents.get(str(post_id))) is not None
            and post.kind == "blogpost"
            and post.status in statuses
            and (not space_ids or post.space_id in space_ids)
            and (title is None or post.title == title)
            and self.site.visible(post, caller.account_id)
        )
        return self._sorted_pages(request, posts, body_format, shape=views.blogpost_json)

    def blogpost(self, request: Request, caller: Caller) -> Response:
        post = self._visible(str(request.path_params["id"]), caller, "blogpost")
        statuses = self._statuses(request, {"current"}, BLOGPOST_STATUSES | {"historical", "draft"})
        if post.status not in statuses:
            raise ApiError(404, "Blog post not found")
        body_format = self._body_format(request, SINGLE_BODY_FORMATS)
        return self._single(views.blogpost_json(post, self.site, body_format))

    def label_blogposts(self, request: Request, caller: Caller) -> Response:
        label_id = str(request.path_params["id"])
        name = next((n for n, i in self.site.label_ids.items() if i == label_id), None)
        if name is None:
            raise ApiError(404, "Label not found")
        space_ids = set(_multi(request, "space-id"))
        ids = sorted(
            post_id
            for space_id, posts in self.site.space_blogposts.items()
            for post_id in posts
            if (not space_ids or space_id in space_ids)
            and name in self.site.contents[str(post_id)].labels
        )
        return self._blogpost_listing(request, caller, ids)


def _container_kind(request: Request) -> str:
    """`/pages/{id}/...` or `/blogposts/{id}/...`: which kind of content the id must be."""
    return "blogpost" if "/blogposts/" in request.url.path else "page"


_ATTACHMENT_SORTS: dict[str, Callable[[Attachment], Any]] = {
    "id": lambda attachment: int(attachment.id[3:]),
    "created-date": lambda attachment: (attachment.created_at, int(attachment.id[3:])),
    "modified-date": lambda attachment: (attachment.last_modified, int(attachment.id[3:])),
}
_PAGE_SORTS: dict[str, Callable[[Content], Any]] = {
    "id": lambda page: int(page.id),
    "created-date": lambda page: (page.created_at, int(page.id)),
    "modified-date": lambda page: (page.modified_at, int(page.id)),
    "title": lambda page: (page.title, int(page.id)),
}


def _next_link(request: Request, cursor: str) -> str:
    """Relative to the site, the cursor raw (its `=` padding unescaped), as real Confluence
    writes it: first for a space's page listing, after the other parameters elsewhere."""
    params = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "cursor"])
    path = request.url.path
    if path.startswith("/ex/confluence/"):
        path = path[path.index("/wiki/") :]
    if path.endswith("/pages") and "/spaces/" in path:
        return f"{path}?cursor={cursor}" + (f"&{params}" if params else "")
    return f"{path}?{params}&cursor={cursor}" if params else f"{path}?cursor={cursor}"


async def _not_an_id(request: Request) -> Response:
    """What v2 answers for an id that is not a number (real-api-observations.md)."""
    value = request.path_params["id"]
    message = f"Provided value {{{value}}} for 'id' is not the correct type. Expected type is long."
    return error_response(ApiError(400, message))


async def _unrouted(request: Request) -> Response:
    """A path v2 does not route: the Spring-style body, not the v2 error envelope."""
    body = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime()),
        "status": 404,
        "error": "Not Found",
        "message": "No message available",
        "path": request.url.path,
    }
    return JSONResponse(body, 404)


def _directional(key: Any, descending: bool) -> Any:
    return ["desc", key] if descending else key


def _key_le(key: Any, after: Any) -> bool:
    if isinstance(key, list) and key[:1] == ["desc"]:
        return bool(_plain(after[1]) <= _plain(key[1])) if isinstance(after, list) else False
    return bool(_plain(key) <= _plain(after))


def _plain(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _encode_cursor(key: Any, order: str) -> str:
    """The real encoding: standard base64 (padding kept) of the last item's id and sort value."""
    last_id = key if isinstance(key, int) else ""
    payload = {"id": str(last_id), "contentOrder": order, "contentOrderValue": key}
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        # a `+` sent raw in a query reads as a space: take it back, as lenient servers do
        raw = base64.b64decode(cursor.replace(" ", "+"), validate=True)
        return json.loads(raw)["contentOrderValue"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ApiError(400, "Invalid cursor") from exc


def _limit(request: Request, default: int) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return default
    try:
        limit = int(text)
    except ValueError as exc:
        raise ApiError(400, f"Invalid limit {text!r}") from exc
    if limit > 250:  # refused, not clamped (real-api-observations.md)
        raise ApiError(
            400, f"Provided size {{{limit}}} for 'limit' is greater than the max allowed: 250"
        )
    return max(1, limit)


def _multi(request: Request, name: str) -> list[str]:
    """Array parameters: comma-separated and repeated forms both accepted."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def _auth_kind(header: str) -> str:
    scheme = header.split(" ", 1)[0].lower() if header else ""
    return {"basic": "basic", "bearer": "bearer", "": "none"}.get(scheme, "invalid")


def _recording(send: Send, entry: LoggedRequest) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            entry.status = message["status"]
        await send(message)

    return wrapped


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def _send_truncated(send: Send, start: Message, body: bytes) -> None:
    cut = body[: max(1, len(body) // 2)]
    headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(cut)).encode()))
    await send({"type": "http.response.start", "status": start["status"], "headers": headers})
    await send({"type": "http.response.body", "body": cut, "more_body": False})


async def _send_dropped(send: Send, start: Message, body: bytes) -> None:
    await send(start)
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise DroppedConnection("connection dropped by the emulator's fault switch")


def _chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
