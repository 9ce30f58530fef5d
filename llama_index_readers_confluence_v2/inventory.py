"""What a selection holds right now, without bodies: the basis of incremental sync.

A re-import lists the pages in scope with their versions (no bodies: 250 a request), compares
each page's fingerprint (version and path) with what the target holds, fetches bodies only for
the pages that changed (by id, 250 a request), and removes what left the scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from .documents import PATH_SEPARATOR, PageRecord, SpaceInfo
from .errors import NotFoundError
from .traversal import ALL_STATUSES, BATCH, V2, Walker
from .urls import (
    FolderSelection,
    InstanceSelection,
    PageSelection,
    Selection,
    SpaceSelection,
    TitleSelection,
)


def fingerprint(version: object, path: str) -> str:
    """What must match for a stored page to count as unchanged: its version and its place."""
    return f"{version}|{path}"


@dataclass(frozen=True)
class Listed:
    id: str
    space_id: str
    fingerprint: str


class Inventory:
    """Lists selections without bodies, then fetches the bodies asked for."""

    def __init__(self, walker: Walker) -> None:
        self.walker = walker
        self._versions: dict[str, Any] = {}
        self._spaces_of: dict[str, str] = {}

    async def listing(self, selections: Iterable[Selection]) -> list[Listed]:
        ordered: list[str] = []
        for selection in selections:
            for page_id in await self._ids_of(selection):
                if page_id not in self._spaces_of:
                    continue
                ordered.append(page_id)
        unique = list(dict.fromkeys(ordered))
        for space_id in {self._spaces_of[i] for i in unique}:
            await self.walker.space_by_id(space_id)
        return [Listed(i, self._spaces_of[i], self._fingerprint(i)) for i in unique]

    def _fingerprint(self, page_id: str) -> str:
        node = self.walker.nodes[page_id]
        space = self.walker.spaces[self._spaces_of[page_id]]
        titles = [space.name, *(n.title for n in self.walker.ancestors_of(page_id)), node.title]
        return fingerprint(self._versions.get(page_id), PATH_SEPARATOR.join(titles))

    async def _ids_of(self, selection: Selection) -> list[str]:
        walker = self.walker
        if isinstance(selection, InstanceSelection):
            ids: list[str] = []
            options = walker.options
            async for space in walker.list_spaces(
                options.include_personal_spaces, options.space_filter
            ):
                ids += await self._space_ids(space)
            return ids
        if isinstance(selection, SpaceSelection):
            return await self._space_ids(await walker.space_by_key(selection.space_key))
        if isinstance(selection, TitleSelection):
            page_id = await walker.page_id_by_title(selection.space_key, selection.title)
            return await self._ids_of(PageSelection(page_id))
        if isinstance(selection, FolderSelection):
            return await self._subtree_ids(selection.folder_id, "folder")
        return await self._page_ids(selection.page_id)

    async def _space_ids(self, space: SpaceInfo) -> list[str]:
        walker = self.walker
        params = {"limit": BATCH, "status": ",".join(walker.options.statuses), "sort": "id"}
        listed: list[dict[str, Any]] = []
        async for batch in walker.client.paginate_batches(f"{V2}/spaces/{space.id}/pages", params):
            for raw in batch:
                walker._remember_page(raw)
            await walker._fetch_folder_parents(batch)
            listed += batch
        for raw in listed:
            self._note(raw)
        await self._resolve_missing_parents(listed)
        depth = {str(raw["id"]): len(walker.ancestors_of(str(raw["id"]))) for raw in listed}
        return sorted(depth, key=lambda page_id: (depth[page_id], int(page_id)))

    async def _resolve_missing_parents(self, listed: list[dict[str, Any]]) -> None:
        """Parents the listing did not include (archived, hidden), learnt in batches."""
        walker = self.walker
        missing = [str(raw["parentId"]) for raw in listed if raw.get("parentId") is not None]
        await walker.fetch_unlisted(
            [parent for parent in missing if not walker._chain_known(parent)]
        )

    async def _subtree_ids(self, root_id: str, root_kind: str) -> list[str]:
        walker = self.walker
        if root_kind == "folder":
            await walker._fetch_folder(root_id, required=True)
            await walker._resolve_ancestors_of(root_id, "folder")
            ids: list[str] = []
        else:
            await walker._resolve_ancestors_of(root_id, "page")
            ids = [root_id]
        ids += await walker._descendant_page_ids(root_id, root_kind)
        await self._versions_of(ids)
        return ids

    async def _page_ids(self, page_id: str) -> list[str]:
        walker = self.walker
        found = await self._versions_of([page_id], explicit=True)
        if page_id not in found:
            if await walker._fetch_folder(page_id) is None:
                raise NotFoundError(
                    f"page {page_id} does not exist or {walker.client.credential.username!r} may "
                    "not see it; check the id in the page's URL"
                )
            return await self._subtree_ids(page_id, "folder")
        if walker.options.include_children:
            return await self._subtree_ids(page_id, "page")
        await walker._resolve_ancestors_of(page_id, "page", found[page_id])
        return [page_id]

    async def _versions_of(
        self, ids: list[str], *, explicit: bool = False
    ) -> dict[str, dict[str, Any]]:
        statuses = ALL_STATUSES if explicit else ",".join(self.walker.options.statuses)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), BATCH):
            params = {
                "id": ",".join(ids[start : start + BATCH]),
                "limit": BATCH,
                "status": statuses,
            }
            async for raw in self.walker.client.paginate(f"{V2}/pages", params):
                self.walker._remember_page(raw)
                self._note(raw)
                found[str(raw["id"])] = raw
        for page_id in ids:
            if page_id not in found:
                self._spaces_of.pop(page_id, None)
        return found

    def _note(self, raw: dict[str, Any]) -> None:
        page_id = str(raw["id"])
        self._versions[page_id] = (raw.get("version") or {}).get("number")
        self._spaces_of[page_id] = str(raw["spaceId"])

    async def records(self, wanted: list[Listed]) -> AsyncIterator[PageRecord]:
        """Bodies of the pages asked for, in the order asked, 250 a request."""
        walker = self.walker
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            bodies = await walker._fetch_bodies([item.id for item in batch], explicit=True)
            for item in batch:
                raw = bodies.get(item.id)
                if raw is None:
                    walker.vanished.append(item.id)
                    continue
                space = await walker.space_by_id(item.space_id)
                labels = await walker._labels_for(space, len(wanted), item.id)
                yield walker._record(raw, space, labels)
