"""Confluence storage format (XHTML with `ac:`/`ri:` elements) to Markdown (pure).

The body is parsed with BeautifulSoup's `html.parser`, which keeps the namespaced tags by their
literal (lower-cased) names, keeps CDATA intact and decodes HTML entities. A block renderer walks
the tree; inline content is gathered into paragraphs. Malformed input never raises and loses no
text: an element left unclosed swallows what follows it into its children, so before rendering,
children an element may not hold (a paragraph inside a code macro's body, text inside a file
reference) are moved out to stand after it (`_repair`); an element that cannot be rendered falls
back to its plain text and a warning is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import quote

from bs4 import BeautifulSoup
from bs4.element import (
    CData,
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    PageElement,
    ProcessingInstruction,
    Tag,
)

logger = logging.getLogger(__name__)

_BREAK = "\x00"  # a hard line break inside inline text, kept through whitespace folding

BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "blockquote",
        "pre",
        "hr",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "aside",
        "figure",
        "figcaption",
        "dl",
        "dt",
        "dd",
        "details",
        "summary",
        "ac:layout",
        "ac:layout-section",
        "ac:layout-cell",
        "ac:task-list",
        "ac:rich-text-body",
        "ac:adf-extension",
        "ac:adf-fallback",
        "ac:adf-content",
        "ac:adf-node",
        "ac:caption",
        "center",
    ]
)
DROPPED_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "title",
        "meta",
        "link",
        "ac:placeholder",
        "ac:parameter",
        "ac:task-id",
        "ac:task-uuid",
        "ac:adf-attribute",
        "ac:adf-node-type",
    ]
)
INLINE_MACROS = frozenset(["status", "jira", "anchor", "emoji", "mention", "date"])
DYNAMIC_MACROS = frozenset(
    [
        "toc",
        "toc-zone",
        "children",
        "pagetree",
        "recently-updated",
        "contentbylabel",
        "livesearch",
        "pagetreesearch",
        "blog-posts",
        "space-details",
        "create-from-template",
    ]
)
CODE_MACROS = frozenset(("code", "noformat", "code-block"))
ALERT_MACROS = {"info": "NOTE", "tip": "TIP", "note": "IMPORTANT", "warning": "WARNING"}
EMOTICONS = {
    "smile": "🙂",
    "sad": "🙁",
    "cheeky": "😛",
    "laugh": "😀",
    "wink": "😉",
    "thumbs-up": "👍",
    "thumbs-down": "👎",
    "information": "ℹ️",
    "tick": "✅",
    "cross": "❌",
    "warning": "⚠️",
    "plus": "➕",
    "minus": "➖",
    "question": "❓",
    "light-on": "💡",
    "light-off": "💡",
    "yellow-star": "⭐",
    "red-star": "⭐",
    "green-star": "⭐",
    "blue-star": "⭐",
    "heart": "❤️",
    "broken-heart": "💔",
}


@dataclass(frozen=True)
class ImageReference:
    """An `ac:image` with an `ri:attachment` of the page being converted."""

    file_name: str
    alt: str
    url: str
    caption: str = ""


@dataclass(frozen=True)
class IncludeRef:
    """An `include` (the whole page) or `excerpt-include` (its excerpt, the named one when a
    name is given) macro's target: a page by space key and title."""

    space_key: str  # the including page's own space when the macro names none
    title: str
    excerpt: bool = False
    name: str = ""  # which excerpt
    panel: bool = True  # excerpt-include draws a panel titled with the page unless `nopanel`

    @property
    def key(self) -> tuple[str, str]:
        return (self.space_key, self.title)


@dataclass(frozen=True)
class IncludedPage:
    """A page another one includes, as the run fetched it."""

    id: str
    title: str
    space_key: str
    version: int | None
    storage: str


MAX_INCLUDE_DEPTH = 5  # includes within included pages followed this deep, then no further


@dataclass(frozen=True)
class ConversionContext:
    """What the converter needs to know about the page it converts (all optional)."""

    base_url: str = ""
    page_id: str = ""
    space_key: str = ""
    user_names: Mapping[str, str] = field(default_factory=dict)
    # the pages its include macros name, by (space key, title), as fetched (missing: not found
    # or not readable: nothing of them is shown); `chain` the pages being included on the way
    # here, so that a cycle ends
    included: Mapping[tuple[str, str], IncludedPage] = field(default_factory=dict)
    chain: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConvertedBody:
    markdown: str
    images: tuple[ImageReference, ...]


