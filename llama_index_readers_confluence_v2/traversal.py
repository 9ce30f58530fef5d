"""Request-optimal walks over spaces, subtrees and pages, yielding pages parents-first.

- A space: one listing with bodies (`/spaces/{id}/pages`, 250 a request); the tree is rebuilt
  from `parentId`. A page whose parent has not been listed yet waits (only those bodies are held).
- A subtree: `descendants` (5 levels a request, continued from the deepest nodes), then bodies
  by id in batches of 250, in top-down order.
- Labels: in bulk per space (`/spaces/{id}/content/labels`, then `/labels/{id}/pages`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from .client import ConfluenceClient
from .documents import PageRecord, SpaceInfo, TreeNode, page_record
from .errors import ConfluenceError, NotFoundError
from .urls import (
    FolderSelection,
    InstanceSelection,
    PageSelection,
    Selection,
    SpaceSelection,
    TitleSelection,
)

logger = logging.getLogger(__name__)

V2 = "/wiki/api/v2"
BATCH = 250
DESCENDANT_DEPTH = 5
ALL_STATUSES = "current,archived"


@dataclass
class WalkOptions:
    statuses: tuple[str, ...] = ("current",)
    include_children: bool = False
    include_personal_spaces: bool = False
    space_filter: tuple[str, ...] = ()


@dataclass
class _SpaceWalk:
    """State of one space listing: what was emitted and what waits for its parent."""

    space: SpaceInfo
    labels: dict[str, tuple[str, ...]]
    parked: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    emitted: set[str] = field(default_factory=set)
    folder_children: dict[str, list[str]] = field(default_factory=dict)


class Walker:
    """Turns selections into page records, with the fewest requests the API allows."""

    def __init__(self, client: ConfluenceClient, options: WalkOptions) -> None:
        self.client = client
        self.options = options
        self.nodes: dict[str, TreeNode] = {}
        self.spaces: dict[str, SpaceInfo] = {}
        self.yielded: set[str] = set()
        self._space_labels: dict[str, dict[str, tuple[str, ...]]] = {}
        self._folder_spaces: dict[str, str] = {}
        self.vanished: list[str] = []

    async def records(self, selections: Iterable[Selection]) -> AsyncIterator[PageRecord]:
        for selection in selections:
            async for record in self._records_of(selection):
                if record.id not in self.yielded:
                    self.yielded.add(record.id)
                    yield record

    async def _records_of(self, selection: Selection) -> AsyncIterator[PageRecord]:
        if isinstance(selection, InstanceSelection):
            async for space in self.list_spaces(
                self.options.include_personal_spaces, self.options.space_filter
            ):
                async for record in self.space_records(space):
                    yield record
        elif isinstance(selection, SpaceSelection):
            async for record in self.space_records(await self.space_by_key(selection.space_key)):
                yield record
        elif isinstance(selection, TitleSelection):
            page_id = await self.page_id_by_title(selection.space_key, selection.title)
            async for record in self._records_of(PageSelection(page_id)):
                yield record
        elif isinstance(selection, FolderSelection):
            async for record in self.subtree_records(selection.folder_id, "folder"):
                yield record
        else:
            async for record in self.pages_records([selection.page_id]):
                yield record

    # ---- spaces -------------------------------------------------------------------------------

    async def list_spaces(
        self, include_personal: bool, keywords: tuple[str, ...] = ()
    ) -> AsyncIterator[SpaceInfo]:
        params = {"limit": BATCH, "status": "current"}
        async for raw in self.client.paginate(f"{V2}/spaces", params):
            if raw.get("type") == "personal" and not include_personal:
                continue
            space = self._space_of(raw)
            haystack = f"{space.key} {space.name}".lower()
            if keywords and not any(word.lower() in haystack for word in keywords):
                continue
            yield space

    async def space_by_key(self, key: str) -> SpaceInfo:
        found = await self.client.get_json(f"{V2}/spaces", {"keys": key, "limit": 1})
        results = found.get("results", []) if isinstance(found, dict) else []
        if not results:
            raise NotFoundError(
                f"space {key!r} does not exist or {self.client.credential.username!r} may not "
                "see it; check the key in the space's URL (/wiki/spaces/KEY)"
            )
        return self._space_of(results[0])

    async def space_by_id(self, space_id: str) -> SpaceInfo:
        if space_id not in self.spaces:
            self._space_of(await self.client.get_json(f"{V2}/spaces/{space_id}"))
        return self.spaces[space_id]

    def _space_of(self, raw: dict[str, Any]) -> SpaceInfo:
        space = SpaceInfo(str(raw["id"]), str(raw["key"]), str(raw.get("name") or raw["key"]))
        self.spaces[space.id] = space
        return space

    async def page_id_by_title(self, space_key: str, title: str) -> str:
        space = await self.space_by_key(space_key)
        params = {"space-id": space.id, "title": title, "limit": 1, "status": ALL_STATUSES}
        found = await self.client.get_json(f"{V2}/pages", params)
        results = found.get("results", []) if isinstance(found, dict) else []
        if not results:
            raise NotFoundError(f"no page titled {title!r} in space {space_key!r}")
        return str(results[0]["id"])

    async def space_records(self, space: SpaceInfo) -> AsyncIterator[PageRecord]:
        walk = _SpaceWalk(space, await self.labels_of_space(space))
        params = {
            "body-format": "storage",
            "limit": BATCH,
            "status": ",".join(self.options.statuses),
            "sort": "id",
        }
        async for batch in self.client.paginate_batches(f"{V2}/spaces/{space.id}/pages", params):
            for raw in batch:
                self._remember_page(raw)
            await self._fetch_folder_parents(batch)
            for raw in batch:
                if self._parent_ready(raw, walk):
                    for record in self._release(raw, walk):
                        yield record
                else:
                    walk.parked.setdefault(str(raw["parentId"]), []).append(raw)
        async for record in self._release_leftovers(walk):
            yield record

    async def _fetch_folder_parents(self, batch: list[dict[str, Any]]) -> None:
        """Folders are not listed with pages: fetch the unknown ones (and theirs) concurrently."""
        wanted = {str(raw["parentId"]) for raw in batch if raw.get("parentType") == "folder"}
        while wanted := {folder_id for folder_id in wanted if folder_id not in self.nodes}:
            found = await asyncio.gather(*(self._fetch_folder(i) for i in sorted(wanted)))
            for folder_id in wanted - {node.id for node in found if node is not None}:
                self.nodes[folder_id] = TreeNode(folder_id, "", "folder", None)  # hidden folder
            wanted = {
                node.parent_id
                for node in found
                if node is not None and node.parent_type == "folder"
            } - {None}  # type: ignore[assignment]

    def _parent_ready(self, raw: dict[str, Any], walk: _SpaceWalk) -> bool:
        """Whether every container above `raw` is emitted or a (known) folder chain up to one."""
        parent_id = _str_or_none(raw.get("parentId"))
        while parent_id is not None:
            if parent_id in walk.emitted:
                return True
            node = self.nodes.get(parent_id)
            if node is None or node.kind != "folder":
                return False
            if node.parent_id is not None:
                siblings = walk.folder_children.setdefault(node.parent_id, [])
                if parent_id not in siblings:
                    siblings.append(parent_id)
            parent_id = node.parent_id
        return True

    def _release(self, raw: dict[str, Any], walk: _SpaceWalk) -> list[PageRecord]:
        """Emit `raw`, then every parked page now reachable (parents first)."""
        records: list[PageRecord] = []
        queue = [raw]
        while queue:
            page = queue.pop(0)
            records.append(self._record(page, walk.space, walk.labels))
            walk.emitted.add(str(page["id"]))
            containers = [str(page["id"])]
            while containers:
                container = containers.pop(0)
                queue.extend(walk.parked.pop(container, []))
                containers.extend(walk.folder_children.get(container, []))
        return records

    async def _release_leftovers(self, walk: _SpaceWalk) -> AsyncIterator[PageRecord]:
        """Pages whose parent was not listed (archived, restricted): learn the missing parents in
        batches, then release their children, shallowest first (parents before children)."""
        await self.fetch_unlisted(list(walk.parked))
        while walk.parked:
            missing = min(walk.parked, key=lambda i: (len(self.ancestors_of(i)), int(i)))
            walk.emitted.add(missing)  # stands in the tree, but is not part of this import
            for raw in sorted(walk.parked.pop(missing), key=lambda page: int(page["id"])):
                for record in self._release(raw, walk):
                    yield record

    async def fetch_unlisted(self, content_ids: list[str]) -> None:
        """Titles and parents of pages or folders the listing did not include, and of theirs,
        250 pages a request; what cannot be seen stays in the tree untitled."""
        wanted = [i for i in dict.fromkeys(content_ids) if i not in self.nodes]
        while wanted:
            for start in range(0, len(wanted), BATCH):
                batch = wanted[start : start + BATCH]
                params = {
                    "id": ",".join(batch),
                    "limit": BATCH,
                    "status": "current,archived,trashed,deleted",
                }
                async for raw in self.client.paginate(f"{V2}/pages", params):
                    self._remember_page(raw)
            rest = [i for i in wanted if i not in self.nodes]
            for content_id, folder in zip(
                rest, await asyncio.gather(*(self._fetch_folder(i) for i in rest)), strict=True
            ):
                if folder is None:
                    logger.warning(
                        "content %s above some pages is not visible; paths skip its title",
                        content_id,
                    )
                    self.nodes[content_id] = TreeNode(content_id, "", "page", None)
            parents = (self.nodes[i].parent_id for i in wanted)
            wanted = [p for p in dict.fromkeys(parents) if p is not None and p not in self.nodes]

    # ---- subtrees -----------------------------------------------------------------------------

    async def subtree_records(
        self, root_id: str, root_kind: str, root: dict[str, Any] | None = None
    ) -> AsyncIterator[PageRecord]:
        if root_kind == "folder":
            await self._fetch_folder(root_id, required=True)
            space_id = self._folder_spaces.get(root_id)
            if space_id is None:
                raise ConfluenceError(f"folder {root_id} did not say which space it belongs to")
            space = await self.space_by_id(space_id)
            await self._resolve_ancestors_of(root_id, "folder")
            ordered: list[str] = []
        else:
            if root is None:
                root = (await self._fetch_bodies([root_id], explicit=True)).get(root_id)
            if root is None:
                raise NotFoundError(f"page {root_id} does not exist or may not be seen")
            space = await self.space_by_id(str(root["spaceId"]))
            await self._resolve_ancestors_of(root_id, "page", root)
            ordered = [root_id]
        ordered += await self._descendant_page_ids(root_id, root_kind)
        labels = await self._labels_for(space, len(ordered))
        for start in range(0, len(ordered), BATCH):
            batch = ordered[start : start + BATCH]
            bodies = await self._fetch_bodies([i for i in batch if i != root_id], explicit=False)
            if root is not None and root_id in batch:
                bodies[root_id] = root
            for page_id in batch:
                raw = bodies.get(page_id)
                if raw is None:
                    self.vanished.append(page_id)
                    logger.warning("page %s vanished or became hidden during the import", page_id)
                    continue
                yield self._record(raw, space, labels)

    async def _descendant_page_ids(self, root_id: str, root_kind: str) -> list[str]:
        """Page ids under a page or folder, top-down, following folders, any depth.

        `descendants` covers 5 levels a request; the nodes on the 5th level are continued from,
        all of a level at once.
        """
        ordered: list[str] = []
        frontier = [(root_id, root_kind)]
        while frontier:
            found = await asyncio.gather(*(self._descendants(i, kind) for i, kind in frontier))
            frontier = []
            for items in found:
                for item in items:
                    node = TreeNode(
                        str(item["id"]),
                        str(item.get("title") or ""),
                        str(item.get("type", "page")),
                        _str_or_none(item.get("parentId")),
                    )
                    self.nodes[node.id] = node
                    if (
                        node.kind == "page"
                        and item.get("status", "current") in self.options.statuses
                    ):
                        ordered.append(node.id)
                    if item.get("depth") == DESCENDANT_DEPTH:
                        frontier.append((node.id, node.kind))
        for node_id in ordered:  # parent kinds, now that every node of the subtree is known
            node = self.nodes[node_id]
            parent = self.nodes.get(node.parent_id or "")
            if parent is not None:
                self.nodes[node_id] = TreeNode(
                    node.id, node.title, node.kind, node.parent_id, parent.kind
                )
        return ordered

    async def _descendants(self, container_id: str, kind: str) -> list[dict[str, Any]]:
        path = f"{V2}/{'folders' if kind == 'folder' else 'pages'}/{container_id}/descendants"
        params = {"depth": DESCENDANT_DEPTH, "limit": BATCH}
        return [
            item
            async for item in self.client.paginate(path, params)
            if str(item.get("type", "page")) in ("page", "folder")
        ]

    # ---- explicit pages -----------------------------------------------------------------------

    async def pages_records(self, page_ids: list[str]) -> AsyncIterator[PageRecord]:
        """Explicit pages (any status), with their subtrees when asked; folders as subtrees."""
        for start in range(0, len(page_ids), BATCH):
            batch = page_ids[start : start + BATCH]
            bodies = await self._fetch_bodies(batch, explicit=True)
            for missing_id in [page_id for page_id in batch if page_id not in bodies]:
                if await self._fetch_folder(missing_id) is None:
                    raise NotFoundError(
                        f"page {missing_id} does not exist or {self.client.credential.username!r} "
                        "may not see it; check the id in the page's URL"
                    )
            for page_id in batch:
                raw = bodies.get(page_id)
                if raw is None:
                    records = self.subtree_records(page_id, "folder")
                elif self.options.include_children:
                    records = self.subtree_records(page_id, "page", raw)
                else:
                    records = self._single(raw, len(page_ids))
                async for record in records:
                    yield record

    async def _single(self, raw: dict[str, Any], selected: int) -> AsyncIterator[PageRecord]:
        space = await self.space_by_id(str(raw["spaceId"]))
        await self._resolve_ancestors_of(str(raw["id"]), "page", raw)
        yield self._record(raw, space, await self._labels_for(space, selected, str(raw["id"])))

    async def _fetch_bodies(
        self, page_ids: list[str], *, explicit: bool
    ) -> dict[str, dict[str, Any]]:
        statuses = ALL_STATUSES if explicit else ",".join(self.options.statuses)
        params = {
            "id": ",".join(page_ids),
            "body-format": "storage",
            "limit": BATCH,
            "status": statuses,
        }
        found: dict[str, dict[str, Any]] = {}
        async for raw in self.client.paginate(f"{V2}/pages", params):
            self._remember_page(raw)
            found[str(raw["id"])] = raw
        return found

    # ---- the tree: titles and parents of ancestors ---------------------------------------------

    async def _resolve_ancestors_of(
        self, content_id: str, kind: str, raw: dict[str, Any] | None = None
    ) -> None:
        if raw is not None and self._parent_chain_known(raw):
            return
        path = f"{V2}/{'folders' if kind == 'folder' else 'pages'}/{content_id}/ancestors"
        ancestors = await self.client.get_json(path)
        chain = [(str(a["id"]), str(a.get("type", "page"))) for a in ancestors.get("results", [])]
        await self._ensure_nodes(chain)
        self._link_chain([node_id for node_id, _ in chain] + [content_id])

    def _parent_chain_known(self, raw: dict[str, Any]) -> bool:
        parent = _str_or_none(raw.get("parentId"))
        return parent is None or (parent in self.nodes and self._chain_known(parent))

    def _chain_known(self, node_id: str) -> bool:
        seen = 0
        node = self.nodes.get(node_id)
        while node is not None and node.parent_id is not None and seen < 1000:
            node = self.nodes.get(node.parent_id)
            seen += 1
        return node is not None

    def _link_chain(self, ids: list[str]) -> None:
        """Ancestors come root first: make each node's parent the one before it."""
        for parent_id, child_id in zip([None, *ids[:-1]], ids, strict=True):
            node = self.nodes.get(child_id)
            if node is not None and node.parent_id != parent_id:
                parent_kind = self.nodes[parent_id].kind if parent_id in self.nodes else None
                self.nodes[child_id] = TreeNode(
                    node.id, node.title, node.kind, parent_id, parent_kind
                )

    async def _ensure_nodes(self, wanted: list[tuple[str, str]]) -> None:
        unknown_pages = [i for i, kind in wanted if kind == "page" and i not in self.nodes]
        unknown_folders = [i for i, kind in wanted if kind == "folder" and i not in self.nodes]
        for start in range(0, len(unknown_pages), BATCH):
            batch = unknown_pages[start : start + BATCH]
            params = {"id": ",".join(batch), "limit": BATCH, "status": ALL_STATUSES}
            async for raw in self.client.paginate(f"{V2}/pages", params):
                self._remember_page(raw)
        await asyncio.gather(*(self._fetch_folder(i) for i in unknown_folders))
        for node_id, kind in wanted:  # hidden ancestors still stand in the path, untitled
            self.nodes.setdefault(node_id, TreeNode(node_id, "", kind, None))

    async def _fetch_folder(self, folder_id: str, *, required: bool = False) -> TreeNode | None:
        if folder_id in self.nodes:
            return self.nodes[folder_id]
        try:
            raw = await self.client.get_json(f"{V2}/folders/{folder_id}")
        except NotFoundError:
            if required:
                raise
            return None
        node = TreeNode(
            str(raw["id"]),
            str(raw.get("title") or ""),
            "folder",
            _str_or_none(raw.get("parentId")),
            _str_or_none(raw.get("parentType")),
        )
        self.nodes[node.id] = node
        if raw.get("spaceId"):
            self._folder_spaces[node.id] = str(raw["spaceId"])
        return node

    def _remember_page(self, raw: dict[str, Any]) -> None:
        self.nodes[str(raw["id"])] = TreeNode(
            str(raw["id"]),
            str(raw.get("title") or ""),
            "page",
            _str_or_none(raw.get("parentId")),
            _str_or_none(raw.get("parentType")),
        )

    def ancestors_of(self, page_id: str) -> list[TreeNode]:
        chain: list[TreeNode] = []
        node = self.nodes.get(page_id)
        parent_id = node.parent_id if node else None
        while parent_id is not None and parent_id in self.nodes and len(chain) < 1000:
            parent = self.nodes[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        return list(reversed(chain))

    def _record(
        self, raw: dict[str, Any], space: SpaceInfo, labels: dict[str, tuple[str, ...]]
    ) -> PageRecord:
        record = page_record(raw, space, self.ancestors_of(str(raw["id"])))
        record.labels = labels.get(record.id, ())
        return record

    # ---- labels -------------------------------------------------------------------------------

    async def labels_of_space(self, space: SpaceInfo) -> dict[str, tuple[str, ...]]:
        """Labels of a space's pages in bulk: the labels in use, then each label's pages."""
        if space.id in self._space_labels:
            return self._space_labels[space.id]
        labels = [
            raw
            async for raw in self.client.paginate(
                f"{V2}/spaces/{space.id}/content/labels", {"limit": BATCH}
            )
        ]

        async def pages_of(label: dict[str, Any]) -> list[str]:
            params = {"space-id": space.id, "limit": BATCH}
            return [
                str(page["id"])
                async for page in self.client.paginate(f"{V2}/labels/{label['id']}/pages", params)
            ]

        by_page: dict[str, list[str]] = {}
        for label, page_ids in zip(
            labels, await asyncio.gather(*(pages_of(label) for label in labels)), strict=True
        ):
            for page_id in page_ids:
                by_page.setdefault(page_id, []).append(str(label["name"]))
        result = {page_id: tuple(sorted(names)) for page_id, names in by_page.items()}
        self._space_labels[space.id] = result
        return result

    async def _labels_for(
        self, space: SpaceInfo, page_count: int, page_id: str | None = None
    ) -> dict[str, tuple[str, ...]]:
        """Bulk per space when that is cheaper; one page's own labels for a single page."""
        if space.id in self._space_labels or page_count > 1 or page_id is None:
            return await self.labels_of_space(space)
        names = [
            str(label["name"])
            async for label in self.client.paginate(
                f"{V2}/pages/{page_id}/labels", {"limit": BATCH}
            )
        ]
        return {page_id: tuple(sorted(names))}


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
