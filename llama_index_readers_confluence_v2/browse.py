"""Browsing before importing: spaces of a site, the page tree of a space, page or folder.

Trees come from the same request-optimal listings as imports (no bodies): a space's pages 250
a request plus its folders, or a page's descendants 5 levels a request.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field

from .documents import BLOG, SpaceInfo
from .errors import BadArgumentError
from .routes import NODE_KINDS, blog_statuses
from .selection import LoadRequest
from .tree import SiteTree
from .walk import PagesTarget, SpaceTarget, SubtreeTarget, TargetHandler, handled, targets


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
    more_below: bool = False  # read a level at a time: there is more under it, not read yet

    @property
    def has_children(self) -> bool:
        return bool(self.children) or self.more_below

    def walk(self) -> Iterator[PageNode]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class PageTree:
    """The pages (and folders) under a space or page, printable and notebook-friendly; for a
    space, its blog posts too, apart (they are not in the page tree)."""

    title: str
    roots: list[PageNode]
    blog_posts: list[PageNode] = field(default_factory=list)
    space_key: str = ""  # a space's tree: its key (a page's or folder's: empty)

    def walk(self) -> Iterator[PageNode]:
        for root in self.roots:
            yield from root.walk()

    def page_ids(self) -> list[str]:
        return [node.id for node in self.walk() if node.kind == "page"]

    def blog_post_ids(self) -> list[str]:
        """Pass them to `load_data(url=...)` as blog post URLs, or import the space with
        `include_blog_posts=True`."""
        return [post.id for post in self.blog_posts]

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
        if self.blog_posts:
            lines.append(f"{BLOG} (blog posts, not in the page tree)")
            for index, post in enumerate(self.blog_posts):
                lines += _lines(post, "", index == len(self.blog_posts) - 1)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        items = "".join(_html(root) for root in self.roots)
        posts = "".join(_html(post) for post in self.blog_posts)
        blog = f"<strong>{BLOG}</strong><ul>{posts}</ul>" if posts else ""
        return f"<div><strong>{html.escape(self.title)}</strong><ul>{items}</ul>{blog}</div>"


def _label(node: PageNode) -> str:
    marker = f"[{node.kind.replace('blogpost', 'blog post')}] " if node.kind != "page" else ""
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
    tree: SiteTree, include_personal: bool, keywords: tuple[str, ...]
) -> list[SpaceSummary]:
    return [
        SpaceSummary(space.id, space.key, space.name, space.type)
        async for space in tree.list_spaces(include_personal, keywords)
    ]


async def page_tree(tree: SiteTree, request: LoadRequest) -> PageTree:
    """The tree of the request's first selection (a space, page or folder), without bodies."""
    return await _first_tree(tree, request, _WholeTree(tree, request.statuses))


async def first_level(tree: SiteTree, request: LoadRequest) -> PageTree:
    """Like `page_tree`, one level deep: a space's root pages and folders, or the page or
    folder with the nodes right under it; a node with more under it says so (`more_below`) and
    `level_below` reads that when it is opened. A few requests, whatever the size of the space."""
    return await _first_tree(tree, request, _FirstLevel(tree, request.statuses))


async def _first_tree(
    tree: SiteTree, request: LoadRequest, shape: TargetHandler[Awaitable[PageTree | None]]
) -> PageTree:
    async for target in targets(tree, request, bodies=False):
        shown = await handled(target, shape)
        if shown is not None:
            return shown
    raise BadArgumentError("that is the site's address: list_spaces() lists its spaces")


@dataclass(frozen=True)
class _WholeTree:
    """A space's or subtree's whole tree (pages by id have none)."""

    tree: SiteTree
    statuses: tuple[str, ...]

    async def space(self, target: SpaceTarget) -> PageTree | None:
        return await _space_tree(self.tree, target.space, self.statuses)

    async def subtree(self, target: SubtreeTarget) -> PageTree | None:
        return await _subtree(self.tree, target, self.statuses)

    async def pages(self, target: PagesTarget) -> PageTree | None:
        return None