def attachment_url(base_url: str, page_id: str, file_name: str) -> str:
    """The browser address of a page's attachment; images and their Markdown share it."""
    return f"{base_url}/download/attachments/{page_id}/{quote(file_name)}"


def storage_to_markdown(storage: str, context: ConversionContext | None = None) -> ConvertedBody:
    """Convert a storage-format body; never raises on malformed input."""
    renderer = _Renderer(context or ConversionContext())
    try:
        soup = BeautifulSoup(storage or "", "html.parser")
        _repair(soup)
    except Exception as exc:  # html.parser is lenient, but stay total
        logger.warning("storage body could not be parsed (%s); keeping its text only", exc)
        return ConvertedBody(_fold(re.sub(r"<[^>]*>", " ", storage or "")), ())
    markdown = "\n\n".join(block for block in renderer.blocks(soup) if block.strip())
    return ConvertedBody(_tidy(markdown), tuple(renderer.images.values()))


def includes_any(storage: str) -> bool:
    """Whether a body may include another page (cheap: most bodies are not parsed again)."""
    text = storage or ""
    return "nclude" in text and bool(_INCLUDE_MACRO.search(text))


_INCLUDE_MACRO = re.compile(r'ac:name="(?:excerpt-)?include"', re.IGNORECASE)


def include_refs(storage: str, space_key: str) -> list[IncludeRef]:
    """The pages a body includes (`include`, `excerpt-include`), in order, each once (pure)."""
    if not includes_any(storage):
        return []  # most pages: no second parse
    try:
        soup = BeautifulSoup(storage, "html.parser")
    except Exception:
        return []
    refs: list[IncludeRef] = []
    for tag in soup.find_all(["ac:structured-macro", "ac:macro"]):
        ref = _include_ref(tag, space_key) if isinstance(tag, Tag) else None
        if ref is not None and ref not in refs:
            refs.append(ref)
    return refs


def _include_ref(tag: Tag, space_key: str) -> IncludeRef | None:
    name = _macro_name(tag)
    if name not in ("include", "excerpt-include"):
        return None
    target = tag.find("ri:page")
    if not isinstance(target, Tag) or not _attr(target, "ri:content-title").strip():
        return None
    params = _macro_params(tag)
    return IncludeRef(
        _attr(target, "ri:space-key").strip() or space_key,
        _attr(target, "ri:content-title").strip(),
        excerpt=name == "excerpt-include",
        name=params.get("name", ""),
        panel=params.get("nopanel", "").lower() != "true",
    )


def _excerpt_of(body: Tag, name: str) -> Tag | None:
    """The excerpt an `excerpt-include` shows: the one of that name, else the first."""
    excerpts = [
        tag
        for tag in body.find_all(["ac:structured-macro", "ac:macro"])
        if isinstance(tag, Tag) and _macro_name(tag) == "excerpt"
    ]
    chosen = next((e for e in excerpts if _macro_params(e).get("name", "") == name), None)
    if chosen is None and not name and excerpts:
        chosen = excerpts[0]
    return None if chosen is None else _child(chosen, "ac:rich-text-body")


def _tidy(markdown: str) -> str:
    """Trailing spaces and extra blank lines go, except inside code fences (kept verbatim)."""
    lines: list[str] = []
    fence = ""
    for line in markdown.split("\n"):
        opening = re.match(r"^\s*(`{3,})", line)
        if fence:
            lines.append(line)
            if opening and opening.group(1) == fence and line.strip() == fence:
                fence = ""
            continue
        if opening:
            fence = opening.group(1)
        if not line.strip() and lines and not lines[-1].strip():
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip("\n").strip()


def _fold(text: str) -> str:
    return re.sub(r"[ \t\r\n\f\v\u00a0]+", " ", text).strip()


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("`", "\\`").replace("*", "\\*")
    return re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", text)


def _attr(tag: Tag, name: str, default: str = "") -> str:
    value = tag.get(name)
    if isinstance(value, list):
        return " ".join(value)
    return value if isinstance(value, str) else default


def _name(node: PageElement) -> str:
    return node.name if isinstance(node, Tag) and node.name else ""


def _macro_name(tag: Tag) -> str:
    return _attr(tag, "ac:name").lower()


def _macro_params(tag: Tag) -> dict[str, str]:
    params: dict[str, str] = {}
    for param in tag.find_all("ac:parameter", recursive=False):
        params[_attr(param, "ac:name").lower()] = _fold(param.get_text(" "))
    return params


