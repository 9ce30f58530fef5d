"""A page's comments: footer and inline ones, replies in their threads, as a Markdown section.

v2 lists only a page's root comments and needs a request per thread for the replies, so comments
come from v1 CQL search, which returns every level with its thread (`ancestors`), its author and
date (`history`), its kind (`extensions.location`), an inline comment's highlighted text and
resolution: one search per space imported whole, else one per page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .client import ConfluenceClient
from .listings import ContainerListings, container_id, search_by_page
from .routes import cql_string

EXPAND = (
    "body.storage,version,history,container,ancestors,"
    "extensions.inlineProperties,extensions.resolution"
)
PAGE_SIZE = 100  # hits a request with bodies expanded (Cloud's cap with bodies is unverified)
MAX_HEADING = 6


@dataclass(frozen=True)
class PageComment:
    id: str
    parent_id: str | None  # the comment this one answers
    inline: bool
    author: str
    created: str
    version: int | None
    body: str  # storage format
    selection: str = ""  # inline: the text it is anchored to
    resolution: str = ""  # inline: open, resolved, dangling, reopened


def page_comment(raw: dict[str, Any]) -> tuple[str | None, PageComment]:
    """A v1 comment (search hit) as (its page's id, the comment)."""
    history = raw.get("history") or {}
    author = history.get("createdBy") or (raw.get("version") or {}).get("by") or {}
    extensions = raw.get("extensions") or {}
    ancestors = [a for a in raw.get("ancestors") or [] if a.get("type", "comment") == "comment"]
    comment = PageComment(
        id=str(raw["id"]),
        parent_id=str(ancestors[-1]["id"]) if ancestors else None,
        inline=extensions.get("location") == "inline",
        author=str(author.get("displayName") or author.get("publicName") or "Unknown user"),
        created=str(history.get("createdDate") or (raw.get("version") or {}).get("when") or ""),
        version=(raw.get("version") or {}).get("number"),
        body=str(((raw.get("body") or {}).get("storage") or {}).get("value") or ""),
        selection=str((extensions.get("inlineProperties") or {}).get("originalSelection") or ""),
        resolution=str((extensions.get("resolution") or {}).get("status") or ""),
    )
    return container_id(raw), comment


async def space_comments(client: ConfluenceClient, space_key: str) -> dict[str, list[PageComment]]:
    cql = f"type = comment and space = {cql_string(space_key)}"
    return await search_by_page(client, cql, EXPAND, PAGE_SIZE, page_comment)


async def comments_of_page(
    client: ConfluenceClient, page_id: str, kind: str = "page"
) -> list[PageComment]:
    cql = f"type = comment and container = {page_id}"
    found = await search_by_page(client, cql, EXPAND, PAGE_SIZE, page_comment)
    return found.get(page_id, [])


class CommentListings(ContainerListings[PageComment]):
    def __init__(self, client: ConfluenceClient, whole_spaces: Callable[[str], bool]) -> None:
        super().__init__(client, whole_spaces, space_comments, comments_of_page, "comments")


def comments_digest(comments: list[PageComment]) -> str:
    """The page's comments as ids and versions: any comment added, edited or deleted shows
    (Confluence does not bump the page's version for them)."""
    state = sorted(f"{comment.id}:{comment.version}" for comment in comments)
    return "comments:" + hashlib.sha256(",".join(state).encode()).hexdigest()[:16]


def comments_section(comments: list[PageComment], render: Callable[[str], str]) -> str:
    """`## Comments`: footer threads, then inline ones, oldest first, replies under what they
    answer; `render` turns a comment's storage body into Markdown."""
    if not comments:
        return ""
    replies: dict[str | None, list[PageComment]] = {}
    known = {comment.id for comment in comments}
    for comment in comments:
        parent = comment.parent_id if comment.parent_id in known else None
        replies.setdefault(parent, []).append(comment)
    for thread in replies.values():
        thread.sort(key=lambda c: (c.created, int(c.id) if c.id.isdigit() else 0))
    roots = replies.get(None, [])
    ordered = [c for c in roots if not c.inline] + [c for c in roots if c.inline]
    parts = ["## Comments"]
    for root in ordered:
        _thread(root, replies, render, 3, parts)
    return "\n\n".join(parts)


def _thread(
    comment: PageComment,
    replies: dict[str | None, list[PageComment]],
    render: Callable[[str], str],
    level: int,
    parts: list[str],
) -> None:
    parts.append(_heading(comment, level))
    if comment.inline and comment.selection and comment.parent_id is None:
        parts.append("> " + " ".join(comment.selection.split()))
    body = render(comment.body).strip()
    if body:
        parts.append(body)
    for reply in replies.get(comment.id, []):
        _thread(reply, replies, render, min(level + 1, MAX_HEADING), parts)


def _heading(comment: PageComment, level: int) -> str:
    date = comment.created[:10]
    if comment.parent_id is not None:
        kind = "reply"
    elif comment.inline:
        kind = f"inline comment, {comment.resolution or 'open'}"
    else:
        kind = "comment"
    return f"{'#' * level} {comment.author}, {date} ({kind})"
