"""What each page (or blog post) holds besides its body, attachments or comments, learnt with
the fewest requests: for a space imported whole, one CQL search of the space shared by all its
pages; for pages selected one by one or as subtrees, each page's own listing. Also the pages
whose attachments or comments changed since a time (`touched_pages`), and those whose
attachments went to the trash since (`trashed_attachment_pages`), for changes-only syncs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from .client import ConfluenceClient
from .clock import modified_at
from .errors import AuthError, PermissionDeniedError
from .routes import CQL_PAGE, CQL_SEARCH, EDIT_PAGE, V2, cql_string

logger = logging.getLogger(__name__)
T = TypeVar("T")
CQL_ZONE_MARGIN = timedelta(hours=12)  # the furthest a user's time zone lags UTC

BySpace = Callable[[ConfluenceClient, str], Awaitable[dict[str, list[T]]]]
ByPage = Callable[[ConfluenceClient, str, str], Awaitable[list[T]]]


class ContainerListings(Generic[T]):
    """Items per page: `by_space(client, space_key)` -> {page id: items} for spaces imported
    whole (`whole_spaces(key)`), `by_page(client, page_id, kind)` otherwise. A space's search
    starts on `prefetch` (alongside the page listing); a search refused (a token without the
    search scope) falls back to page listings for the rest of the run. A page the search did not
    return holds nothing (`absent_means_empty`, as for attachments: the search lists items, not
    pages) or is asked on its own (a search that lists the pages themselves)."""

    def __init__(
        self,
        client: ConfluenceClient,
        whole_spaces: Callable[[str], bool],
        by_space: BySpace[T],
        by_page: ByPage[T],
        what: str,
        *,
        absent_means_empty: bool = True,
    ) -> None:
        self.client = client
        self.absent_means_empty = absent_means_empty
        self.whole_spaces = whole_spaces
        self.by_space = by_space
        self.by_page = by_page
        self.what = what
        self._searches: dict[str, asyncio.Task[dict[str, list[T]] | None]] = {}
        self._kept: dict[tuple[str, str], list[T]] = {}
        self._search_refused = False

    def prefetch(self, space_key: str) -> None:
        if self.whole_spaces(space_key) and space_key not in self._searches:
            self._searches[space_key] = asyncio.ensure_future(self._search(space_key))

    async def of_page(
        self, page_id: str, space_key: str, kind: str = "page", *, keep: bool = False
    ) -> list[T]:
        """A page's items. With `keep`, a page's own listing is kept for the next call for that
        page (a sync lists a changed page's items, then imports it), and dropped by that call."""
        held = self._kept.pop((page_id, kind), None)
        if held is not None:
            return held
        if not self.whole_spaces(space_key) or self._search_refused:
            listed = await self.by_page(self.client, page_id, kind)
            if keep:
                self._kept[page_id, kind] = listed
            return listed
        self.prefetch(space_key)
        found = await asyncio.shield(self._searches[space_key])
        if found is None or (page_id not in found and not self.absent_means_empty):
            return await self.by_page(self.client, page_id, kind)
        return found.get(page_id, [])

    async def close(self) -> None:
        searches, self._searches = list(self._searches.values()), {}
        for search in searches:
            search.cancel()
        await asyncio.gather(*searches, return_exceptions=True)

    async def _search(self, space_key: str) -> dict[str, list[T]] | None:
        try:
            return await self.by_space(self.client, space_key)
        except (AuthError, PermissionDeniedError) as exc:  # e.g. a token without search scope
            logger.warning("%s are listed page by page for this run: %s", self.what, exc)
            self._search_refused = True
            return None


async def search_by_page(
    client: ConfluenceClient,
    cql: str,
    expand: str,
    limit: int,
    shape: Callable[[dict[str, Any]], tuple[str | None, T]],
) -> dict[str, list[T]]:
    """A CQL search's hits grouped by their container: `shape(hit)` -> (page id, item)."""
    by_page: dict[str, list[T]] = {}
    params = {"cql": cql, "expand": expand, "limit": limit}
    async for raw in client.paginate(CQL_SEARCH, params):
        page_id, item = shape(raw)
        if page_id:
            by_page.setdefault(page_id, []).append(item)
    return by_page


def container_id(hit: dict[str, Any]) -> str | None:
    """The page (or blog post) a v1 search hit of an attachment or comment belongs to."""
    found = (hit.get("container") or {}).get("id")
    if found is None:  # not expanded: the container link still names it
        link = str((hit.get("_expandable") or {}).get("container") or "")
        found = link.rsplit("/", 1)[-1] or None
    return None if found is None else str(found)


async def touched_pages(
    client: ConfluenceClient,
    content_type: str,
    space_key: str,
    since: datetime,
    unchanged: Callable[[str, object], bool] | None = None,
) -> set[str]:
    """Pages (and blog posts) of a space whose attachments or comments (`content_type`) were
    added or changed since `since`: one CQL search, 200 hits a request. A hit `unchanged(id,
    version)` says the target holds already (the window opens early) names no page."""
    opened = (since - CQL_ZONE_MARGIN).strftime("%Y-%m-%d %H:%M")
    cql = (
        f"type = {content_type} and space = {cql_string(space_key)}"
        f" and lastmodified >= {cql_string(opened)}"
    )
    params = {"cql": cql, "expand": "container,version", "limit": CQL_PAGE}
    found: set[str] = set()
    async for raw in client.paginate(CQL_SEARCH, params):
        version = (raw.get("version") or {}).get("number")
        if unchanged is not None and unchanged(str(raw.get("id")), version):
            continue
        page_id = container_id(raw)
        if page_id is not None:
            found.add(page_id)
    return found


async def dated_since(
    listing: AsyncGenerator[list[dict[str, Any]], None],
    since: datetime,
    seen: Callable[[dict[str, Any]], None] = lambda raw: None,
) -> list[dict[str, Any]]:
    """What a listing sorted newest first holds dated at or after `since`: read a response at
    a time and closed at the first older item, so nothing beyond it is asked for (the last
    response is paid in full). `seen` is shown every item read."""
    recent: list[dict[str, Any]] = []
    async with aclosing(listing):
        async for batch in listing:
            for raw in batch:
                seen(raw)
            fresh = [raw for raw in batch if (modified_at(raw) or since) >= since]
            recent += fresh
            if len(fresh) < len(batch):
                break
    return recent


async def trashed_attachment_pages(client: ConfluenceClient, since: datetime) -> set[str]:
    """Pages (and blog posts) whose attachments went to the trash since `since`: the site's
    trashed attachments, the last dated first, EDIT_PAGE a request, down to `since`. Where
    Confluence does not date a move to the trash (unverified), this finds nothing and the next
    full listing notices the file gone."""
    params = {"status": "trashed", "sort": "-modified-date", "limit": EDIT_PAGE}
    listing = client.paginate_batches(f"{V2}/attachments", params, read_ahead=False)
    trashed = await dated_since(listing, since)
    containers = (raw.get("pageId") or raw.get("blogPostId") for raw in trashed)
    return {str(container) for container in containers if container is not None}
