"""The site's tree as far as a run has seen it, and the requests that grow it.

One `SiteTree` per run owns the node cache (pages and folders: title, parent), the spaces and
the labels, and every request that reads them: the space listing, the listing of a space's
pages, the batched fetch of pages by id (`id_batches`: never a blank id list, never more than
250 ids), folders, ancestors, descendants, label and CQL look-ups. Walks, the inventory and
browse use it through these public methods only. The API's paths and limits are in routes.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

from .client import MAX_IDS, ConfluenceClient
from .documents import PageRecord, SpaceInfo, TreeNode, page_record
from .errors import (
    AuthError,
    BadArgumentError,
    ConfluenceError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RequestRefusedError,
)
from .routes import (
    ANY_STATUS,
    CQL_PAGE,
    CQL_SEARCH,
    DESCENDANT_DEPTH,
    EDIT_PAGE,
    EVERY_STATUS,
    NODE_KINDS,
    TREE_KINDS,
    V1,
    V2,
    blog_statuses,
    collection,
    cql_string,
    cursor_of,
    node_route,
)
from .urls import CqlSelection

logger = logging.getLogger(__name__)
NODES_SEARCHED_FROM = 3  # unknown folders above a space's pages: from this many, one search

Labels = dict[str, tuple[str, ...]]


def id_batches(ids: Iterable[str]) -> Iterator[list[str]]:
    """Distinct ids, in order, in batches of at most 250; nothing at all for no ids."""
    unique = list(dict.fromkeys(ids))
    for page_id in unique:
        if not page_id or not page_id.isdigit():
            raise InvalidRequestError(f"a page id must be digits, not {page_id!r}")
    for start in range(0, len(unique), MAX_IDS):
        yield unique[start : start + MAX_IDS]


def space_matches(space: SpaceInfo, keywords: tuple[str, ...]) -> bool:
    haystack = f"{space.key} {space.name}".lower()
    return not keywords or any(word.lower() in haystack for word in keywords)


class SiteTree:
    """Pages, folders and spaces seen so far, and the requests that learn more."""

    def __init__(self, client: ConfluenceClient) -> None:
        self.client = client
        self.nodes: dict[str, TreeNode] = {}
        self.spaces: dict[str, SpaceInfo] = {}
        self._node_spaces: dict[str, str] = {}
        self.embed_urls: dict[str, str] = {}  # an embed's target, where it was read
        self._space_labels: dict[tuple[str, str], Labels] = {}  # (space id, kind)
        self._labels_in_space: dict[str, list[dict[str, Any]]] = {}
        self._nodes_searched: set[str] = set()  # spaces whose nodes one CQL search brought

    # ---- spaces -------------------------------------------------------------------------------

    async def list_spaces(
        self, include_personal: bool = False, keywords: tuple[str, ...] = ()
    ) -> AsyncIterator[SpaceInfo]:
        """The spaces this user can read (personal ones when asked), filtered by keywords."""
        params = {"limit": MAX_IDS, "status": "current"}
        async for raw in self.client.paginate(f"{V2}/spaces", params):
            space = self._space_of(raw)
            if space.type == "personal" and not include_personal:
                continue
            if space_matches(space, keywords):
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
        space = SpaceInfo(
            str(raw["id"]),
            str(raw["key"]),
            str(raw.get("name") or raw["key"]),
            str(raw.get("type") or "global"),
        )
        self.spaces[space.id] = space
        return space

    async def page_id_by_title(self, space_key: str, title: str) -> str:
        space = await self.space_by_key(space_key)
        params = {"space-id": space.id, "title": title, "limit": 1, "status": ",".join(ANY_STATUS)}
        found = await self.client.get_json(f"{V2}/pages", params)
        results = found.get("results", []) if isinstance(found, dict) else []
        if not results:
            raise NotFoundError(f"no page titled {title!r} in space {space_key!r}")
        return str(results[0]["id"])

    # ---- pages --------------------------------------------------------------------------------

    async def space_pages(
        self,
        space: SpaceInfo,
        statuses: tuple[str, ...],
        *,
        bodies: bool,
        kind: str = "page",
        roots_only: bool = False,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """A space's pages (or blog posts; or only its root pages), 250 a request in id order;
        each batch's folders are known on arrival."""
        if not statuses:
            return
        params: dict[str, Any] = {"limit": MAX_IDS, "status": ",".join(statuses), "sort": "id"}
        if bodies:
            params["body-format"] = "storage"
        if roots_only:
            params["depth"] = "root"
        path = f"{V2}/spaces/{space.id}/{collection(kind)}"
        async for batch in self.client.paginate_batches(path, params):
            for raw in batch:
                self.remember(raw, kind)
            await self._learn_node_parents(batch)
            yield batch

    def pages_by_edit(
        self,
        space_ids: list[str],
        statuses: tuple[str, ...],
        kind: str = "page",
        *,
        bodies: bool = False,
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The pages (or blog posts) of up to 100 spaces, the last edited first,
        EDIT_PAGE a request, each asked for only once the previous one is read: the caller stops
        at the first page older than its watermark, and the whole of the last response is
        charged (a point an object), so small responses keep what is paid beyond the watermark
        small (25 points, not 250), at a request per 25 changed pages."""
        params: dict[str, Any] = {
            "space-id": ",".join(space_ids),
            "limit": EDIT_PAGE,
            "status": ",".join(statuses),
            "sort": "-modified-date",
        }
        if bodies:  # a listing costs a point an object, bodies or not
            params["body-format"] = "storage"
        return self.client.paginate_batches(f"{V2}/{collection(kind)}", params, read_ahead=False)

    async def pages_by_id(
        self,
        page_ids: Iterable[str],
        statuses: tuple[str, ...],
        *,
        bodies: bool,
        kind: str = "page",
    ) -> dict[str, dict[str, Any]]:
        """Pages (or blog posts) by id, 250 a request, whatever their spaces; what is not found
        is left out."""
        found: dict[str, dict[str, Any]] = {}
        if kind == "blogpost":  # blog posts are never archived
            statuses = blog_statuses(statuses) or ("current",)
        for batch in id_batches(page_ids):
            params: dict[str, Any] = {
                "id": ",".join(batch),
                "limit": MAX_IDS,
                "status": ",".join(statuses),
            }
            if bodies:
                params["body-format"] = "storage"
            async for raw in self.client.paginate(f"{V2}/{collection(kind)}", params):
                self.remember(raw, kind)
                found[str(raw["id"])] = raw
        return found

    def remember(self, raw: dict[str, Any], kind: str = "page") -> None:
        self.nodes[str(raw["id"])] = TreeNode(
            str(raw["id"]),
            str(raw.get("title") or ""),
            kind,
            _str_or_none(raw.get("parentId")),
            _str_or_none(raw.get("parentType")),
        )

    # ---- folders ------------------------------------------------------------------------------

    async def node(
        self, node_id: str, kind: str = "folder", *, required: bool = False
    ) -> TreeNode | None:
        """A tree node that is not a page (a folder, whiteboard, database or embed), cached;
        None when there is none of that id and kind (NotFoundError if required)."""
        if node_id in self.nodes:
            return self.nodes[node_id]
        try:
            raw = await self.client.get_json(f"{V2}/{node_route(kind)}/{node_id}")
        except NotFoundError:
            if required:
                raise
            return None
        node = TreeNode(
            str(raw["id"]),
            str(raw.get("title") or ""),
            str(raw.get("type") or kind),
            _str_or_none(raw.get("parentId")),
            _str_or_none(raw.get("parentType")),
        )
        self.nodes[node.id] = node
        if raw.get("spaceId"):
            self._node_spaces[node.id] = str(raw["spaceId"])
        if raw.get("embedUrl"):
            self.embed_urls[node.id] = str(raw["embedUrl"])
        return node

    async def _search_nodes_above(self, pages: list[dict[str, Any]]) -> None:
        """Where a space's pages sit under NODES_SEARCHED_FROM unknown folders or more, every
        folder of the space at once: one CQL search, a point a folder, where asking each costs
        two (whiteboards, databases and embeds are asked one by one: an embed's own answer
        holds its address). Once a space a run; a search refused (a
        token without the search scope) leaves them to be asked one by one."""
        by_space: dict[str, set[str]] = {}
        for raw in pages:
            parent_id = str(raw.get("parentId"))
            if raw.get("parentType") == "folder" and parent_id not in self.nodes:
                by_space.setdefault(str(raw.get("spaceId")), set()).add(parent_id)
        for space_id, nodes in by_space.items():
            if len(nodes) < NODES_SEARCHED_FROM or space_id in self._nodes_searched:
                continue
            self._nodes_searched.add(space_id)
            space = await self.space_by_id(space_id)
            try:
                async for node in self._nodes_of_space(space, ("folder",)):
                    self.nodes.setdefault(node.id, node)
            except (AuthError, PermissionDeniedError) as exc:
                logger.info("folders of %s are asked one by one: %s", space.key, exc)

    async def _nodes_of_space(
        self, space: SpaceInfo, kinds: tuple[str, ...] = NODE_KINDS
    ) -> AsyncIterator[TreeNode]:
        """A space's tree nodes of these kinds (not pages), with their parents: v2 cannot list
        them by space, so CQL finds them with their ancestors (root first; none at the root)."""
        params = {
            "cql": f"type in ({','.join(kinds)}) AND space={cql_string(space.key)}",
            "expand": "ancestors",
            "limit": CQL_PAGE,
        }
        async for hit in self.client.paginate(CQL_SEARCH, params):
            kind = str(hit.get("type", "folder"))
            if kind not in NODE_KINDS:
                continue
            above = (hit.get("ancestors") or [{}])[-1]
            self._node_spaces[str(hit["id"])] = space.id
            yield TreeNode(
                str(hit["id"]),
                str(hit.get("title") or ""),
                kind,
                _str_or_none(above.get("id")),
                _str_or_none(above.get("type")),
            )

    async def any_node(self, node_id: str, kinds: tuple[str, ...] = NODE_KINDS) -> TreeNode | None:
        """A tree node of any of these kinds (not pages), for an id given without its kind:
        each kind's route is asked in turn (folders first, the commonest)."""
        for kind in kinds:
            found = await self.node(node_id, kind)
            if found is not None:
                return found
        return None

    async def node_space(self, node_id: str, kind: str) -> SpaceInfo:
        await self.node(node_id, kind, required=True)
        space_id = self._node_spaces.get(node_id)
        if space_id is None:
            raise NotFoundError(f"{kind} {node_id} did not say which space it belongs to")
        return await self.space_by_id(space_id)

    async def _learn_node_parents(self, batch: list[dict[str, Any]]) -> None:
        """Folders, whiteboards, databases and embeds are not listed with pages: fetch the
        unknown ones above a batch (and theirs) concurrently, or the space's all at once."""
        await self._search_nodes_above(batch)
        wanted = {
            str(raw["parentId"]): str(raw["parentType"])
            for raw in batch
            if raw.get("parentType") in NODE_KINDS
        }
        while wanted := {i: kind for i, kind in wanted.items() if i not in self.nodes}:
            found = await asyncio.gather(*(self.node(i, k) for i, k in sorted(wanted.items())))
            for node_id in wanted.keys() - {node.id for node in found if node is not None}:
                self.nodes[node_id] = TreeNode(node_id, "", wanted[node_id], None)  # hidden
            wanted = {
                node.parent_id: node.parent_type
                for node in found
                if node is not None and node.parent_type in NODE_KINDS and node.parent_id
            }

    # ---- ancestors ----------------------------------------------------------------------------

    async def learn_parents(
        self, content_ids: Iterable[str], kinds: Mapping[str, str | None] | None = None
    ) -> None:
        """Titles and parents of tree nodes not seen yet, and of theirs, level by level: pages
        250 a request, other nodes one request each, by their kind where it is known (`kinds`,
        the children's `parentType`; else a folder); what cannot be seen stays untitled."""
        hints: dict[str, str | None] = dict(kinds or {})
        wanted = [i for i in dict.fromkeys(content_ids) if i not in self.nodes]
        while wanted:
            pages = [i for i in wanted if hints.get(i) in (None, "page")]
            await self.pages_by_id(pages, EVERY_STATUS, bodies=False)
            rest = [i for i in wanted if i not in self.nodes]
            kinds_of = [hints.get(i) if hints.get(i) in NODE_KINDS else "folder" for i in rest]
            found = await asyncio.gather(
                *(self.node(i, str(kind)) for i, kind in zip(rest, kinds_of, strict=True))
            )
            for content_id, node in zip(rest, found, strict=True):
                if node is None:
                    logger.warning(
                        "content %s above some pages is not visible; paths skip its title",
                        content_id,
                    )
                    self.nodes[content_id] = TreeNode(content_id, "", "page", None)
            hints.update({self.nodes[i].parent_id or "": self.nodes[i].parent_type for i in wanted})
            parents = (self.nodes[i].parent_id for i in wanted)
            wanted = [p for p in dict.fromkeys(parents) if p is not None and p not in self.nodes]

    async def learn_ancestors_of(self, pages: list[dict[str, Any]]) -> None:
        """Every ancestor of these pages: one page's through its `ancestors` (one request, then
        their titles), several pages' level by level (250 parents a request)."""
        await self._search_nodes_above(pages)
        unknown = [
            raw
            for raw in pages
            if raw.get("parentId") is not None and not self.chain_known(str(raw["parentId"]))
        ]
        if len(unknown) == 1:
            await self.learn_chain(str(unknown[0]["id"]), "page")
        else:
            await self.learn_parents(
                (str(raw["parentId"]) for raw in unknown),
                {str(raw["parentId"]): raw.get("parentType") for raw in unknown},
            )

    async def learn_chain(self, content_id: str, kind: str) -> None:
        """A tree node's ancestors through its `ancestors` route, then their titles."""
        path = f"{V2}/{node_route(kind)}/{content_id}/ancestors"
        ancestors = await self.client.get_json(path)
        chain = [(str(a["id"]), str(a.get("type", "page"))) for a in ancestors.get("results", [])]
        pages = [node_id for node_id, kind in chain if kind == "page" and node_id not in self.nodes]
        await self.pages_by_id(pages, EVERY_STATUS, bodies=False)
        await asyncio.gather(*(self.node(i, kind) for i, kind in chain if kind in NODE_KINDS))
        for node_id, kind in chain:  # hidden ancestors still stand in the path, untitled
            self.nodes.setdefault(node_id, TreeNode(node_id, "", kind, None))
        self._link_chain([node_id for node_id, _ in chain] + [content_id])

    def _link_chain(self, ids: list[str]) -> None:
        """Ancestors come root first: make each node's parent the one before it."""
        for parent_id, child_id in zip([None, *ids[:-1]], ids, strict=True):
            node = self.nodes.get(child_id)
            if node is not None and node.parent_id != parent_id:
                parent_kind = self.nodes[parent_id].kind if parent_id in self.nodes else None
                self.nodes[child_id] = TreeNode(
                    node.id, node.title, node.kind, parent_id, parent_kind
                )

    def chain_known(self, node_id: str) -> bool:
        seen = 0
        node = self.nodes.get(node_id)
        while node is not None and node.parent_id is not None and seen < 1000:
            node = self.nodes.get(node.parent_id)
            seen += 1
        return node is not None

    def ancestors_of(self, page_id: str) -> list[TreeNode]:
        chain: list[TreeNode] = []
        node = self.nodes.get(page_id)
        parent_id = node.parent_id if node else None
        while parent_id is not None and parent_id in self.nodes and len(chain) < 1000:
            parent = self.nodes[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        return list(reversed(chain))

    # ---- descendants --------------------------------------------------------------------------

    async def descendant_ids(
        self, root_id: str, root_kind: str, statuses: tuple[str, ...]
    ) -> list[str]:
        """Page ids under a tree node, top-down, through nodes of every kind, any depth.

        `descendants` covers 5 levels a request; the nodes on the 5th level are continued from,
        all of a level at once.
        """
        ordered: list[str] = []
        frontier = [(root_id, root_kind)]
        while frontier:
            found = await asyncio.gather(*(self._descendants(i, kind) for i, kind in frontier))
            frontier = []
            for item in (item for items in found for item in items):
                node = self._learn_descendant(item)
                if node.kind == "page" and item.get("status", "current") in statuses:
                    ordered.append(node.id)
                if item.get("depth") == DESCENDANT_DEPTH and node.kind in TREE_KINDS:
                    frontier.append((node.id, node.kind))
        for node_id in ordered:  # parent kinds, now that every node of the subtree is known
            node = self.nodes[node_id]
            parent = self.nodes.get(node.parent_id or "")
            if parent is not None:
                self.nodes[node_id] = TreeNode(
                    node.id, node.title, node.kind, node.parent_id, parent.kind
                )
        return ordered

    def _learn_descendant(self, item: dict[str, Any]) -> TreeNode:
        node = TreeNode(
            str(item["id"]),
            str(item.get("title") or ""),
            str(item.get("type", "page")),
            _str_or_none(item.get("parentId")),
        )
        self.nodes[node.id] = node
        return node

    async def level_below(
        self, container_id: str, kind: str, statuses: tuple[str, ...]
    ) -> list[tuple[TreeNode, bool]]:
        """The pages and other tree nodes right under a tree node, in Confluence's order, each
        with whether anything lies under it: one `descendants` listing two levels deep."""
        items = await self._descendants(container_id, kind, depth=2)
        shown = [i for i in items if i.get("depth") == 1 and _shown(i, statuses)]
        parents = {
            str(i.get("parentId")) for i in items if i.get("depth") == 2 and _shown(i, statuses)
        }
        shown.sort(key=lambda item: _position(item.get("childPosition")))
        return [(self._learn_descendant(item), str(item["id"]) in parents) for item in shown]

    async def root_folders(self, space: SpaceInfo) -> list[TreeNode]:
        """A space's folders, whiteboards, databases and embeds that sit under no page."""
        roots = []
        async for node in self._nodes_of_space(space):
            self.nodes[node.id] = node
            if node.parent_id is None:
                roots.append(node)
        return roots

    async def _descendants(
        self, container_id: str, kind: str, depth: int = DESCENDANT_DEPTH
    ) -> list[dict[str, Any]]:
        path = f"{V2}/{node_route(kind)}/{container_id}/descendants"
        params = {"depth": depth, "limit": MAX_IDS}
        return [item async for item in self.client.paginate(path, params)]

    # ---- CQL ----------------------------------------------------------------------------------

    async def cql_hits(
        self, selection: CqlSelection, limit: Callable[[], int]
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """A query's hits one response at a time (`limit()` hits each), with the cursor that
        resumes after that response (None at the end). Cursors are taken from `_links.next`
        as Confluence wrote them, never made up."""
        cursor = selection.cursor
        while True:
            params: dict[str, Any] = {"cql": selection.cql, "limit": limit()}
            if cursor:
                params["cursor"] = cursor
            try:
                found = await self.client.get_json(CQL_SEARCH, params)
            except RequestRefusedError as exc:
                raise BadArgumentError(
                    f"Confluence refused the CQL query {selection.cql!r}: {exc.detail}"
                ) from None
            hits = list(found.get("results") or [])
            next_cursor = cursor_of((found.get("_links") or {}).get("next"))
            if next_cursor is not None and next_cursor == cursor:
                raise ConfluenceError("the search answered with the cursor it was given; stopped")
            yield hits, next_cursor if hits else None
            if not hits or next_cursor is None:
                return
            cursor = next_cursor

    # ---- labels -------------------------------------------------------------------------------

    async def label_id(self, name: str) -> str:
        """A label's id by its name, through v1 (v2 cannot look a label up by name)."""
        try:
            found = await self.client.get_json(f"{V1}/label", {"name": name, "limit": 1})
        except NotFoundError:
            raise NotFoundError(
                f"no label {name!r} on any content this user can see; check its spelling "
                "(labels are lower case) or the user's permissions"
            ) from None
        return str(found["label"]["id"])

    async def label_pages(
        self,
        label_id: str,
        space: SpaceInfo | None,
        statuses: tuple[str, ...],
        *,
        bodies: bool,
        kind: str = "page",
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The pages (or blog posts) carrying a label (in one space, or all), 250 a request."""
        params: dict[str, Any] = {"limit": MAX_IDS}
        if space is not None:
            params["space-id"] = space.id
        if bodies:
            params["body-format"] = "storage"
        path = f"{V2}/labels/{label_id}/{collection(kind)}"
        async for batch in self.client.paginate_batches(path, params):
            wanted = [raw for raw in batch if str(raw.get("status", "current")) in statuses]
            for raw in wanted:
                self.remember(raw, kind)
            yield wanted

    async def labels_of_space(self, space: SpaceInfo, kind: str = "page") -> Labels:
        """Labels of a space's pages (or blog posts) in bulk: the labels in use, then each
        label's pages."""
        if (space.id, kind) not in self._space_labels:
            labels = await self._labels_in_use(space)
            self._space_labels[space.id, kind] = await self._pages_by_label(space, labels, kind)
        return self._space_labels[space.id, kind]

    async def labels_for(
        self, space: SpaceInfo, page_ids: list[str], kind: str = "page", *, by_page: bool = False
    ) -> Labels:
        """Labels of some pages (or blog posts) of a space, by whichever costs fewer requests:
        one request per page, or the space's labels in use and one request per label. With
        `by_page` (a few pages of a large space: a label's listing returns every page of the
        space carrying it, a point each), one request per page."""
        if (space.id, kind) in self._space_labels:
            return self._space_labels[space.id, kind]
        if len(page_ids) == 1:
            return {page_ids[0]: await self._labels_of_page(page_ids[0], kind)}
        labels = [] if by_page else await self._labels_in_use(space)
        if by_page or len(labels) >= len(page_ids):
            found = await asyncio.gather(*(self._labels_of_page(i, kind) for i in page_ids))
            return dict(zip(page_ids, found, strict=True))
        self._space_labels[space.id, kind] = await self._pages_by_label(space, labels, kind)
        return self._space_labels[space.id, kind]

    async def labels_of_pages(
        self, pages: list[tuple[str, str]], kind: str = "page", *, by_page: bool = False
    ) -> Labels:
        """Labels of (space id, page id) pairs, space by space (see `labels_for`)."""
        by_space: dict[str, list[str]] = {}
        for space_id, page_id in pages:
            by_space.setdefault(space_id, []).append(page_id)
        labels: Labels = {}
        for space_id, page_ids in by_space.items():
            space = await self.space_by_id(space_id)
            labels.update(await self.labels_for(space, page_ids, kind, by_page=by_page))
        return labels

    async def _labels_in_use(self, space: SpaceInfo) -> list[dict[str, Any]]:
        if space.id not in self._labels_in_space:
            path = f"{V2}/spaces/{space.id}/content/labels"
            found = [raw async for raw in self.client.paginate(path, {"limit": MAX_IDS})]
            self._labels_in_space[space.id] = found
        return self._labels_in_space[space.id]

    async def _pages_by_label(
        self, space: SpaceInfo, labels: list[dict[str, Any]], kind: str
    ) -> Labels:
        async def pages_of(label: dict[str, Any]) -> list[str]:
            params = {"space-id": space.id, "limit": MAX_IDS}
            path = f"{V2}/labels/{label['id']}/{collection(kind)}"
            return [str(page["id"]) async for page in self.client.paginate(path, params)]

        by_page: dict[str, list[str]] = {}
        found = await asyncio.gather(*(pages_of(label) for label in labels))
        for label, page_ids in zip(labels, found, strict=True):
            for page_id in page_ids:
                by_page.setdefault(page_id, []).append(str(label["name"]))
        return {page_id: tuple(sorted(names)) for page_id, names in by_page.items()}

    async def _labels_of_page(self, page_id: str, kind: str) -> tuple[str, ...]:
        path = f"{V2}/{collection(kind)}/{page_id}/labels"
        names = [str(label["name"]) async for label in self.client.paginate(path, {"limit": 250})]
        return tuple(sorted(names))

    # ---- records ------------------------------------------------------------------------------

    def record(
        self, raw: dict[str, Any], space: SpaceInfo, labels: Labels, kind: str = "page"
    ) -> PageRecord:
        record = page_record(raw, space, self.ancestors_of(str(raw["id"])), kind)
        record.labels = labels.get(record.id, ())
        return record


def _shown(item: dict[str, Any], statuses: tuple[str, ...]) -> bool:
    """A node that is not a page is shown whatever the statuses asked for; a page only in one
    of them."""
    return item.get("type") in NODE_KINDS or str(item.get("status", "current")) in statuses


def _position(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("inf")


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