# What each structural element may hold; anything else inside one was swallowed by a missing
# end tag and is moved out after it. "#text" allows text, "ri:*" any resource identifier.
CONTENT_MODELS: dict[str, frozenset[str]] = {
    "ac:structured-macro": frozenset(
        ["ac:parameter", "ac:plain-text-body", "ac:rich-text-body", "ac:adf-content"]
    ),
    "ac:macro": frozenset(["ac:parameter", "ac:plain-text-body", "ac:rich-text-body"]),
    "ac:parameter": frozenset(["#text", "ri:*", "ac:link"]),
    "ac:plain-text-body": frozenset(["#text"]),
    "ac:plain-text-link-body": frozenset(["#text"]),
    "ac:image": frozenset(["ri:*", "ac:caption"]),
    "ac:link": frozenset(["ri:*", "ac:link-body", "ac:plain-text-link-body"]),
    "ac:emoticon": frozenset(),
    "time": frozenset(["#text"]),
    "ac:task-id": frozenset(["#text"]),
    "ac:task-uuid": frozenset(["#text"]),
    "ac:task-status": frozenset(["#text"]),
    "ac:task": frozenset(["ac:task-id", "ac:task-uuid", "ac:task-status", "ac:task-body"]),
    "ac:task-list": frozenset(["ac:task"]),
    "ac:placeholder": frozenset(["#text"]),
    "ri:attachment": frozenset(["ri:page", "ri:blog-post", "ri:space"]),
}
RESOURCE_MODEL: frozenset[str] = frozenset()  # other ri:* elements hold nothing


def _repair(root: Tag) -> None:
    """Move what an element may not hold out of it, to stand right after it, deepest first, so
    that what an unclosed tag swallowed is rendered where it was written."""
    for tag in reversed(root.find_all(True)):  # descendants after their ancestors: deepest first
        model = CONTENT_MODELS.get(tag.name or "")
        if model is None and (tag.name or "").startswith("ri:"):
            model = RESOURCE_MODEL
        if model is None:
            continue
        strays = [child for child in tag.children if not _allowed(child, model)]
        for stray in reversed(strays):
            tag.insert_after(stray.extract())


def _allowed(node: PageElement, model: frozenset[str]) -> bool:
    if isinstance(node, (Comment, Declaration, Doctype, ProcessingInstruction)):
        return True
    if isinstance(node, NavigableString):
        return "#text" in model or not str(node).strip()
    name = _name(node)
    return name in model or (name.startswith("ri:") and "ri:*" in model)


def _child(tag: Tag, name: str) -> Tag | None:
    found = tag.find(name, recursive=False)
    return found if isinstance(found, Tag) else None


