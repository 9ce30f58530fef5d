"""Request-optimal walks over a site, yielding pages parents-first.

`targets` is the one place that turns selections into what to read:

- a site or a space: the space's pages, 250 a request (`SpaceTarget`);
- a folder (or whiteboard, database, embed), or a page with its children: the subtree
  (`SubtreeTarget`), found through
  `descendants` (5 levels a request), bodies then fetched 250 a request;
- pages by id (`PagesTarget`): 250 a request whatever their order and spaces; their ancestors
  and labels in bulk.

`handled(target, handler)` is the one dispatch over target kinds: `Walker` reads bodies for each
target (a space's pages parents first, order.py); the inventory (sync) and browse read the same
targets without bodies.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from .clock import edit_time, later
from .documents import PageRecord, SpaceInfo
from .errors import NotFoundError
from .order import ParentsFirst
from .routes import ANY_STATUS, CQL_PAGE, NODE_KINDS
from .selection import LoadRequest
from .tree import SiteTree, id_batches
from .urls import (
    BlogPostSelection,
    CqlSelection,
    FolderSelection,
    InstanceSelection,
    LabelSelection,
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
    kind: str  # "page", or a node that is not a page: "folder", "whiteboard", ...
    root: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PagesTarget:
    pages: list[dict[str, Any]] = field(compare=False)
    kind: str = "page"  # or "blogpost"


Target = SpaceTarget | SubtreeTarget | PagesTarget
R = TypeVar("R", covariant=True)


class TargetHandler(Protocol[R]):
    """What a consumer of targets does with each kind (the walk, the inventory, browse)."""

    def space(self, target: SpaceTarget) -> R: ...

    def subtree(self, target: SubtreeTarget) -> R: ...

    def pages(self, target: PagesTarget) -> R: ...


def handled(target: Target, handler: TargetHandler[R]) -> R:
    """The one dispatch over target kinds."""
    if isinstance(target, SpaceTarget):
        return handler.space(target)
    if isinstance(target, SubtreeTarget):
        return handler.subtree(target)
    return handler.pages(target)


@dataclass
class SearchProgress:
    """Where a CQL selection got to: the cursor that resumes after what was taken, and the
    hits that are neither pages nor blog posts (content id, reason)."""

    next_cursor: str | None = None
    taken: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


async def targets(
    tree: SiteTree,
    request: LoadRequest,
    *,
    bodies: bool,
    search: SearchProgress | None = None,
) -> AsyncIterator[Target]:
    """What the selections hold, in the order given; runs of page ids are fetched together."""
    search = search or SearchProgress()
    page_ids: list[str] = []
    post_ids: list[str] = []
    for selection in request.selections:
        if isinstance(selection, PageSelection):
            page_ids.append(selection.page_id)
            continue
        if isinstance(selection, BlogPostSelection):
            post_ids.append(selection.post_id)
            continue
        async for target in _page_targets(tree, request, page_ids, bodies):
            yield target
        page_ids = []
        if isinstance(selection, CqlSelection):
            async for target in _cql_targets(tree, request, selection, bodies, search):
                yield target
            continue
        async for target in _targets_of(tree, request, selection, bodies):
            yield target
    async for target in _page_targets(tree, request, page_ids, bodies):
        yield target
    if post_ids:
        yield await _post_target(tree, post_ids, bodies)


async def _cql_targets(
    tree: SiteTree,
    request: LoadRequest,
    selection: CqlSelection,
    bodies: bool,
    search: SearchProgress,
) -> AsyncIterator[Target]:
    """The query's pages and blog posts, fetched by id 250 at a time, response by response.
    With max_num_results, no more hits are asked for than are still wanted, so the cursor left
    in `search` resumes right after the last one taken."""

    def wanted() -> int:
        if request.max_num_results is None:
            return CQL_PAGE
        return max(1, min(CQL_PAGE, request.start + request.max_num_results - search.taken))

    async for hits, next_cursor in tree.cql_hits(selection, wanted):
        by_kind: dict[str, list[str]] = {"page": [], "blogpost": []}
        for hit in hits:
            kind = str(hit.get("type"))
            if kind in by_kind:
                by_kind[kind].append(str(hit["id"]))
            else:
                reason = f"{kind} {hit.get('title')!r}: not a page or blog post"
                search.skipped.append((str(hit.get("id")), reason))
        search.next_cursor = next_cursor
        for kind, ids in by_kind.items():
            search.taken += len(ids)
            found = await tree.pages_by_id(ids, request.statuses, bodies=bodies, kind=kind)
            if found:
                yield PagesTarget([found[i] for i in ids if i in found], kind)
        if (
            request.max_num_results is not None
            and search.taken >= request.start + request.max_num_results
        ):
            return


async def _post_target(tree: SiteTree, post_ids: list[str], bodies: bool) -> PagesTarget:
    found = await tree.pages_by_id(post_ids, ANY_STATUS, bodies=bodies, kind="blogpost")
    for post_id in post_ids:
        if post_id not in found:
            raise NotFoundError(
                f"blog post {post_id} does not exist or {tree.client.credential.username!r} "
                "may not see it; check the id in the post's URL"
            )
    return PagesTarget([found[post_id] for post_id in dict.fromkeys(post_ids)], "blogpost")


async def _space_targets(
    tree: SiteTree, request: LoadRequest, space: SpaceInfo, bodies: bool
) -> AsyncIterator[Target]:
    """A space's page tree, then (when asked) its blog posts, a batch at a time."""
    yield SpaceTarget(space)
    if request.include_blog_posts:
        posts = tree.space_pages(space, request.blog_statuses, bodies=bodies, kind="blogpost")
        async for batch in posts:
            if batch:
                yield PagesTarget(batch, "blogpost")


