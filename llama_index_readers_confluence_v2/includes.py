"""Pages that other pages include (`include`, `excerpt-include`), looked up and fetched once a
run.

A macro names its target by space key and title (markdown.include_refs). `Inclusions.resolve`
finds every page a body includes, and the pages those include, to MAX_INCLUDE_DEPTH: titles are
looked up per space with one CQL search per 50 titles (`type = page and space = "KEY" and title
in (...)`; where search is refused, v2 `/pages?title=&space-id=` a title at a time), bodies
fetched by id 250 a request. What one page of the run asked for is never asked again, however
many pages include it. A target that is not found, or that the importing user may not read (the
API does not return it to them), resolves to nothing: none of its text reaches a document.

What a page includes is part of its fingerprint (`Fingerprint.includes`: space, title, id and
version of each target), because Confluence does not bump a page's version when a page it
includes changes; a sync looks the same targets up again to see whether any changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import AuthError, NotFoundError, PermissionDeniedError, RequestRefusedError
from .markdown import MAX_INCLUDE_DEPTH, IncludedPage, IncludeRef, include_refs
from .permissions import Readable
from .routes import ANY_STATUS, CQL_PAGE, CQL_SEARCH, cql_string
from .tree import SiteTree

logger = logging.getLogger(__name__)
TITLES_A_SEARCH = 50
Key = tuple[str, str]  # (space key, title)
Included = tuple[str, str, str, str]  # (space key, title, id, version); id "" when not found


@dataclass
class Resolution:
    """What one body includes, transitively: the pages found, and the references that found
    nothing."""

    pages: dict[Key, IncludedPage] = field(default_factory=dict)
    missing: list[IncludeRef] = field(default_factory=list)

    def parts(self) -> tuple[Included, ...]:
        """The fingerprint's part: every target with its id and version, sorted."""
        if not self.pages and not self.missing:
            return ()
        found = [
            (page.space_key, page.title, page.id, str(page.version or ""))
            for (space_key, title), page in self.pages.items()
        ]
        lost = [(ref.space_key, ref.title, "", "") for ref in self.missing]
        return tuple(sorted(set(found + lost)))