class _Renderer:
    def __init__(self, context: ConversionContext) -> None:
        self.context = context
        self.images: dict[str, ImageReference] = {}
        self.in_table = 0
        self.open_marks: set[str] = set()  # emphasis marks the inline text is inside
        self.excerpting = False  # rendering an excerpt where it is included

    # ---- blocks -------------------------------------------------------------------------------

    def blocks(self, node: Tag) -> list[str]:
        """Render a container's children as Markdown blocks (paragraphs gathered from inline runs)."""
        out: list[str] = []
        inline: list[str] = []
        for child in node.children:
            if self._is_block(child):
                self._flush(inline, out)
                out.extend(self._safe_block(child))  # type: ignore[arg-type]
            else:
                inline.append(self.inline(child))
        self._flush(inline, out)
        return out

    def _flush(self, inline: list[str], out: list[str]) -> None:
        text = _fold("".join(inline)).replace(f" {_BREAK}", _BREAK).replace(f"{_BREAK} ", _BREAK)
        text = text.strip(_BREAK).replace(_BREAK, "<br>" if self.in_table else "\n")
        if text:
            out.append(text)
        inline.clear()

    def _is_block(self, node: PageElement) -> bool:
        name = _name(node)
        if name == "ac:structured-macro" or name == "ac:macro":
            return _macro_name(node) not in INLINE_MACROS  # type: ignore[arg-type]
        if name == "ac:image":
            return isinstance(node, Tag) and _child(node, "ac:caption") is not None
        return name in BLOCK_TAGS

    def _safe_block(self, tag: Tag) -> list[str]:
        try:
            return self.block(tag)
        except Exception as exc:
            logger.warning("could not convert <%s> (%s); keeping its text", tag.name, exc)
            text = _fold(tag.get_text(" "))
            return [_escape(text)] if text else []

    def block(self, tag: Tag) -> list[str]:
        name = tag.name or ""
        if name in DROPPED_TAGS:
            return []
        handler = self._BLOCK_HANDLERS.get(name)
        if handler is not None:
            return handler(self, tag)
        if re.fullmatch(r"h[1-6]", name):
            return self._heading(tag)
        return self.blocks(tag)

    def _heading(self, tag: Tag) -> list[str]:
        level = min(int((tag.name or "h1")[1]) + 1, 6)
        text = _fold(self.inline_children(tag).replace(_BREAK, " "))
        return [f"{'#' * level} {text}"] if text else []

    def _list(self, tag: Tag) -> list[str]:
        ordered = tag.name == "ol"
        start = int(_attr(tag, "start", "1")) if _attr(tag, "start", "1").isdigit() else 1
        items: list[str] = []
        for index, item in enumerate(tag.find_all("li", recursive=False)):
            marker = f"{start + index}. " if ordered else "- "
            items.append(self._list_item(marker, self.blocks(item)))
        for stray in tag.children:  # text or tags outside <li>, which real bodies sometimes have
            if _name(stray) not in ("li", "") and _name(stray) not in DROPPED_TAGS:
                items.append(self._list_item("- ", self.block(stray)))  # type: ignore[arg-type]
        return ["\n".join(item for item in items if item)] if items else []

    @staticmethod
    def _list_item(marker: str, blocks: list[str]) -> str:
        if not blocks:
            return ""
        indent = " " * len(marker)
        lines = "\n".join(blocks).split("\n")
        return "\n".join(
            [marker + lines[0]] + [indent + line if line else "" for line in lines[1:]]
        )

    def _task_list(self, tag: Tag) -> list[str]:
        items: list[str] = []
        for task in tag.find_all("ac:task", recursive=False):
            status = _child(task, "ac:task-status")
            done = status is not None and status.get_text().strip().lower() == "complete"
            body = _child(task, "ac:task-body")
            blocks = self.blocks(body) if body else []
            items.append(self._list_item("- [x] " if done else "- [ ] ", blocks or [""]))
        return ["\n".join(items)] if items else []

    def _blockquote(self, tag: Tag) -> list[str]:
        return [_quote("\n\n".join(self.blocks(tag)))]

    def _pre(self, tag: Tag) -> list[str]:
        return [_fence(tag.get_text(), "")]

    def _hr(self, tag: Tag) -> list[str]:
        return ["---"]

    def _table(self, tag: Tag) -> list[str]:
        rows = self._table_rows(tag)
        if not rows:
            return []
        if self.in_table:  # a nested table, flattened: cells by "; ", rows by line breaks
            return ["<br>".join("; ".join(c for c in row if c) for row in rows)]
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        lines = [_table_line(rows[0]), _table_line(["---"] * width)]
        lines.extend(_table_line(row) for row in rows[1:])
        return ["\n".join(lines)]

    def _table_rows(self, table: Tag) -> list[list[str]]:
        rows: list[list[str]] = []
        pending: dict[int, int] = {}  # column -> rows still covered by a rowspan above
        for tr in _rows_of(table):
            row: list[str] = []
            cells = _child_tags(tr, ("td", "th"))
            for cell in cells:
                while pending.get(len(row), 0) > 0:
                    pending[len(row)] -= 1
                    row.append("")
                span = _span(cell, "rowspan")
                if span > 1:
                    pending[len(row)] = span - 1
                row.append(self._cell(cell))
                row.extend([""] * (_span(cell, "colspan") - 1))
            while pending.get(len(row), 0) > 0:
                pending[len(row)] -= 1
                row.append("")
            rows.append(row)
        return rows

    def _cell(self, cell: Tag) -> str:
        self.in_table += 1
        try:
            text = "<br>".join(block.replace("\n", "<br>") for block in self.blocks(cell))
        finally:
            self.in_table -= 1
        return text.replace("|", "\\|")

    def _layout_cell(self, tag: Tag) -> list[str]:
        return self.blocks(tag)

    def _adf_extension(self, tag: Tag) -> list[str]:
        fallback = _child(tag, "ac:adf-fallback")
        if fallback is not None:
            return self.blocks(fallback)
        node = _child(tag, "ac:adf-node")
        return self.blocks(node) if node is not None else self.blocks(tag)

    def _adf_node(self, tag: Tag) -> list[str]:
        content = tag.find("ac:adf-content")
        return self.blocks(content) if isinstance(content, Tag) else []

    def _image_block(self, tag: Tag) -> list[str]:
        return [self._image(tag).replace(_BREAK, "\n")]

    # ---- macros -------------------------------------------------------------------------------

    def _macro(self, tag: Tag) -> list[str]:
        name = _macro_name(tag)
        params = _macro_params(tag)
        if name in DYNAMIC_MACROS:
            return []
        if name == "details" and params.get("hidden", "").lower() == "true":
            return []  # page properties kept for reports: Confluence does not show them
        if name == "excerpt" and params.get("hidden", "").lower() == "true" and not self.excerpting:
            return []  # shown only where it is included
        if name in ("include", "excerpt-include"):
            return self._include(tag)
        if name in CODE_MACROS:
            body = _child(tag, "ac:plain-text-body")
            code = body.get_text() if body is not None else ""
            fence = _fence(code, params.get("language", ""))
            return [f"**{_escape(params['title'])}**\n\n{fence}" if params.get("title") else fence]
        rich = _child(tag, "ac:rich-text-body")
        body_blocks = self.blocks(rich) if rich is not None else []
        if name in ALERT_MACROS or name == "panel":
            return [self._alert(name, params.get("title", ""), body_blocks)]
        if name in ("expand", "ui-expand"):
            title = params.get("title", "")
            return [f"**{_escape(title)}**", *body_blocks] if title else body_blocks
        if rich is None:
            plain = _child(tag, "ac:plain-text-body")
            text = plain.get_text() if plain is not None else ""
            return [_fence(text, "")] if text.strip() else []
        return body_blocks

    def _include(self, tag: Tag) -> list[str]:
        """The included page's body (or excerpt) where the macro stands, rendered as that page
        (its attachments are its own); nothing for a target that was not found or may not be
        read, that is already being included (a cycle), or past the depth followed."""
        context = self.context
        ref = _include_ref(tag, context.space_key)
        target = None if ref is None else context.included.get(ref.key)
        if ref is None or target is None or target.id in (context.page_id, *context.chain):
            return []
        if len(context.chain) >= MAX_INCLUDE_DEPTH:
            return []
        body = BeautifulSoup(target.storage or "", "html.parser")
        _repair(body)
        shown = _excerpt_of(body, ref.name) if ref.excerpt else body
        if shown is None:
            return []
        inner = _Renderer(
            ConversionContext(
                context.base_url,
                target.id,
                target.space_key,
                context.user_names,
                context.included,
                (*context.chain, context.page_id),
            )
        )
        inner.excerpting = ref.excerpt
        blocks = inner.blocks(shown)
        if ref.excerpt and ref.panel and blocks:
            return [_quote("\n\n".join([f"**{_escape(target.title)}**", *blocks]))]
        return blocks

    def _alert(self, name: str, title: str, body: list[str]) -> str:
        head = [f"[!{ALERT_MACROS[name]}]"] if name in ALERT_MACROS else []
        if title:
            head.append(f"**{_escape(title)}**")
        text = "\n\n".join(body)
        return _quote("\n".join([*head, text]) if head else text)

    def _inline_macro(self, tag: Tag) -> str:
        name = _macro_name(tag)
        params = _macro_params(tag)
        if name == "status":
            title = params.get("title") or params.get("colour", "")
            return f"[{_escape(title)}]" if title else ""
        if name == "jira":
            return params.get("key") or params.get("jqlquery", "")
        if name in ("emoji", "mention", "date"):
            return _escape(_fold(tag.get_text(" ")))
        return ""

    # ---- inline -------------------------------------------------------------------------------

    def inline_children(self, tag: Tag) -> str:
        return "".join(self.inline(child) for child in tag.children)

    def inline(self, node: PageElement) -> str:
        if isinstance(node, (Comment, Declaration, Doctype, ProcessingInstruction)):
            return ""
        if isinstance(node, CData):
            return _escape(str(node))
        if isinstance(node, NavigableString):
            return _escape(str(node))
        if not isinstance(node, Tag):
            return ""
        name = node.name or ""
        if name in DROPPED_TAGS:
            return ""
        if self._is_block(node):  # a block inside inline context: keep its text on a line
            return _BREAK + _BREAK.join(self._safe_block(node)).replace("\n", _BREAK) + _BREAK
        handler = self._INLINE_HANDLERS.get(name)
        return handler(self, node) if handler else self.inline_children(node)

    def _wrap(self, tag: Tag, mark: str) -> str:
        """Emphasis around the text, its edge spaces outside; none again inside the same
        emphasis (Confluence shows `<b>a <b>b</b></b>` bold once), none around nothing."""
        if mark in self.open_marks:
            return self.inline_children(tag)
        self.open_marks.add(mark)
        try:
            text = self.inline_children(tag)
        finally:
            self.open_marks.discard(mark)
        if not text.replace(_BREAK, " ").strip():
            return text
        return _around(text, lambda inner: f"{mark}{inner}{mark}")

    def _strong(self, tag: Tag) -> str:
        return self._wrap(tag, "**")

    def _em(self, tag: Tag) -> str:
        return self._wrap(tag, "*")

    def _strike(self, tag: Tag) -> str:
        return self._wrap(tag, "~~")

    def _code(self, tag: Tag) -> str:
        text = tag.get_text()
        if not text.strip():
            return text
        ticks = "``" if "`" in text else "`"
        return f"{ticks}{text}{ticks}"

    def _br(self, tag: Tag) -> str:
        return _BREAK

    def _anchor(self, tag: Tag) -> str:
        text = self.inline_children(tag)
        href = _attr(tag, "href")
        if not href or href.startswith("#") or not text.strip():
            return text
        return _around(text, lambda label: f"[{label}]({self._absolute(href)})")

    def _absolute(self, href: str) -> str:
        base = self.context.base_url
        if href.startswith("/wiki/") and base:
            return base[: -len("/wiki")] + href
        if href.startswith("/") and base:
            return base + href
        return href

    def _time(self, tag: Tag) -> str:
        return _attr(tag, "datetime") or self.inline_children(tag)

    def _emoticon(self, tag: Tag) -> str:
        fallback = _attr(tag, "ac:emoji-fallback")
        if fallback and not re.fullmatch(
            r":[\w+-]+:", fallback
        ):  # a real character, not :shortname:
            return fallback
        return EMOTICONS.get(_attr(tag, "ac:name"), "")

    def _link(self, tag: Tag) -> str:
        body = _child(tag, "ac:link-body") or _child(tag, "ac:plain-text-link-body")
        text = self.inline_children(body) if body is not None else ""
        target = next((c for c in tag.children if _name(c).startswith("ri:")), None)
        if not isinstance(target, Tag):
            return text if text.strip() else _escape(_attr(tag, "ac:anchor"))
        if not text.strip():
            return self._resource_link(target, "")
        return _around(text, lambda label: self._resource_link(target, _fold(label)))

    def _resource_link(self, target: Tag, text: str) -> str:
        kind = target.name
        if kind == "ri:user":
            account = _attr(target, "ri:account-id") or _attr(target, "ri:userkey")
            account = account or _attr(target, "ri:username")
            name = self.context.user_names.get(account, account)
            return text or f"@{_escape(name)}"
        if kind == "ri:page" or kind == "ri:blog-post":
            title = _attr(target, "ri:content-title")
            url = self._page_url(_attr(target, "ri:space-key"), title)
            label = text or _escape(title)
            return f"[{label}]({url})" if url and label else label
        if kind == "ri:attachment":
            file_name = _attr(target, "ri:filename")
            label = text or _escape(file_name)
            if self.context.page_id and self.context.base_url and file_name:
                url = attachment_url(self.context.base_url, self.context.page_id, file_name)
                return f"[{label}]({url})"
            return label
        if kind == "ri:url":
            url = _attr(target, "ri:value")
            return f"[{text or _escape(url)}]({url})" if url else text
        if kind == "ri:space":
            key = _attr(target, "ri:space-key")
            url = f"{self.context.base_url}/spaces/{quote(key)}" if self.context.base_url else ""
            return f"[{text or key}]({url})" if url else text or key
        return text

    def _page_url(self, space_key: str, title: str) -> str:
        space_key = space_key or self.context.space_key
        if not (self.context.base_url and space_key and title):
            return ""
        return f"{self.context.base_url}/display/{quote(space_key)}/{quote(title.replace(' ', '+'), safe='+')}"

    def _image(self, tag: Tag) -> str:
        alt = _meaningful_alt(_attr(tag, "ac:alt") or _attr(tag, "ac:title"))
        caption_tag = _child(tag, "ac:caption")
        caption = ""
        if caption_tag is not None:
            caption = _fold(self.inline_children(caption_tag).replace(_BREAK, " "))
        target = next((c for c in tag.children if _name(c) in ("ri:attachment", "ri:url")), None)
        if not isinstance(target, Tag):
            return caption
        markup = self._image_markup(target, alt)
        return f"{markup}{_BREAK}*{caption}*" if caption and markup else markup or caption

    def _image_markup(self, target: Tag, alt: str) -> str:
        if target.name == "ri:url":
            url = _attr(target, "ri:value")
            return f"![{_escape(alt)}]({url})" if url else ""
        file_name = _attr(target, "ri:filename")
        if not file_name:
            return ""
        if _child(target, "ri:page") is not None or _child(target, "ri:blog-post") is not None:
            return f"![{_escape(alt)}]({quote(file_name)})"  # another page's attachment
        if not (self.context.base_url and self.context.page_id):
            return f"![{_escape(alt)}]({quote(file_name)})"
        url = attachment_url(self.context.base_url, self.context.page_id, file_name)
        self.images.setdefault(file_name, ImageReference(file_name, alt, url))
        return f"![{_escape(alt)}]({url})"

    def _inline_image(self, tag: Tag) -> str:
        return self._image(tag)

    def _img(self, tag: Tag) -> str:
        src = _attr(tag, "src")
        alt = _meaningful_alt(_attr(tag, "alt"))
        return f"![{_escape(alt)}]({self._absolute(src)})" if src else ""

    def _inline_macro_tag(self, tag: Tag) -> str:
        return self._inline_macro(tag)

    _BLOCK_HANDLERS: ClassVar[dict[str, Callable[[_Renderer, Tag], list[str]]]] = {
        "ul": _list,
        "ol": _list,
        "ac:task-list": _task_list,
        "blockquote": _blockquote,
        "pre": _pre,
        "hr": _hr,
        "table": _table,
        "ac:layout-cell": _layout_cell,
        "ac:adf-extension": _adf_extension,
        "ac:adf-node": _adf_node,
        "ac:structured-macro": _macro,
        "ac:macro": _macro,
        "ac:image": _image_block,
    }
    _INLINE_HANDLERS: ClassVar[dict[str, Callable[[_Renderer, Tag], str]]] = {
        "strong": _strong,
        "b": _strong,
        "em": _em,
        "i": _em,
        "s": _strike,
        "del": _strike,
        "strike": _strike,
        "code": _code,
        "tt": _code,
        "kbd": _code,
        "br": _br,
        "a": _anchor,
        "time": _time,
        "ac:emoticon": _emoticon,
        "ac:link": _link,
        "ac:image": _inline_image,
        "img": _img,
        "ac:structured-macro": _inline_macro_tag,
        "ac:macro": _inline_macro_tag,
    }