async def selected_spaces(
    tree: SiteTree, selection: Selection, request: LoadRequest
) -> AsyncIterator[SpaceInfo]:
    """The spaces a site or space selection imports whole (none for other selections)."""
    if isinstance(selection, InstanceSelection):
        async for space in tree.list_spaces(request.include_personal_spaces, request.space_filter):
            yield space
    elif isinstance(selection, SpaceSelection):
        yield await tree.space_by_key(selection.space_key)


async def _targets_of(
    tree: SiteTree, request: LoadRequest, selection: Selection, bodies: bool
) -> AsyncIterator[Target]:
    if isinstance(selection, (InstanceSelection, SpaceSelection)):
        async for space in selected_spaces(tree, selection, request):
            async for target in _space_targets(tree, request, space, bodies):
                yield target
    elif isinstance(selection, TitleSelection):
        page_id = await tree.page_id_by_title(selection.space_key, selection.title)
        async for target in _page_targets(tree, request, [page_id], bodies):
            yield target
    elif isinstance(selection, FolderSelection):
        node = await tree.any_node(selection.folder_id)
        if node is None:
            raise NotFoundError(
                f"folder {selection.folder_id} does not exist or "
                f"{tree.client.credential.username!r} may not see it; check the id in its URL"
            )
        yield SubtreeTarget(selection.folder_id, node.kind)
    elif isinstance(selection, LabelSelection):
        async for target in _label_targets(tree, request, selection, bodies):
            yield target


async def _label_targets(
    tree: SiteTree, request: LoadRequest, selection: LabelSelection, bodies: bool
) -> AsyncIterator[Target]:
    """Pages carrying the labels, a batch at a time (every label is looked up first, so a
    misspelt one fails before anything is imported)."""
    space = None
    if selection.space_key is not None:
        space = await tree.space_by_key(selection.space_key)
    label_ids = [await tree.label_id(name) for name in selection.labels]
    kinds = ("page", "blogpost") if request.include_blog_posts else ("page",)
    for kind in kinds:
        for label_id in label_ids:
            found = tree.label_pages(label_id, space, request.statuses, bodies=bodies, kind=kind)
            async for batch in found:
                if batch:
                    yield PagesTarget(batch, kind)


