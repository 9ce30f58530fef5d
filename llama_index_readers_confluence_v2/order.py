"""The one parents-first order: the pages of a space listing, each released once the page
above it has been, so that every consumer (the walk with bodies, the bodiless inventory) hands
a parent over before its children.

A space is listed 250 pages a request in id order, which is not tree order. `ParentsFirst`
takes the pages as they come: a page whose parent page was released (or whose parent is a
chain of folders (or whiteboards, databases, embeds) up to one, or who has none) is released at once, with every page that waited for
it; the others wait. Pages whose parent never comes (archived, restricted, not listed) are
released at the end, shallowest first, once their missing parents are learnt. Memory holds
only the pages still waiting.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .routes import NODE_KINDS
from .tree import SiteTree

Raw = dict[str, Any]


class ParentsFirst:
    def __init__(self, tree: SiteTree) -> None:
        self.tree = tree
        self.waiting: dict[str, list[Raw]] = {}  # parent id -> pages waiting for it
        self.released: set[str] = set()
        self.folder_children: dict[str, list[str]] = {}  # folders between released pages

    def add(self, raw: Raw) -> list[Raw]:
        """What can be released now that `raw` came: nothing, or it and what waited for it."""
        if self._parent_ready(raw):
            return self._release(raw)
        self.waiting.setdefault(str(raw["parentId"]), []).append(raw)
        return []

    async def rest(self) -> list[Raw]:
        """After the listing: the pages whose parent never came, shallowest first (parents
        before children), their missing parents learnt in batches."""
        await self.tree.learn_ancestors_of([pages[0] for pages in self.waiting.values()])
        rest: list[Raw] = []
        while self.waiting:
            depth = self.tree.ancestors_of
            missing = min(self.waiting, key=lambda i: (len(depth(i)), int(i)))
            self.released.add(missing)  # stands in the tree, but is not part of this listing
            for raw in sorted(self.waiting.pop(missing), key=lambda page: int(page["id"])):
                rest += self._release(raw)
        return rest

    def _parent_ready(self, raw: Raw) -> bool:
        """Whether every container above `raw` is released or a (known) folder chain up to
        one."""
        parent_id = raw.get("parentId")
        parent_id = None if parent_id is None else str(parent_id)
        while parent_id is not None:
            if parent_id in self.released:
                return True
            node = self.tree.nodes.get(parent_id)
            if node is None or node.kind not in NODE_KINDS:
                return False
            if node.parent_id is not None:
                siblings = self.folder_children.setdefault(node.parent_id, [])
                if parent_id not in siblings:
                    siblings.append(parent_id)
            parent_id = node.parent_id
        return True

    def _release(self, raw: Raw) -> list[Raw]:
        """`raw`, then every waiting page now reachable (parents first)."""
        released: list[Raw] = []
        queue = deque([raw])
        while queue:
            page = queue.popleft()
            released.append(page)
            self.released.add(str(page["id"]))
            containers = deque([str(page["id"])])
            while containers:
                container = containers.popleft()
                queue.extend(self.waiting.pop(container, []))
                containers.extend(self.folder_children.get(container, []))
        return released
