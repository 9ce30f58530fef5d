"""What the Confluence Cloud API is, as this package speaks it (no requests here): the route
prefixes, the content statuses, page sizes and depths, and how a route names a kind of content,
a CQL string or a cursor. Facts from ../shared/reference; every module that builds a request
takes them from here."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

V2 = "/wiki/api/v2"
V1 = "/wiki/rest/api"
CQL_SEARCH = f"{V1}/content/search"  # v2 has no search
CQL_PAGE = 200  # hits a request; Cloud's caps are unverified, so `next` is trusted, not `limit`
DESCENDANT_DEPTH = 5  # the levels one `descendants` request reaches
EDIT_PAGE = 25  # pages a newest-first listing asks for at a time (it is stopped early)
ANY_STATUS = ("current", "archived")
GONE_STATUSES = ("trashed", "deleted")  # in the trash, or deleted
EVERY_STATUS = (*ANY_STATUS, *GONE_STATUSES)


# the content tree's nodes that are not pages: pages can sit beneath each of them
NODE_KINDS = ("folder", "whiteboard", "database", "embed")
TREE_KINDS = ("page", *NODE_KINDS)


def node_route(kind: str) -> str:
    """The v2 route segment of a tree node's kind: pages, folders, whiteboards, ..."""
    return f"{kind}s" if kind in TREE_KINDS else "pages"


def collection(kind: str) -> str:
    """The v2 route segment of a content kind: pages or blogposts."""
    return "blogposts" if kind == "blogpost" else "pages"


def blog_statuses(statuses: tuple[str, ...]) -> tuple[str, ...]:
    """The statuses asked for that blog posts have (they are never archived)."""
    return tuple(status for status in statuses if status != "archived")


def cql_string(value: str) -> str:
    """A CQL string literal (quotes and backslashes escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cursor_of(link: Any) -> str | None:
    """The `cursor` value of a `next` link (sending the whole link as a cursor is refused)."""
    if not isinstance(link, str) or not link:
        return None
    values = parse_qs(urlsplit(link).query).get("cursor")
    return values[0] if values else None