async def _page_targets(
    tree: SiteTree, request: LoadRequest, page_ids: list[str], bodies: bool
) -> AsyncIterator[Target]:
    """Explicit ids (any status): pages, pages with their subtrees, or the other tree nodes
    (folders, whiteboards, databases, embeds) as subtrees."""
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
            elif await tree.node(page_id, "folder") is not None:
                yield SubtreeTarget(page_id, "folder")
            elif post := await _blog_post(tree, page_id, bodies):  # a tiny link to a blog post
                yield PagesTarget([post], "blogpost")
            elif node := await tree.any_node(page_id, NODE_KINDS[1:]):
                yield SubtreeTarget(page_id, node.kind)
            else:
                raise NotFoundError(
                    f"page {page_id} does not exist or {tree.client.credential.username!r} "
                    "may not see it; check the id in the page's URL"
                )
        if plain:
            yield PagesTarget(plain)


async def _blog_post(tree: SiteTree, post_id: str, bodies: bool) -> dict[str, Any] | None:
    found = await tree.pages_by_id([post_id], ANY_STATUS, bodies=bodies, kind="blogpost")
    return found.get(post_id)


class Walker:
    """Turns a request into page records with bodies, with the fewest requests the API allows."""

    def __init__(self, tree: SiteTree, request: LoadRequest) -> None:
        self.tree = tree
        self.request = request
        self.yielded: set[str] = set()
        self.vanished: list[str] = []
        self.search = SearchProgress()
        self.latest: datetime | None = None  # the newest edit walked (Confluence's clock)

    async def records(self) -> AsyncIterator[PageRecord]:
        async for target in targets(self.tree, self.request, bodies=True, search=self.search):
            async for record in handled(target, self):
                if record.id not in self.yielded:
                    self.yielded.add(record.id)
                    self.latest = later(self.latest, edit_time(record.last_modified))
                    yield record

    def space(self, target: SpaceTarget) -> AsyncIterator[PageRecord]:
        return self.space_records(target.space)

    def subtree(self, target: SubtreeTarget) -> AsyncIterator[PageRecord]:
        return self.subtree_records(target)

    def pages(self, target: PagesTarget) -> AsyncIterator[PageRecord]:
        return self.page_records(target.pages, target.kind)

    # ---- spaces -------------------------------------------------------------------------------

    async def space_records(self, space: SpaceInfo) -> AsyncIterator[PageRecord]:
        """The space's listing with bodies, parents first (order.py)."""
        labels = await self.tree.labels_of_space(space)
        order = ParentsFirst(self.tree)
        async for batch in self.tree.space_pages(space, self.request.statuses, bodies=True):
            for raw in batch:
                for page in order.add(raw):
                    yield self.tree.record(page, space, labels)
        for page in await order.rest():
            yield self.tree.record(page, space, labels)

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

    async def page_records(
        self, pages: list[dict[str, Any]], kind: str = "page"
    ) -> AsyncIterator[PageRecord]:
        """Pages (or blog posts) fetched together: ancestors in bulk, labels per space in bulk,
        in the order given."""
        if kind == "page":
            await self.tree.learn_ancestors_of(pages)
        pairs = [(str(raw["spaceId"]), str(raw["id"])) for raw in pages]
        labels = await self.tree.labels_of_pages(pairs, kind)
        for raw in pages:
            space = await self.tree.space_by_id(str(raw["spaceId"]))
            yield self.tree.record(raw, space, labels, kind)


async def subtree_ids(
    tree: SiteTree, target: SubtreeTarget, statuses: tuple[str, ...]
) -> tuple[SpaceInfo, list[str]]:
    """The space of a subtree and its page ids top-down (the root page first), ancestors known."""
    if target.kind != "page":
        space = await tree.node_space(target.root_id, target.kind)
        await tree.learn_chain(target.root_id, target.kind)
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
