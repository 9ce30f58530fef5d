"""Who may read what: space permissions (v2, ids only), space roles (v2, experimental), content
restrictions (v1, a content's own only), groups and their members (v1).

Written from ../shared/reference/confluence-content-and-permissions.md section 6: a space's
readers hold `read` on `space`; in role mode that grant is a role, held by users, groups and
access classes; a restriction lists users and groups, pages through users then groups with one
`start`/`limit` (default 100); content a caller may not see, and trashed or draft content,
answers 404. How anonymous access shows in v2 is unverified: by default v2 space permissions do
not show it (the schema names users, groups and roles only); with `anonymous_in_v2_permissions`
they show it as a grant to the user "anonymous" (the subject `permission/check` uses). It shows
as the access class `anonymous-users` among role holders, and in v1
`space/{key}?expand=permissions` as a read permission with `anonymousAccess` and no subjects
(what Onyx reads), which a caller who does not administer the space gets empty.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .api import ApiError, Caller, Gate
from .model import Content, Readers, Site, Space

V1 = "/wiki/rest/api"
RESTRICTION_PAGE = 100  # users and groups together, per response (reference 6.2)
GROUP_PAGE = 200  # groups of a user, members of a group; more is refused (reference 1)
NESTED_PAGE = 100  # principals of a restriction expanded inside a search hit
VIEWER_ROLE = "b6f3a7c2-0001-4e0a-9c1d-viewer000001"
ADMIN_ROLE = "b6f3a7c2-0002-4e0a-9c1d-admin0000001"
GONE = ("trashed", "deleted", "draft")
# the operations a reader's space grant comes with besides `read` on `space` (a reader must not
# take every grant of a principal for a read grant)
READER_OPERATIONS = (("read", "space"), ("create", "page"), ("create", "comment"))
SCOPES = {
    "restriction": ("read:content-details:confluence", "read:confluence-content.all"),
    "memberof": ("read:group:confluence", "read:confluence-user"),
    "members": ("read:group:confluence", "read:confluence-groups"),
    "space": ("read:space:confluence",),
    "v1 space": ("read:space:confluence", "read:confluence-space.summary"),
    "roles": ("read:space.permission:confluence",),
    "mode": ("read:configuration:confluence",),
}


def user_json(site: Site, account_id: str) -> dict[str, Any]:
    account = site.accounts.get(account_id)
    name = account.display_name if account else "Unknown user"
    return {
        "type": "known",
        "accountId": account_id,
        "accountType": "atlassian",
        "email": account.email if account else "",
        "publicName": name,
        "displayName": name,
    }


def group_json(site: Site, group_id: str) -> dict[str, Any]:
    group = site.groups.get(group_id)
    return {"type": "group", "name": group.name if group else group_id, "id": group_id}


def own_restriction(site: Site, content: Content) -> list[dict[str, Any]]:
    """A content's own read restriction, users first then groups (empty: none of its own)."""
    users = [user_json(site, a) for a in sorted(content.restricted_to or ())]
    groups = [group_json(site, g) for g in sorted(content.restricted_groups or ())]
    return users + groups


def restriction_lists(
    principals: list[dict[str, Any]], start: int, limit: int
) -> tuple[dict[str, Any], bool]:
    """The `restrictions` object of a window of principals, and whether more follow."""
    window = principals[start : start + limit]
    users = [p for p in window if p["type"] != "group"]
    groups = [p for p in window if p["type"] == "group"]
    total_users = sum(1 for p in principals if p["type"] != "group")
    lists = {
        "user": {
            "results": users,
            "start": start,
            "limit": limit,
            "size": len(users),
            "totalSize": total_users,
        },
        "group": {"results": groups, "start": start, "limit": limit, "size": len(groups)},
    }
    return lists, start + limit < len(principals)


def expanded_restrictions(site: Site, content: Content) -> dict[str, Any]:
    """`restrictions.read.restrictions.user,group` as a search hit carries it: the first
    principals of each list, a `next` link on a list that has more."""
    principals = own_restriction(site, content)
    lists, _ = restriction_lists(principals, 0, len(principals) or 1)
    for kind in ("user", "group"):
        listed = lists[kind]
        if listed["size"] > NESTED_PAGE:
            listed["results"] = listed["results"][:NESTED_PAGE]
            listed["size"] = NESTED_PAGE
            listed["limit"] = NESTED_PAGE
            listed["_links"] = {
                "next": f"/rest/api/content/{content.id}/restriction/byOperation/read/{kind}"
                f"?start={NESTED_PAGE}&limit={NESTED_PAGE}"
            }
        else:
            listed["limit"] = NESTED_PAGE
    return {"read": {"operation": "read", "restrictions": lists}}


