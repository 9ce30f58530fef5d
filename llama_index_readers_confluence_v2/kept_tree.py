"""The upper part of the content tree, kept by a sync target between runs.

A changes-only sync needs the ancestors of each changed page for its path and `ancestor_ids`.
Asked again every run (a run starts with an empty tree), they cost a third of a daily sync's
points on a 10,000-page estate. What a run learnt is kept instead: every node that is the
parent of another (pages, folders, whiteboards, databases, embeds). A kept node cannot go stale
unseen where it matters: a parent page renamed or moved has a new version, so the newest-first
listing brings it again; a renamed folder waits for the next full listing, which starts from
an empty tree and keeps what it learnt afresh.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from .documents import TreeNode


@dataclass
class KeptTree:
    """Tree nodes by id: what the last run knew (in), then what this run knows (out)."""

    nodes: dict[str, TreeNode] = field(default_factory=dict)

    def to_json(self) -> str:
        rows = [[n.id, n.title, n.kind, n.parent_id, n.parent_type] for n in self.nodes.values()]
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> KeptTree:
        """What a target stored; nothing (the run asks again) for nothing or something
        unreadable."""
        try:
            nodes = [_node(*row) for row in json.loads(text or "[]")]
        except (ValueError, TypeError):
            return cls()
        return cls({node.id: node for node in nodes if node.id and node.kind})

    def keep(self, nodes: Mapping[str, TreeNode], *, seeded: bool) -> None:
        """After a complete run: the parents among `nodes` (the run's tree), and what the run
        started from when it was seeded with it (a changes-only run sees few pages)."""
        parents = {node.parent_id for node in nodes.values()}
        kept = dict(self.nodes) if seeded else {}
        kept.update((i, node) for i, node in nodes.items() if i in parents)
        self.nodes = kept


def _node(
    node_id: object, title: object, kind: object, parent_id: object, parent_type: object
) -> TreeNode:
    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return TreeNode(str(node_id), str(title), str(kind), text(parent_id), text(parent_type))
