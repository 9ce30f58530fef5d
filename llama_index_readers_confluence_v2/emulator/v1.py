"""The v1 REST routes the incumbent reader (llama-index-readers-confluence 0.8.0) calls, over the
same site data, so benchmarks compare both readers against one emulator (peer-readers.md 1.5).

Content by id (`expand=body.export_view.value`), content by space with offset paging, children
(`child/page`, `child/folder`), attachment listings (`child/attachment`, first 50) and, when
`legacy_downloads` is on, the `/wiki/download/attachments/...` servlet (real Cloud answers 401 to
API tokens there; benchmarks switch it on so the incumbent's attachment work can be measured).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import views
from .model import Content

if TYPE_CHECKING:
    from .app import EmulatorApp

V1 = "/wiki/rest/api"
V1_MAX_LIMIT = 100


class V1Routes:
    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self.site = app.site

    def routes(self) -> list[Route]:
        return [
            Route(f"{V1}/content", self._guard(self.by_space)),
            Route(f"{V1}/content/{{id:int}}", self._guard(self.by_id)),
            Route(f"{V1}/content/{{id:int}}/child/page", self._guard(self.child_pages)),
            Route(f"{V1}/content/{{id:int}}/child/folder", self._guard(self.child_folders)),
            Route(f"{V1}/content/{{id:int}}/child/attachment", self._guard(self.child_attachments)),
        ]

    def _guard(self, handler: Any) -> Any:
        from .app import ApiError, _error_response

        async def endpoint(request: Request) -> Response:
            try:
                caller = self.app.authenticate(request)
            except ApiError as error:
                return _error_response(error)
            result: Response = handler(request, caller.account_id)
            return result

        return endpoint

    def _content(self, content: Content, expand: str) -> dict[str, Any]:
        space = self.site.spaces[content.space_id]
        body: dict[str, Any] = {}
        if "body.export_view" in expand:
            body["export_view"] = {
                "value": views.view_of(self.site.body_of(content)),
                "representation": "export_view",
            }
        if "body.storage" in expand:
            body["storage"] = {"value": self.site.body_of(content), "representation": "storage"}
        return {
            "id": content.id,
            "type": content.kind,
            "status": content.status,
            "title": content.title,
            "space": {"key": space.key, "name": space.name},
            "version": {"number": content.version, "when": content.modified_at},
            "body": body,
            "_links": {
                "webui": views.page_webui(content, space),
                "self": f"{self.app.origins.site}{V1}/content/{content.id}",
            },
        }

    def _attachment(self, attachment: Any, page: Content) -> dict[str, Any]:
        number = attachment.id[3:]
        ari = f"ari:cloud:confluence:{self.site.cloud_id}:attachment/{number}"
        empty = (
            "body",
            "version",
            "childTypes",
            "schedulePublishInfo",
            "operations",
            "schedulePublishDate",
            "ancestors",
            "draftVersion",
        )
        expandable = dict.fromkeys(empty, "")
        expandable.update(
            {
                "container": f"/rest/api/content/{page.id}",
                "restrictions": f"/rest/api/content/{attachment.id}/restriction/byOperation",
                "history": f"/rest/api/content/{attachment.id}/history",
                "descendants": f"/rest/api/content/{attachment.id}/descendant",
                "space": f"/rest/api/space/{self.site.spaces[page.space_id].key}",
                "children": f"/rest/api/content/{attachment.id}/child",
            }
        )
        return {
            "id": attachment.id,
            "type": "attachment",
            "ari": ari,
            "base64EncodedAri": base64.b64encode(ari.encode()).decode(),
            "status": attachment.status,
            "title": attachment.title,
            "macroRenderedOutput": {},
            "metadata": {"mediaType": attachment.media_type},
            "extensions": {
                "mediaType": attachment.media_type,
                "fileSize": attachment.file_size or len(self.site.bytes_of(attachment)),
                "comment": attachment.comment,
                "mediaTypeDescription": attachment.media_type.split("/")[-1].upper(),
                "fileId": attachment.file_id,
                "collectionName": f"contentId-{page.id}",
            },
            "_expandable": expandable,
            "_links": {
                "webui": f"/pages/viewpageattachments.action?pageId={page.id}",
                "self": f"{self.app.origins.site}{V1}/content/{attachment.id}",
                "download": f"/download/attachments/{page.id}/{quote(attachment.title)}?version="
                f"{attachment.version}&modificationDate=1767600000000&cacheVersion=1&api=v2",
            },
        }

    def _page(
        self, request: Request, items: list[dict[str, Any]], start: int, limit: int
    ) -> Response:
        more = len(items) > start + limit
        page = items[start : start + limit]
        links: dict[str, Any] = {
            "base": f"{self.app.origins.site}/wiki",
            "context": "/wiki",
            "self": f"{self.app.origins.site}{request.url.path}",
        }
        if more:
            params = {k: v for k, v in request.query_params.items() if k not in ("start", "limit")}
            links["next"] = (
                f"{request.url.path[len('/wiki') :]}?{urlencode({**params, 'start': start + limit, 'limit': limit})}"
            )
        return JSONResponse(
            {"results": page, "start": start, "limit": limit, "size": len(page), "_links": links}
        )

    @staticmethod
    def _window(request: Request, default_limit: int) -> tuple[int, int]:
        start = int(request.query_params.get("start") or 0)
        limit = int(request.query_params.get("limit") or default_limit)
        return max(0, start), max(1, min(V1_MAX_LIMIT, limit))

    def by_space(self, request: Request, account_id: str | None) -> Response:
        space = self.site.space_of(request.query_params.get("spaceKey", ""))
        if space is None:
            return JSONResponse({"statusCode": 404, "message": "No space found"}, 404)
        statuses = set((request.query_params.get("status") or "current").split(","))
        expand = request.query_params.get("expand", "")
        pages = [
            self.site.contents[str(i)]
            for i in self.site.space_pages[space.id]
            if self.site.contents[str(i)].status in statuses
            and self.site.visible(self.site.contents[str(i)], account_id)
        ]
        start, limit = self._window(request, 25)
        window = pages[start : start + limit + 1]
        items = [self._content(page, expand) for page in window[:limit]]
        padded: list[dict[str, Any]] = [{}] * start + items + ([{}] if len(window) > limit else [])
        return self._page(request, padded, start, limit)

    def by_id(self, request: Request, account_id: str | None) -> Response:
        content = self.site.contents.get(str(request.path_params["id"]))
        if content is None or not self.site.visible(content, account_id):
            return JSONResponse({"statusCode": 404, "message": "No content found with id"}, 404)
        return JSONResponse(self._content(content, request.query_params.get("expand", "")))

    def _children(self, request: Request, account_id: str | None, kind: str) -> Response:
        parent = self.site.contents.get(str(request.path_params["id"]))
        if parent is None or not self.site.visible(parent, account_id):
            return JSONResponse({"statusCode": 404, "message": "No content found with id"}, 404)
        children = [
            self.site.contents[i]
            for i in self.site.child_ids(parent.id)
            if self.site.contents[i].kind == kind
            and self.site.contents[i].status == "current"
            and self.site.visible(self.site.contents[i], account_id)
        ]
        start, limit = self._window(request, 25)
        return self._page(request, [self._content(c, "") for c in children], start, limit)

    def child_pages(self, request: Request, account_id: str | None) -> Response:
        return self._children(request, account_id, "page")

    def child_folders(self, request: Request, account_id: str | None) -> Response:
        return self._children(request, account_id, "folder")

    def child_attachments(self, request: Request, account_id: str | None) -> Response:
        page = self.site.contents.get(str(request.path_params["id"]))
        if page is None or not self.site.visible(page, account_id):
            return JSONResponse({"statusCode": 404, "message": "No content found with id"}, 404)
        attachments = [
            self.site.attachments[i] for i in self.site.page_attachments.get(page.id, [])
        ]
        start, limit = self._window(request, 50)
        items = [self._attachment(a, page) for a in attachments]
        return self._page(request, items, start, limit)


def legacy_download(app: EmulatorApp, request: Request) -> Response | None:
    """The servlet's bytes for Basic auth, when the emulator was told to serve them."""
    from .app import ApiError

    if not app.legacy_downloads:
        return None
    try:
        caller = app.authenticate(request)
    except ApiError:
        return None
    page_id, _, name = request.path_params["rest"].partition("/")
    page = app.site.contents.get(page_id)
    if page is None or not app.site.visible(page, caller.account_id):
        return None
    for attachment_id in app.site.page_attachments.get(page_id, []):
        attachment = app.site.attachments[attachment_id]
        if attachment.title == unquote(name):
            return Response(app.site.bytes_of(attachment), media_type=attachment.media_type)
    return None