class PermissionRoutes:
    """v1 restriction and group routes (on the site and the gateway) and the v2 space permission
    handlers the v2 router mounts."""

    def __init__(self, app: Gate) -> None:
        self.app = app
        self.site = app.site

    def v1_routes(self) -> list[Route]:
        table = [
            ("/content/{id:int}/restriction/byOperation/read", self.read_restriction),
            ("/content/{id:int}/restriction/byOperation", self.restrictions_by_operation),
            ("/user/memberof", self.member_of),
            ("/group/{group_id}/membersByGroupId", self.group_members),
            ("/group/by-id", self.group_by_id),
            ("/space/{key}", self.space),
        ]
        return [
            Route(f"{prefix}{V1}{path}", self._guard(handler, path))
            for prefix in ("", "/ex/confluence/{cloud_id}")
            for path, handler in table
        ]

    def _guard(self, handler: Any, path: str) -> Any:

        scopes = SCOPES["restriction"] if "restriction" in path else SCOPES["members"]
        if path == "/user/memberof":
            scopes = SCOPES["memberof"]
        if path == "/space/{key}":
            scopes = SCOPES["v1 space"]

        async def endpoint(request: Request) -> Response:
            try:
                caller = self.app.authenticate(request)
                self.app.require_scope(caller, *scopes)
            except ApiError as error:
                return _v1_error(error.status, error.message)
            result: Response = handler(request, caller)
            return result

        return endpoint

    # ---- v1: restrictions ---------------------------------------------------------------------

    def _restricted_content(self, request: Request, caller: Caller) -> Content | Response:
        content = self.site.contents.get(str(request.path_params["id"]))
        if content is not None and content.status in GONE:
            message = (
                f"Cannot find content <ContentId{{id={content.id}}}>. "
                "Outdated version/old_draft/trashed? Please provide valid ContentId."
            )
            return _v1_error(404, message)
        if content is None or not self.site.visible(content, caller.account_id):
            wanted = request.path_params["id"]
            return _v1_error(404, f"No content with id <ContentId{{id={wanted}}}> can be found")
        return content

    def read_restriction(self, request: Request, caller: Caller) -> Response:
        content = self._restricted_content(request, caller)
        if isinstance(content, Response):
            return content
        return JSONResponse(self._operation(request, content))

    def restrictions_by_operation(self, request: Request, caller: Caller) -> Response:
        content = self._restricted_content(request, caller)
        if isinstance(content, Response):
            return content
        update = {"operation": "update", "restrictions": restriction_lists([], 0, 100)[0]}
        return JSONResponse({"read": self._operation(request, content), "update": update})

    def _operation(self, request: Request, content: Content) -> dict[str, Any]:
        start, limit = _window(request, RESTRICTION_PAGE, RESTRICTION_PAGE)
        lists, more = restriction_lists(own_restriction(self.site, content), start, limit)
        links: dict[str, Any] = {
            "base": f"{self.app.origins.site}/wiki",
            "context": "/wiki",
            "self": f"{self.app.origins.site}{V1}/content/{content.id}/restriction/byOperation/read",
        }
        if more:
            links["next"] = (
                f"/rest/api/content/{content.id}/restriction/byOperation/read"
                f"?start={start + limit}&limit={limit}"
            )
        return {
            "operation": "read",
            "restrictions": lists,
            "_expandable": {"content": f"/rest/api/content/{content.id}"},
            "_links": links,
        }

    # ---- v1: a space and its permissions ------------------------------------------------------

    def space(self, request: Request, caller: Caller) -> Response:
        space = self.site.space_of(str(request.path_params["key"]))
        if space is None or not self.site.can_read_space(space.id, caller.account_id):
            return _v1_error(404, f"No space with key : {request.path_params['key']}")
        body: dict[str, Any] = {
            "id": int(space.id),
            "key": space.key,
            "name": space.name,
            "type": space.type,
            "status": space.status,
            "_links": {"webui": f"/spaces/{space.key}", "self": f"{V1}/space/{space.key}"},
        }
        expand = request.query_params.get("expand", "").split(",")
        if "permissions" in expand:
            administers = caller.account_id is not None and caller.account_id == space.author_id
            body["permissions"] = self._v1_space_permissions(space) if administers else []
        return JSONResponse(body)

    def _v1_space_permissions(self, space: Space) -> list[dict[str, Any]]:
        readers = self.site.space_readers.get(space.id) or Readers()
        read = {"operation": "read", "targetType": "space"}
        found: list[dict[str, Any]] = []
        for account_id in sorted(readers.users):
            subjects = {"user": {"results": [user_json(self.site, account_id)], "size": 1}}
            found.append({"operation": read, "subjects": subjects})
        for group_id in sorted(readers.groups):
            subjects = {"group": {"results": [group_json(self.site, group_id)], "size": 1}}
            found.append({"operation": read, "subjects": subjects})
        if readers.anonymous:
            found.append({"operation": read, "anonymousAccess": True, "unlicensedAccess": False})
        for index, permission in enumerate(found):
            permission.setdefault("anonymousAccess", False)
            permission.setdefault("unlicensedAccess", False)
            permission["id"] = 90000 + index
        return found

    # ---- v1: groups ---------------------------------------------------------------------------

    def member_of(self, request: Request, caller: Caller) -> Response:
        account_id = request.query_params.get("accountId", "")
        if account_id not in self.site.accounts:
            return _v1_error(404, f"No user found with accountId: {account_id}")
        groups = sorted(self.site.groups_of(account_id))
        return self._paged(request, [group_json(self.site, g) for g in groups])

    def group_members(self, request: Request, caller: Caller) -> Response:
        group = self.site.groups.get(str(request.path_params["group_id"]))
        if group is None:
            return _v1_error(404, "No group found with that id")
        members = [user_json(self.site, a) for a in sorted(group.members)]
        return self._paged(request, members)

    def group_by_id(self, request: Request, caller: Caller) -> Response:
        group_id = request.query_params.get("id", "")
        if group_id not in self.site.groups:
            return _v1_error(404, "No group found with that id")
        return JSONResponse(group_json(self.site, group_id))

    def _paged(self, request: Request, items: list[dict[str, Any]]) -> Response:
        limit_text = request.query_params.get("limit")
        if limit_text is not None and limit_text.isdigit() and int(limit_text) > GROUP_PAGE:
            return _v1_error(400, f"Limit {limit_text} exceeds the maximum of {GROUP_PAGE}")
        start, limit = _window(request, GROUP_PAGE, GROUP_PAGE)
        window = items[start : start + limit]
        links: dict[str, Any] = {"base": f"{self.app.origins.site}/wiki", "context": "/wiki"}
        if start + limit < len(items):
            others = [
                (k, v) for k, v in request.query_params.items() if k not in ("start", "limit")
            ]
            query = "&".join(f"{k}={v}" for k, v in others)
            path = request.url.path[request.url.path.index("/rest/") :]
            links["next"] = f"{path}?{query}&start={start + limit}&limit={limit}".replace("?&", "?")
        body = {"results": window, "start": start, "limit": limit, "size": len(window)}
        return JSONResponse({**body, "_links": links})

    # ---- v2: space permissions and roles ------------------------------------------------------

    def space_grants(self, space: Space) -> list[dict[str, Any]]:
        """`SpacePermissionAssignment`s of a space: each reader's grants, the author's
        administration; in role mode the roles' grants (or nothing, where a test hides them)."""
        readers = self.site.space_readers.get(space.id) or Readers()
        if self.site.role_mode == "ROLES":
            if not self.site.roles_listed_in_permissions:
                return []
            principals = [("role", VIEWER_ROLE), ("role", ADMIN_ROLE)]
            grants = [(kind, pid, ("read", "space")) for kind, pid in principals]
            return _numbered([*grants, ("role", ADMIN_ROLE, ("administer", "space"))])
        principals = [("user", a) for a in sorted(readers.users)]
        principals += [("group", g) for g in sorted(readers.groups)]
        if readers.anonymous and self.site.anonymous_in_v2_permissions:
            principals.append(("user", "anonymous"))
        grants = [(kind, pid, op) for kind, pid in principals for op in READER_OPERATIONS]
        if space.author_id:
            grants.append(("user", space.author_id, ("administer", "space")))
        return _numbered(grants)

    def role_assignments(self, space: Space, role_id: str | None) -> list[dict[str, Any]]:
        readers = self.site.space_readers.get(space.id) or Readers()
        held = [("USER", a, VIEWER_ROLE) for a in sorted(readers.users)]
        held += [("GROUP", g, VIEWER_ROLE) for g in sorted(readers.groups)]
        if readers.anonymous:
            held.append(("ACCESS_CLASS", "anonymous-users", VIEWER_ROLE))
        if space.author_id:
            held.append(("USER", space.author_id, ADMIN_ROLE))
        return [
            {"principal": {"principalType": kind, "principalId": pid}, "roleId": role}
            for kind, pid, role in held
            if role_id is None or role == role_id
        ]


def _numbered(grants: list[tuple[str, str, tuple[str, str]]]) -> list[dict[str, Any]]:
    return [
        {
            "id": str(70000 + index),
            "principal": {"type": kind, "id": principal_id},
            "operation": {"key": operation[0], "targetType": operation[1]},
        }
        for index, (kind, principal_id, operation) in enumerate(grants)
    ]


def _window(request: Request, default: int, maximum: int) -> tuple[int, int]:
    def number(name: str, fallback: int) -> int:
        text = request.query_params.get(name) or ""
        return int(text) if text.isdigit() else fallback

    return number("start", 0), max(1, min(maximum, number("limit", default)))


def _v1_error(status: int, message: str) -> Response:
    return JSONResponse({"statusCode": status, "message": message}, status)
