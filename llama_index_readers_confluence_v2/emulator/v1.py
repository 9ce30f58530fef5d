"""The v1 REST routes the incumbent reader (llama-index-readers-confluence 0.8.0) calls, over the
same site data, so benchmarks compare both readers against one emulator (peer-readers.md 1.5).

Content by id (`expand=body.export_view.value`), content by space with offset paging, children
(`child/page`, `child/folder`), attachment listings (`child/attachment`, first 50) and, when
`legacy_downloads` is on, the `/wiki/download/attachments/...` servlet (real Cloud answers 401 to
API tokens there; benchmarks switch it on so the incumbent's attachment work can be measured).
"""

from __future__ import annotations

import base64
import functools
from typing import Any
from urllib.parse import quote, unquote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import cql, views
from .api import ApiError, Gate, error_response
from .model import Content
from .permissions import expanded_restrictions
from .transclusion import expanded

V1 = "/wiki/rest/api"
V1_MAX_LIMIT = 100
SEARCH_MAX_LIMIT = 200  # without a body expand (reference: trust `size` and `next`)


class V1Routes:
    def __init__(self, app: Gate) -> None:
        self.app = app
        self.site = app.site

    def routes(self) -> list[Route]:
        """On the site, and on the gateway (`/ex/confluence/{cloudId}/wiki/rest/api/...`), where
        OAuth apps and scoped tokens reach v1."""
        table = [
            ("/content", self.by_space),
            ("/content/search", self.search),
            ("/content/{id:int}", self.by_id),
            ("/content/{id:int}/child/page", self.child_pages),
            ("/content/{id:int}/child/folder", self.child_folders),
            ("/content/{id:int}/child/attachment", self.child_attachments),
            ("/label", self.label),
        ]
        return [
            Route(f"{prefix}{V1}{path}", self._guard(handler))
            for prefix in ("", "/ex/confluence/{cloud_id}")
            for path, handler in table
        ]

    def _guard(self, handler: Any) -> Any:

        async def endpoint(request: Request) -> Response:
            try:
                caller = self.app.authenticate(request)
            except ApiError as error:
                return error_response(error)
            if handler == self.search:
                try:
                    self.app.require_scope(
                        caller, "read:content-details:confluence", "search:confluence"
                    )
                except ApiError as error:
                    return JSONResponse({"code": 401, "message": error.message}, 401)
            result: Response = handler(request, caller.account_id)
            return result

        return endpoint

    def _content(
        self, content: Content, expand: str, account_id: str | None = None
    ) -> dict[str, Any]:
        space = self.site.spaces[content.space_id]
        body: dict[str, Any] = {}
        if "body.export_view" in expand:
            rendered = expanded(self.site.body_of(content), self.site, content, account_id)
            body["export_view"] = {
                "value": views.view_of(rendered),
                "representation": "export_view",
            }
        if "body.storage" in expand:
            body["storage"] = {"value": self.site.body_of(content), "representation": "storage"}
        shown: dict[str, Any] = {
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
        if "restrictions.read.restrictions" in expand:
            shown["restrictions"] = expanded_restrictions(self.site, content)
        if "ancestors" in expand.split(","):  # top-down, as v1 gives them; [] at the root
            shown["ancestors"] = [
                {"id": a.id, "type": a.kind, "status": a.status, "title": a.title}
                for a in self.site.ancestors(content)
            ]
        return shown

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
        items = [self._content(page, expand, account_id) for page in window[:limit]]
        padded: list[dict[str, Any]] = [{}] * start + items + ([{}] if len(window) > limit else [])
        return self._page(request, padded, start, limit)

    def by_id(self, request: Request, account_id: str | None) -> Response:
        content = self.site.contents.get(str(request.path_params["id"]))
        if content is None or not self.site.visible(content, account_id):
            return JSONResponse({"statusCode": 404, "message": "No content found with id"}, 404)
        expand = request.query_params.get("expand", "")
        return JSONResponse(self._content(content, expand, account_id))

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

    # ---- CQL search -------------------------------------------------------------------------

    def label(self, request: Request, account_id: str | None) -> Response:
        """A label by name (v2 cannot look one up by name): the label, and the content
        carrying it that the caller may see, offset-paged; 404 for a name no content has."""
        name = (request.query_params.get("name") or "").strip()
        if not name:
            return JSONResponse({"statusCode": 400, "message": "Label name is required"}, 400)
        label_id = self.site.label_ids.get(name)
        if label_id is None:
            message = f"No label found for name: {name}"
            return JSONResponse({"statusCode": 404, "message": message}, 404)
        start, limit = self._window(request, 200)
        carrying = [
            self._content(content, "")
            for content in self.site.contents.values()
            if name in content.labels and self.site.visible(content, account_id)
        ]
        return JSONResponse(
            {
                "label": {"prefix": "global", "name": name, "id": label_id, "label": name},
                "associatedContents": {
                    "results": carrying[start : start + limit],
                    "start": start,
                    "limit": limit,
                    "size": len(carrying[start : start + limit]),
                },
            }
        )

    def search(self, request: Request, account_id: str | None) -> Response:
        """`GET /rest/api/content/search`: CQL over pages, folders and attachments the caller
        may see; an opaque `_sa_` cursor in `_links.next` (relative to /wiki, `next=true`)."""
        try:
            query = cql.parse(request.query_params.get("cql", ""))
        except cql.CqlError as error:
            return _cql_error(str(error))
        expand = request.query_params.get("expand", "")
        limit = max(1, min(SEARCH_MAX_LIMIT, int(request.query_params.get("limit") or 25)))
        found = [item for item in self._searchable(account_id) if query.matches(item)]
        for field, descending in reversed(query.order):
            found.sort(key=functools.partial(cql.sort_key, field=field), reverse=descending)
        offset = _cursor_offset(request.query_params.get("cursor"))
        window = found[offset : offset + limit]
        links: dict[str, Any] = {
            "base": f"{self.app.origins.site}/wiki",
            "context": "/wiki",
            "self": f"{self.app.origins.site}{request.url.path}",
        }
        if offset + limit < len(found):
            params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "next")}
            cursor = "_sa_" + base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode()
            links["next"] = f"/rest/api/content/search?next=true&cursor={cursor}&" + urlencode(
                params
            )
        results = [self._search_result(item, expand) for item in window]
        start = int(request.query_params.get("start") or 0)
        return JSONResponse(
            {
                "results": results,
                "start": start,
                "limit": limit,
                "size": len(results),
                "_links": links,
            }
        )

    def _searchable(self, account_id: str | None) -> list[dict[str, Any]]:
        """Every content item as CQL sees it: pages, blog posts and folders, each followed by its
        attachments and comments (a comment is readable where its container is)."""
        items: list[dict[str, Any]] = []
        comments: dict[str, list[Any]] = {}
        for comment in self.site.comments.values():
            comments.setdefault(comment.container_id, []).append(comment)
        for content in sorted(self.site.contents.values(), key=lambda c: int(c.id)):
            if content.status != "current" or not self.site.visible(content, account_id):
                continue
            items.append(self._cql_fields(content))
            for attachment_id in self.site.page_attachments.get(content.id, []):
                attachment = self.site.attachments.get(attachment_id)
                if attachment is not None and attachment.status == "current":
                    items.append(self._cql_attachment(attachment, content))
            for comment in sorted(comments.get(content.id, []), key=lambda c: int(c.id)):
                items.append(self._cql_comment(comment, content))
        return items

    def _cql_comment(self, comment: Any, page: Content) -> dict[str, Any]:
        return _Item(
            self.site,
            page,
            {
                "object": (comment, page),
                "type": "comment",
                "id": comment.id,
                "space": self.site.spaces[page.space_id].key,
                "title": f"Re: {page.title}",
                "label": [],
                "container": page.id,
                "lastmodified": comment.modified_at,
                "created": comment.created_at,
            },
            container=True,
        )

    def _comment(self, comment: Any, page: Content, expand: str) -> dict[str, Any]:
        """A comment as v1 shows it, with what `expand` asked for."""
        space = self.site.spaces[page.space_id]
        result: dict[str, Any] = {
            "id": comment.id,
            "type": "comment",
            "status": "current",
            "title": f"Re: {page.title}",
            "_links": {
                "webui": views.page_webui(page, space) + f"?focusedCommentId={comment.id}",
                "self": f"{self.app.origins.site}{V1}/content/{comment.id}",
            },
        }
        if "body.storage" in expand:
            result["body"] = {"storage": {"value": comment.body, "representation": "storage"}}
        if "version" in expand:
            result["version"] = {
                "number": comment.version,
                "when": comment.modified_at,
                "by": self._user(comment.author_id),
            }
        if "history" in expand:
            result["history"] = {
                "createdBy": self._user(comment.author_id),
                "createdDate": comment.created_at,
            }
        if "container" in expand:
            result["container"] = {"id": page.id, "type": page.kind, "title": page.title}
        if "ancestors" in expand:
            chain = self.site.comment_ancestors(comment)
            result["ancestors"] = [{"id": c.id, "type": "comment"} for c in chain]
        if "extensions" in expand:
            extensions: dict[str, Any] = {"location": comment.location}
            if comment.location == "inline":
                extensions["inlineProperties"] = {
                    "markerRef": comment.marker_ref,
                    "originalSelection": comment.selection,
                }
                extensions["resolution"] = {
                    "status": comment.resolution,
                    "lastModifiedDate": comment.modified_at,
                }
            result["extensions"] = extensions
        return result

    def _user(self, account_id: str) -> dict[str, Any]:
        account = self.site.accounts.get(account_id)
        name = account.display_name if account else "Unknown user"
        return {"type": "known", "accountId": account_id, "displayName": name, "publicName": name}

    def _cql_fields(self, content: Content) -> dict[str, Any]:
        return _Item(
            self.site,
            content,
            {
                "object": content,
                "type": content.kind,
                "id": content.id,
                "space": self.site.spaces[content.space_id].key,
                "title": content.title,
                "label": list(content.labels),
                "parent": content.parent_id,
                "lastmodified": content.modified_at,
                "created": content.created_at,
            },
        )

    def _cql_attachment(self, attachment: Any, page: Content) -> dict[str, Any]:
        return _Item(
            self.site,
            page,
            {
                "object": (attachment, page),
                "type": "attachment",
                "id": attachment.id,
                "space": self.site.spaces[page.space_id].key,
                "title": attachment.title,
                "label": [],
                "container": page.id,
                "lastmodified": attachment.last_modified,
                "created": attachment.created_at,
            },
            container=True,
        )

    def _search_result(self, item: dict[str, Any], expand: str) -> dict[str, Any]:
        if item["type"] == "comment":
            comment, container = item["object"]
            return self._comment(comment, container, expand)
        if item["type"] != "attachment":
            return self._content(item["object"], expand)
        attachment, page = item["object"]
        result = self._attachment(attachment, page)
        if "container" in expand:
            result["container"] = {"id": page.id, "type": page.kind, "title": page.title}
        if "version" in expand:
            result["version"] = {"number": attachment.version, "when": attachment.last_modified}
        return result


class _Item(dict[str, Any]):
    """A content item's CQL fields; `ancestor` is worked out only when a query asks for it."""

    def __init__(
        self, site: Any, content: Content, fields: dict[str, Any], container: bool = False
    ) -> None:
        super().__init__(fields)
        self.site, self.content, self.container = site, content, container

    def get(self, key: str, default: Any = None) -> Any:
        if key == "ancestor" and key not in self:
            chain = [a.id for a in self.site.ancestors(self.content)]
            self[key] = [*chain, self.content.id] if self.container else chain
        return super().get(key, default)


def _cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.removeprefix("_sa_").encode()).decode()
        return max(0, int(text.removeprefix("offset:")))
    except ValueError:
        return 0


def _cql_error(message: str) -> Response:
    body = {
        "statusCode": 400,
        "data": {"authorized": False, "valid": False, "errors": [], "successful": False},
        "message": f"com.atlassian.confluence.api.service.exceptions.BadRequestException: {message}",
    }
    return JSONResponse(body, 400)


def legacy_download(app: Gate, request: Request) -> Response | None:
    """The servlet's bytes for Basic auth, when the emulator was told to serve them."""

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