def _around(text: str, shape: Callable[[str], str]) -> str:
    """`shape` applied to the text without its edge whitespace, which stays outside: a link or
    emphasis never swallows the space between it and the next word."""
    inner = text.strip()
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() else ""
    return f"{lead}{shape(inner)}{trail}"


def _child_tags(node: Tag, names: tuple[str, ...]) -> list[Tag]:
    return [child for child in node.children if isinstance(child, Tag) and child.name in names]


_FILE_NAME = re.compile(r"[^/\\]+\.(png|jpe?g|gif|svg|webp|bmp|tiff?)", re.IGNORECASE)


def _meaningful_alt(alt: str) -> str:
    """Confluence fills `ac:alt` with the file name when nobody wrote one: that is no alt text."""
    return "" if _FILE_NAME.fullmatch(alt.strip()) else alt.strip()


def _rows_of(table: Tag) -> list[Tag]:
    rows: list[Tag] = []
    for child in _child_tags(table, ("tr", "thead", "tbody", "tfoot")):
        rows.extend([child] if child.name == "tr" else _child_tags(child, ("tr",)))
    return rows


def _span(cell: Tag, name: str) -> int:
    value = _attr(cell, name, "1")
    return max(1, min(int(value), 100)) if value.isdigit() else 1


def _table_line(cells: list[str]) -> str:
    return "| " + " | ".join(cell.strip() for cell in cells) + " |"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def _fence(code: str, language: str) -> str:
    code = code.strip("\n")
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language.strip()}\n{code}\n{fence}"
