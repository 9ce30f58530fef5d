"""Ticked nodes (on the import screen, in the notebook picker) as the load calls that import
them (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import BadArgumentError
from .routes import NODE_KINDS
from .urls import blog_post_url

KINDS = ("space", *NODE_KINDS, "page", "blogpost")


@dataclass(frozen=True)
class Pick:
    """A ticked node: a whole space (by key), a folder, a page with or without its sub-pages,
    or a blog post (of `space`)."""

    kind: str  # one of KINDS
    id: str
    with_children: bool = True
    space: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS or not self.id:
            raise BadArgumentError(f"cannot import {self.kind or 'nothing'} {self.id!r}")
        if self.kind == "blogpost" and not self.space:
            raise BadArgumentError(f"blog post {self.id!r}: say which space it is in")


def load_calls(picks: Iterable[Pick], base_url: str) -> list[dict[str, Any]]:
    """The load (or sync) calls that import the picks: one per space and per folder, one for the
    pages with their sub-pages, one for the pages alone, one for the blog posts. Each is the
    arguments a user would pass, so a collection keeps one scope per call across runs."""
    picks = list(picks)
    calls: list[dict[str, Any]] = []
    calls += [{"space_key": p.id} for p in picks if p.kind == "space"]
    calls += [{"folder_id": p.id} for p in picks if p.kind in NODE_KINDS]
    posts = [blog_post_url(base_url, p.space, p.id) for p in picks if p.kind == "blogpost"]
    if posts:
        calls.append({"url": posts})
    for with_children in (True, False):
        ids = [p.id for p in picks if p.kind == "page" and p.with_children == with_children]
        if ids:
            calls.append({"page_ids": ids, "include_children": with_children})
    if not calls:
        raise BadArgumentError("tick at least one space, folder or page, then Add selected")
    return calls
