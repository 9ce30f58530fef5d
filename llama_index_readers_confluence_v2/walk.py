"""Request-optimal walks over a site, yielding pages parents-first.

`targets` is the one place that turns selections into what to read:

- a site or a space: the space's pages, 250 a request (`SpaceTarget`);
- a folder, or a page with its children: the subtree (`SubtreeTarget`), found through
  `descendants` (5 levels a request), bodies then fetched 250 a request;
- pages by id (`PagesTarget`): 250 a request whatever their order and spaces; their ancestors
  and labels in bulk.

`Walker.records` reads bodies for each target; the inventory (sync) and browse read the same
targets without bodies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from .documents import PageRecord, SpaceInfo
from .errors import NotFoundError
from .selection import LoadRequest
from .tree import ANY_STATUS, Labels, SiteTree, id_batches
from .urls import (
    FolderSelection,
    InstanceSelection,
    PageSelection,
    Selection,
    SpaceSelection,
    TitleSelection,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpaceTarget:
    space: SpaceInfo


@dataclass(frozen=True)
class SubtreeTarget:
    root_id: str
    kind: str  # "page" or "folder"
    root: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PagesTarget:
    pages: list[dict[str, Any]] = field(compare=False)


Target = SpaceTarget | SubtreeTarget | PagesTarget


async def targets(tree: SiteTree, request: LoadRequest, *, bodies: bool) -> AsyncIterator[Target]:
    """What the selections hold, in the order given; runs of page ids are fetched together."""
    page_ids: list[str] = []
    for selection in request.selections:
        if isinstance(selection, PageSelection):
            page_ids.append(selection.page_id)
            continue
        async for target in _page_targets(tree, request, page_ids, bodies):
            yield target
        page_ids = []
        async for target in _targets_of(tree, request, selection, bodies):
            yield target
    async for target in _page_targets(tree, request, page_ids, bodies):
        yield target


async def _targets_of(
    tree: SiteTree, request: LoadRequest, selection: Selection, bodies: bool
) -> AsyncIterator[Target]:
    if isinstance(selection, InstanceSelection):
        async for space in tree.list_spaces(request.include_personal_spaces, request.space_filter):
            yield SpaceTarget(space)
    elif isinstance(selection, SpaceSelection):
        yield SpaceTarget(await tree.space_by_key(selection.space_key))
    elif isinstance(selection, TitleSelection):
        page_id = await tree.page_id_by_title(selection.space_key, selection.title)
        async for target in _page_targets(tree, request, [page_id], bodies):
            yield target
    elif isinstance(selection, FolderSelection):
        yield SubtreeTarget(selection.folder_id, "folder")


async def _page_targets(
    tree: SiteTree, request: LoadRequest, page_ids: list[str], bodies: bool
) -> AsyncIterator[Target]:
    """Explicit ids (any status): pages, pages with their subtrees, or folders as subtrees."""
    for batch in id_batches(page_ids):
        found = await tree.pages_by_id(batch, ANY_STATUS, bodies=bodies)
        plain: list[dict[str, Any]] = []
        for page_id in batch:
            raw = found.get(page_id)
            if raw is not None and not request.include_children:
                plain.append(raw)
                continue
            if plain:
                yield PagesTarget(plain)
                plain = []
            if raw is not None:
                yield SubtreeTarget(page_id, "page", raw)
            elif await tree.folder(page_id) is not None:
                yield SubtreeTarget(page_id, "folder")
            else:
                raise NotFoundError(
                    f"page {page_id} does not exist or {tree.client.credential.username!r} "
                    "may not see it; check the id in the page's URL"
                )
        if plain:
            yield PagesTarget(plain)


@dataclass
class _SpaceWalk:
    """State of one space listing: what was emitted and what waits for its parent."""

    space: SpaceInfo
    labels: Labels
    parked: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    emitted: set[str] = field(default_factory=set)
    folder_children: dict[str, list[str]] = field(default_factory=dict)


class Walker:
    """Turns a request into page records with bodies, with the fewest requests the API allows."""

    def __init__(self, tree: SiteTree, request: LoadRequest) -> None:
        self.tree = tree
        self.request = request
        self.yielded: set[str] = set()
        self.vanished: list[str] = []

    async def records(self) -> AsyncIterator[PageRecord]:
        async for target in targets(self.tree, self.request, bodies=True):
            async for record in self._records_of(target):
                if record.id not in self.yielded:
                    self.yielded.add(record.id)
                    yield record

    def _records_of(self, target: Target) -> AsyncIterator[PageRecord]:
        if isinstance(target, SpaceTarget):
            return self.space_records(target.space)
        if isinstance(target, SubtreeTarget):
            return self.subtree_records(target)
        return self.page_records(target.pages)

    # ---- spaces -------------------------------------------------------------------------------

    async def space_records(self, space: SpaceInfo) -> AsyncIterator[PageRecord]:
        """The space's listing with bodies; a page whose parent was not listed yet waits. The
        labels are looked up while the first batch of pages is on its way."""
        labels = asyncio.ensure_future(self.tree.labels_of_space(space))
        try:
            walk: _SpaceWalk | None = None
            async for batch in self.tree.space_pages(space, self.request.statuses, bodies=True):
                walk = walk or _SpaceWalk(space, await labels)
                for raw in batch:
                    if self._parent_ready(raw, walk):
                        for record in self._release(raw, walk):
                            yield record
                    else:
                        walk.parked.setdefault(str(raw["parentId"]), []).append(raw)
            async for record in self._release_leftovers(walk or _SpaceWalk(space, await labels)):
                yield record
        finally:
            labels.cancel()

    def _parent_ready(self, raw: dict[str, Any], walk: _SpaceWalk) -> bool:
        """Whether every container above `raw` is emitted or a (known) folder chain up to one."""
        parent_id = raw.get("parentId")
        parent_id = None if parent_id is None else str(parent_id)
        while parent_id is not None:
            if parent_id in walk.emitted:
                return True
            node = self.tree.nodes.get(parent_id)
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
            records.append(self.tree.record(page, walk.space, walk.labels))
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
        await self.tree.learn_parents(list(walk.parked))
        while walk.parked:
            depth = self.tree.ancestors_of
            missing = min(walk.parked, key=lambda i: (len(depth(i)), int(i)))
            walk.emitted.add(missing)  # stands in the tree, but is not part of this import
            for raw in sorted(walk.parked.pop(missing), key=lambda page: int(page["id"])):
                for record in self._release(raw, walk):
                    yield record

    # ---- subtrees -----------------------------------------------------------------------------

    async def subtree_records(self, target: SubtreeTarget) -> AsyncIterator[PageRecord]:
        space, ordered = await subtree_ids(self.tree, target, self.request.statuses)
        labels = await self.tree.labels_for(space, ordered)
        for batch in id_batches(ordered):
            wanted = [i for i in batch if i != target.root_id]
            bodies = await self.tree.pages_by_id(wanted, self.request.statuses, bodies=True)
            if target.root is not None:
                bodies[target.root_id] = target.root
            for page_id in batch:
                raw = bodies.get(page_id)
                if raw is None:
                    self.vanished.append(page_id)
                    logger.warning("page %s vanished or became hidden during the import", page_id)
                    continue
                yield self.tree.record(raw, space, labels)

    # ---- explicit pages -----------------------------------------------------------------------

    async def page_records(self, pages: list[dict[str, Any]]) -> AsyncIterator[PageRecord]:
        """Pages fetched by id: ancestors in bulk, labels per space in bulk, in the order given."""
        await self.tree.learn_ancestors_of(pages)
        labels = await self.tree.labels_of_pages([(str(r["spaceId"]), str(r["id"])) for r in pages])
        for raw in pages:
            space = await self.tree.space_by_id(str(raw["spaceId"]))
            yield self.tree.record(raw, space, labels)


async def subtree_ids(
    tree: SiteTree, target: SubtreeTarget, statuses: tuple[str, ...]
) -> tuple[SpaceInfo, list[str]]:
    """The space of a subtree and its page ids top-down (the root page first), ancestors known."""
    if target.kind == "folder":
        space = await tree.folder_space(target.root_id)
        await tree.learn_chain(target.root_id, "folder")
        ordered: list[str] = []
    else:
        root = target.root
        if root is None:
            root = (await tree.pages_by_id([target.root_id], ANY_STATUS, bodies=False)).get(
                target.root_id
            )
        if root is None:
            raise NotFoundError(f"page {target.root_id} does not exist or may not be seen")
        space = await tree.space_by_id(str(root["spaceId"]))
        await tree.learn_ancestors_of([root])
        ordered = [target.root_id]
    ordered += await tree.descendant_ids(target.root_id, target.kind, statuses)
    return space, ordered