class Inclusions:
    """One run's included pages, by (space key, title)."""

    def __init__(self, tree: SiteTree) -> None:
        self.tree = tree
        self.pages: dict[Key, IncludedPage | None] = {}
        self.raws: dict[str, dict[str, Any]] = {}  # the targets as listed (for their ancestors)
        self._search_refused = False
        self._pending: dict[Key, asyncio.Future[None]] = {}

    async def resolve(self, storage: str, space_key: str) -> Resolution:
        """Every page the body includes, and those they include, to MAX_INCLUDE_DEPTH."""
        return await self.resolve_refs(include_refs(storage, space_key))

    async def resolve_refs(self, refs: Iterable[IncludeRef]) -> Resolution:
        resolution = Resolution()
        frontier, seen = list(refs), set()
        for _ in range(MAX_INCLUDE_DEPTH):
            frontier = [ref for ref in frontier if ref.key not in seen]
            if not frontier:
                break
            seen |= {ref.key for ref in frontier}
            await self.fetch({ref.key for ref in frontier})
            following: list[IncludeRef] = []
            for ref in frontier:
                page = self.pages.get(ref.key)
                if page is None:
                    resolution.missing.append(ref)
                    continue
                resolution.pages[ref.key] = page
                following += include_refs(page.storage, page.space_key)
            frontier = following
        return resolution

    async def current(self, held: Iterable[Included]) -> tuple[Included, ...]:
        """The targets a stored fingerprint names, as they are now (a sync's listing): looked
        up again by space and title, not followed further (the stored list holds them all)."""
        keys = {(space_key, title) for space_key, title, _, _ in held}
        await self.fetch(keys)
        now = Resolution()
        for key in keys:
            page = self.pages.get(key)
            if page is None:
                now.missing.append(IncludeRef(*key))
            else:
                now.pages[key] = page
        return now.parts()

    def found(self, held: Iterable[Included]) -> list[IncludedPage]:
        """The targets of a fingerprint's part that were found, as fetched."""
        pages = (self.pages.get((space_key, title)) for space_key, title, _, _ in held)
        return [page for page in pages if page is not None]

    async def readers(self, pages: Iterable[IncludedPage]) -> list[Readable]:
        """The included pages as permissions.py reads their audience (ancestors learnt)."""
        pages = list(pages)
        await self.tree.learn_ancestors_of([self.raws[page.id] for page in pages])
        found = []
        for page in pages:
            raw = self.raws[page.id]
            space = await self.tree.space_by_id(str(raw["spaceId"]))
            parent = raw.get("parentId")
            ancestors = self.tree.ancestors_of(page.id)
            found.append(
                Readable(page.id, space, ancestors, "page", None if parent is None else str(parent))
            )
        return found

    async def fetch(self, keys: Iterable[Key]) -> None:
        """Look up and fetch these targets, unless this run did (or is doing) it already."""
        keys = set(keys)
        wanted = sorted(k for k in keys if k not in self.pages and k not in self._pending)
        if wanted:
            task = asyncio.ensure_future(self._look_up(wanted))
            for key in wanted:
                self._pending[key] = task
        running = {self._pending[k] for k in keys if k in self._pending}
        if running:
            await asyncio.gather(*running)

    async def _look_up(self, keys: list[Key]) -> None:
        by_space: dict[str, list[str]] = {}
        for space_key, title in keys:
            by_space.setdefault(space_key, []).append(title)
        ids: dict[Key, str] = {}
        for space_key, titles in by_space.items():
            for start in range(0, len(titles), TITLES_A_SEARCH):
                batch = titles[start : start + TITLES_A_SEARCH]
                found = await self._ids_by_title(space_key, batch)
                ids.update({(space_key, title): i for title, i in found.items()})
        raws = await self.tree.pages_by_id(list(ids.values()), ANY_STATUS, bodies=True)
        for key in keys:
            raw = raws.get(ids.get(key, ""))
            self.pages[key] = None if raw is None else _included(raw, key[0])
            if raw is not None:
                self.raws[str(raw["id"])] = raw
            self._pending.pop(key, None)

    async def _ids_by_title(self, space_key: str, titles: list[str]) -> dict[str, str]:
        """The ids of the pages of a space with these titles (exact, else ignoring case)."""
        if not self._search_refused:
            try:
                return await self._searched(space_key, titles)
            except (AuthError, PermissionDeniedError, RequestRefusedError) as exc:
                logger.info("looking up included pages by CQL refused (%s); one by one", exc)
                self._search_refused = True
        found: dict[str, str] = {}
        for title in titles:
            page_id = await self._by_title(space_key, title)
            if page_id is not None:
                found[title] = page_id
        return found

    async def _searched(self, space_key: str, titles: list[str]) -> dict[str, str]:
        listed = ", ".join(cql_string(title) for title in titles)
        cql = f"type = page and space = {cql_string(space_key)} and title in ({listed})"
        hits = [
            hit
            async for hit in self.tree.client.paginate(CQL_SEARCH, {"cql": cql, "limit": CQL_PAGE})
        ]
        return _matched(titles, [(str(h.get("title") or ""), str(h["id"])) for h in hits])

    async def _by_title(self, space_key: str, title: str) -> str | None:
        try:
            return await self.tree.page_id_by_title(space_key, title)
        except NotFoundError:
            return None


def _matched(titles: list[str], hits: list[tuple[str, str]]) -> dict[str, str]:
    exact = {title: page_id for title, page_id in hits}
    folded = {title.casefold(): page_id for title, page_id in hits}
    found = {t: exact.get(t) or folded.get(t.casefold()) for t in titles}
    return {title: page_id for title, page_id in found.items() if page_id is not None}


def _included(raw: dict[str, Any], space_key: str) -> IncludedPage:
    body = (raw.get("body") or {}).get("storage") or {}
    return IncludedPage(
        str(raw["id"]),
        str(raw.get("title") or ""),
        space_key,
        (raw.get("version") or {}).get("number"),
        str(body.get("value") or ""),
    )
