"""The picker in a notebook: a site's spaces, or a space's (or page's) tree with checkboxes, as
ipywidgets, read a level at a time as the import screen is.

    picker = reader.picker("https://your-site.atlassian.net/wiki/spaces/ENG")
    picker                                   # the tree: tick pages, folders, "with sub-pages"
    documents = picker.load()                # or: for call in picker.selections: load_data(**call)

A node's children are read when it is opened (one request), so a space of any size shows at
once. What is ticked becomes the same load calls as on the screen (picks.load_calls): a ticked
space, folder (or whiteboard, database, embed) or page with its sub-pages takes everything
beneath it, read at import time; `selection` gives the arguments of `load_data` when one call
covers the ticks.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from llama_index.core.schema import Document

from .browse import PageNode
from .errors import BadArgumentError
from .extras import require
from .picks import Pick, load_calls

INDENT = 22  # pixels a level
Opener = Callable[[PageNode], list[PageNode]]  # the nodes right under one, read when opened


def widgets() -> Any:
    """ipywidgets, or how to install it."""
    return require("ipywidgets", "notebook", "the notebook picker")


class NodeRow:
    """One node's widgets: open button, tick, "with sub-pages", and its children once opened."""

    def __init__(self, node: PageNode, level: int, opener: Opener, space_key: str = "") -> None:
        ui = widgets()
        self.node = node
        self.level = level
        self.opener_of = opener
        self.space_key = space_key  # a blog post's space
        kind = "" if node.kind == "page" else f" [{node.kind.replace('blogpost', 'blog post')}]"
        self.ticked = ui.Checkbox(value=False, description=f"{node.title}{kind}", indent=False)
        self.with_children = ui.Checkbox(value=True, description="with sub-pages", indent=False)
        self.opener = ui.Button(description="▸", layout=ui.Layout(width="32px"))
        self.opener.on_click(lambda _: self.toggle())
        self.children: list[NodeRow] | None = None
        self.box = ui.VBox([])
        self.row = ui.HBox(self._row_items(), layout=ui.Layout(margin=f"0 0 0 {level * INDENT}px"))
        self.widget = ui.VBox([self.row, self.box])

    def _row_items(self) -> list[Any]:
        if not self.node.has_children:
            return [self.ticked]
        if self.node.kind == "page":
            return [self.opener, self.ticked, self.with_children]
        return [self.opener, self.ticked]

    def toggle(self) -> None:
        if self.children is None:
            below = self.node.children or self.opener_of(self.node)  # read when first opened
            space_key = self.node.id if self.node.kind == "space" else self.space_key
            self.children = [
                NodeRow(child, self.level + 1, self.opener_of, space_key) for child in below
            ]
            self.box.children = [row.widget for row in self.children]
            self.opener.description = "▾"
            return
        opened = self.box.layout.display != "none"
        self.box.layout.display = "none" if opened else None
        self.opener.description = "▸" if opened else "▾"

    def picks(self) -> list[Pick]:
        """What is ticked here and below, as the screen's picks: a tick that covers its subtree
        stands for everything beneath it."""
        node = self.node
        if self.ticked.value:
            if node.kind == "blogpost":
                return [Pick("blogpost", node.id, space=self.space_key)]
            whole = node.kind != "page" or self.with_children.value
            own = [Pick(node.kind, node.id, with_children=whole)]
            return own if whole else own + self._below()
        return self._below()

    def _below(self) -> list[Pick]:
        return [pick for row in self.children or [] for pick in row.picks()]


class Picker:
    """A tree to tick, and the load calls for what is ticked."""

    def __init__(
        self,
        title: str,
        nodes: list[PageNode],
        site: str,
        opener: Opener,
        load: Callable[..., list[Document]],
        space_key: str = "",
    ) -> None:
        ui = widgets()
        self.site = site
        self._load = load
        self.rows = [NodeRow(node, 0, opener, space_key) for node in nodes]
        heading = ui.HTML(f"<strong>{html.escape(title)}</strong>")
        self.widget = ui.VBox([heading, *(row.widget for row in self.rows)])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # shown as the widget in a notebook
        return self.widget._repr_mimebundle_(**kwargs)

    def picks(self) -> list[Pick]:
        return [pick for row in self.rows for pick in row.picks()]

    @property
    def selections(self) -> list[dict[str, Any]]:
        """What is ticked, as `load_data` calls (one per space, folder, ...: as on the screen)."""
        picks = self.picks()
        if not picks:
            raise BadArgumentError("tick at least one page, folder or blog post in the picker")
        return load_calls(picks, self.site)

    @property
    def selection(self) -> dict[str, Any]:
        """What is ticked as one `load_data` call's arguments, when one call covers it."""
        calls = self.selections
        if len(calls) > 1:
            raise BadArgumentError(
                f"what is ticked takes {len(calls)} load calls (spaces, folders and pages with "
                "and without sub-pages): use picker.load(), or load_data(**call) for each of "
                "picker.selections"
            )
        return calls[0]

    def load(self, **options: Any) -> list[Document]:
        """Import what is ticked (`options`: include_attachments=..., and the other load
        options), every call's documents in one list."""
        return [doc for call in self.selections for doc in self._load(**call, **options)]
