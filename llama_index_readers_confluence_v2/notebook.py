"""The picker in a notebook: a space's (or page's) tree with checkboxes, as ipywidgets.

    picker = reader.picker("https://your-site.atlassian.net/wiki/spaces/ENG")
    picker                                   # the tree: tick pages, folders, "with sub-pages"
    documents = reader.load_data(**picker.selection)

Children are drawn when their node is opened, so a large space shows at once. `selection` names
every ticked page (with its sub-pages when that box is ticked, and every page of a ticked
folder) as `page_ids`, and ticked blog posts as `url`s: what `load_data` takes.
"""

from __future__ import annotations

import html
from typing import Any

from .browse import PageNode, PageTree
from .errors import BadArgumentError
from .extras import require
from .routes import NODE_KINDS
from .urls import blog_post_url

INDENT = 22  # pixels a level


def widgets() -> Any:
    """ipywidgets, or how to install it."""
    return require("ipywidgets", "notebook", "the notebook picker")


class NodeRow:
    """One node's widgets: open button, tick, "with sub-pages", and its children once opened."""

    def __init__(self, node: PageNode, level: int) -> None:
        ui = widgets()
        self.node = node
        self.level = level
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
        if not self.node.children:
            return [self.ticked]
        if self.node.kind == "page":
            return [self.opener, self.ticked, self.with_children]
        return [self.opener, self.ticked]

    def toggle(self) -> None:
        if self.children is None:
            self.children = [NodeRow(child, self.level + 1) for child in self.node.children]
            self.box.children = [row.widget for row in self.children]
            self.opener.description = "▾"
            return
        opened = self.box.layout.display != "none"
        self.box.layout.display = "none" if opened else None
        self.opener.description = "▸" if opened else "▾"

    def picked(self, covered: bool = False) -> tuple[list[str], list[str]]:
        """(page ids, blog post ids) ticked here and below; `covered`: an ancestor's tick
        takes this whole subtree in."""
        whole = covered or (
            self.ticked.value and (self.node.kind in NODE_KINDS or self.with_children.value)
        )
        pages: list[str] = []
        posts: list[str] = []
        if covered or self.ticked.value:
            (posts if self.node.kind == "blogpost" else pages).append(self.node.id)
        if whole:
            pages += [n.id for child in self.node.children for n in child.walk()]
        elif self.children is not None:
            for row in self.children:
                below_pages, below_posts = row.picked()
                pages += below_pages
                posts += below_posts
        return pages, posts


class Picker:
    """A tree to tick, and the `load_data` arguments for what is ticked."""

    def __init__(self, tree: PageTree, site: str) -> None:
        ui = widgets()
        self.tree = tree
        self.site = site
        self.rows = [NodeRow(node, 0) for node in [*tree.roots, *tree.blog_posts]]
        title = ui.HTML(f"<strong>{html.escape(tree.title)}</strong>")
        self.widget = ui.VBox([title, *(row.widget for row in self.rows)])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # shown as the widget in a notebook
        return self.widget._repr_mimebundle_(**kwargs)

    def page_ids(self) -> list[str]:
        """The ticked pages (folders stand for the pages in them), in tree order, once each."""
        return self._picked()[0]

    @property
    def selection(self) -> dict[str, Any]:
        """What is ticked, as `load_data` arguments: `page_ids` (and blog post `url`s)."""
        pages, posts = self._picked()
        if not pages and not posts:
            raise BadArgumentError("tick at least one page, folder or blog post in the picker")
        chosen: dict[str, Any] = {}
        if pages:
            chosen["page_ids"] = pages
        if posts:
            chosen["url"] = [blog_post_url(self.site, self.tree.space_key, i) for i in posts]
        return chosen

    def _picked(self) -> tuple[list[str], list[str]]:
        pages: list[str] = []
        posts: list[str] = []
        for row in self.rows:
            below_pages, below_posts = row.picked()
            pages += below_pages
            posts += below_posts
        folders = {n.id for n in self.tree.walk() if n.kind in NODE_KINDS}
        return [i for i in dict.fromkeys(pages) if i not in folders], list(dict.fromkeys(posts))