@dataclass(frozen=True)
class _FirstLevel(_WholeTree):
    """The first level of a space's or subtree's tree."""

    async def space(self, target: SpaceTarget) -> PageTree | None:
        return await _space_level(self.tree, target.space, self.statuses)

    async def subtree(self, target: SubtreeTarget) -> PageTree | None:
        tree = self.tree
        if target.kind != "page":
            await tree.node(target.root_id, target.kind, required=True)
        known = tree.nodes[target.root_id]
        below = await level_below(tree, target.root_id, target.kind, self.statuses)
        return PageTree(known.title, [PageNode(known.id, known.title, known.kind, below)])


async def level_below(
    tree: SiteTree, node_id: str, kind: str, statuses: tuple[str, ...]
) -> list[PageNode]:
    """The pages and folders right under a page or folder, each saying whether it has more."""
    found = await tree.level_below(node_id, kind, statuses)
    return [PageNode(node.id, node.title, node.kind, more_below=more) for node, more in found]


async def _space_level(tree: SiteTree, space: SpaceInfo, statuses: tuple[str, ...]) -> PageTree:
    """Root pages and root folders (whether they hold anything is learnt when opened), and the
    space's blog posts."""
    roots = [
        PageNode(str(raw["id"]), str(raw.get("title") or ""), "page", more_below=True)
        async for batch in tree.space_pages(space, statuses, bodies=False, roots_only=True)
        for raw in batch
    ]
    folders = [
        PageNode(folder.id, folder.title, "folder", more_below=True)
        for folder in await tree.root_folders(space)
    ]
    posts = await _blog_posts(tree, space, statuses)
    return PageTree(f"{space.name} ({space.key})", roots + folders, posts, space.key)


async def _blog_posts(
    tree: SiteTree, space: SpaceInfo, statuses: tuple[str, ...]
) -> list[PageNode]:
    return [
        PageNode(str(raw["id"]), str(raw.get("title") or ""), "blogpost")
        async for batch in tree.space_pages(
            space, blog_statuses(statuses), bodies=False, kind="blogpost"
        )
        for raw in batch
    ]


async def _space_tree(tree: SiteTree, space: SpaceInfo, statuses: tuple[str, ...]) -> PageTree:
    ids = [
        str(raw["id"])
        async for batch in tree.space_pages(space, statuses, bodies=False)
        for raw in batch
    ]
    posts = await _blog_posts(tree, space, statuses)
    return PageTree(f"{space.name} ({space.key})", _assemble(tree, ids), posts, space.key)


async def _subtree(tree: SiteTree, target: SubtreeTarget, statuses: tuple[str, ...]) -> PageTree:
    if target.kind != "page":
        await tree.node(target.root_id, target.kind, required=True)
    ids = [target.root_id, *await tree.descendant_ids(target.root_id, target.kind, statuses)]
    return PageTree(tree.nodes[target.root_id].title, _assemble(tree, ids, target.root_id))


def _assemble(tree: SiteTree, page_ids: list[str], root: str | None = None) -> list[PageNode]:
    """Nodes for the pages, the other tree nodes above them (folders, whiteboards, ...) and
    empty ones among them, linked."""
    nodes_seen = tree.nodes
    members = dict.fromkeys(page_ids)
    for page_id in page_ids:
        above = nodes_seen[page_id].parent_id
        while above in nodes_seen and nodes_seen[above].kind in NODE_KINDS and above not in members:
            members[above] = None
            above = nodes_seen[above].parent_id
    grew = True
    while grew:  # folders that hold no page still belong to the tree
        extra = [
            i
            for i, n in nodes_seen.items()
            if n.kind in NODE_KINDS and i not in members and n.parent_id in members
        ]
        members.update(dict.fromkeys(extra))
        grew = bool(extra)
    nodes = {i: PageNode(i, nodes_seen[i].title, nodes_seen[i].kind) for i in members}
    roots: list[PageNode] = []
    for node_id, node in nodes.items():
        parent_id = nodes_seen[node_id].parent_id
        if node_id != root and parent_id in nodes:
            nodes[parent_id].children.append(node)
        else:
            roots.append(node)
    return roots
