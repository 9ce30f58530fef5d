"""Browsing before importing: spaces of a site, the page tree of a space, page or folder.

Trees come from the same request-optimal listings as imports (no bodies): a space's pages 250
a request plus its folders, or a page's descendants 5 levels a request.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field

from .documents import SpaceInfo
from .traversal import BATCH, V2, Walker
from .urls import (
    FolderSelection,
    InstanceSelection,
    PageSelection,
    Selection,
    SpaceSelection,
    TitleSelection,
)


@dataclass(frozen=True)
class SpaceSummary:
    id: str
    key: str
    name: str
    type: str

    def __str__(self) -> str:
        return f"{self.key:<20} {self.name}  ({self.type}, id {self.id})"


@dataclass
class PageNode:
    """A page or folder of a tree; pass `id` (pages, or folders) to `load_data(page_ids=...)`."""

    id: str
    title: str
    kind: str
    children: list[PageNode] = field(default_factory=list)

    def walk(self) -> Iterator[PageNode]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class PageTree:
    """The pages (and folders) under a space or page, printable and notebook-friendly."""

    title: str
    roots: list[PageNode]

    def walk(self) -> Iterator[PageNode]:
        for root in self.roots:
            yield from root.walk()

    def page_ids(self) -> list[str]:
        return [node.id for node in self.walk() if node.kind == "page"]

    def find(self, title: str) -> PageNode:
        """The first node whose title contains `title` (case-insensitive)."""
        wanted = title.lower()
        for node in self.walk():
            if wanted in node.title.lower():
                return node
        raise KeyError(f"no page or folder titled like {title!r} in {self.title!r}")

    def __len__(self) -> int:
        return sum(1 for _ in self.walk())

    def __str__(self) -> str:
        lines = [self.title]
        for index, root in enumerate(self.roots):
            lines += _lines(root, "", index == len(self.roots) - 1)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        items = "".join(_html(root) for root in self.roots)
        return f"<div><strong>{html.escape(self.title)}</strong><ul>{items}</ul></div>"


def _label(node: PageNode) -> str:
    marker = "[folder] " if node.kind == "folder" else ""
    return f"{marker}{node.title}  ({node.id})"


def _lines(node: PageNode, prefix: str, last: bool) -> list[str]:
    lines = [f"{prefix}{'└── ' if last else '├── '}{_label(node)}"]
    inner = prefix + ("    " if last else "│   ")
    for index, child in enumerate(node.children):
        lines += _lines(child, inner, index == len(node.children) - 1)
    return lines


def _html(node: PageNode) -> str:
    children = "".join(_html(child) for child in node.children)
    nested = f"<ul>{children}</ul>" if children else ""
    return f"<li>{html.escape(_label(node))}{nested}</li>"


async def list_spaces(
    walker: Walker, include_personal: bool, keywords: tuple[str, ...]
) -> list[SpaceSummary]:
    found: list[SpaceSummary] = []
    params = {"limit": BATCH, "status": "current"}
    async for raw in walker.client.paginate(f"{V2}/spaces", params):
        kind = str(raw.get("type") or "global")
        if kind == "personal" and not include_personal:
            continue
        summary = SpaceSummary(
            str(raw["id"]), str(raw["key"]), str(raw.get("name") or raw["key"]), kind
        )
        haystack = f"{summary.key} {summary.name}".lower()
        if keywords and not any(word.lower() in haystack for word in keywords):
            continue
        found.append(summary)
    return found


async def page_tree(walker: Walker, selection: Selection) -> PageTree:
    if isinstance(selection, SpaceSelection):
        return await _space_tree(walker, await walker.space_by_key(selection.space_key))
    if isinstance(selection, TitleSelection):
        page_id = await walker.page_id_by_title(selection.space_key, selection.title)
        return await page_tree(walker, PageSelection(page_id))
    if isinstance(selection, FolderSelection):
        return await _subtree(walker, selection.folder_id, "folder")
    if isinstance(selection, PageSelection):
        kind = (
            "page" if await walker._fetch_bodies([selection.page_id], explicit=True) else "folder"
        )
        return await _subtree(walker, selection.page_id, kind)
    assert isinstance(selection, InstanceSelection)
    raise ValueError("a site URL lists spaces: use list_spaces()")


async def _space_tree(walker: Walker, space: SpaceInfo) -> PageTree:
    params = {"limit": BATCH, "status": ",".join(walker.options.statuses), "sort": "id"}
    ids: list[str] = []
    async for batch in walker.client.paginate_batches(f"{V2}/spaces/{space.id}/pages", params):
        for raw in batch:
            walker._remember_page(raw)
            ids.append(str(raw["id"]))
        await walker._fetch_folder_parents(batch)
    return PageTree(f"{space.name} ({space.key})", _assemble(walker, ids, None))


async def _subtree(walker: Walker, root_id: str, kind: str) -> PageTree:
    if kind == "folder":
        await walker._fetch_folder(root_id, required=True)
    ids = [root_id, *await walker._descendant_page_ids(root_id, kind)]
    roots = _assemble(walker, ids, None, root_id)
    return PageTree(walker.nodes[root_id].title, roots)


def _assemble(
    walker: Walker, page_ids: list[str], parent: str | None, root: str | None = None
) -> list[PageNode]:
    """Nodes for the pages, the folders above them and empty folders among them, linked."""
    members = dict.fromkeys(page_ids)
    for page_id in page_ids:
        above = walker.nodes[page_id].parent_id
        while (
            above in walker.nodes and walker.nodes[above].kind == "folder" and above not in members
        ):
            members[above] = None
            above = walker.nodes[above].parent_id
    grew = True
    while grew:  # folders that hold no page still belong to the tree
        extra = [
            i
            for i, n in walker.nodes.items()
            if n.kind == "folder" and i not in members and n.parent_id in members
        ]
        members.update(dict.fromkeys(extra))
        grew = bool(extra)
    nodes = {i: PageNode(i, walker.nodes[i].title, walker.nodes[i].kind) for i in members}
    roots: list[PageNode] = []
    for node_id, node in nodes.items():
        parent_id = walker.nodes[node_id].parent_id
        if node_id != root and parent_id in nodes:
            nodes[parent_id].children.append(node)
        else:
            roots.append(node)
    return roots
