"""Serve captured real pages as a space: bodies, titles and hierarchy from the captures.

A corpus folder holds one folder per page with `storage.xhtml` and `meta.json` (title, id,
ancestor ids), and where captured `ancestors.v1.json` (ancestor titles) and
`attachments.v1.json` (the page's attachments). Ancestors that were not captured stand in the
tree with their captured titles, or as "Page <id>".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .generator import USERS, attachment_bytes
from .model import Site


def corpus_site(
    folder: str | Path, space_key: str = "QM", space_name: str = "QueryPie Docs"
) -> Site:
    pages = [
        _read(path) for path in sorted(Path(folder).iterdir()) if (path / "meta.json").exists()
    ]
    titles = {page["id"]: page["title"] for page in pages}
    for page in pages:
        titles.update({k: v for k, v in page["ancestor_titles"].items() if k not in titles})
    site = Site()
    alice = site.add_account(*USERS[0])
    site.add_account(*USERS[1])
    site.body_factory = lambda content: "<p></p>"
    site.bytes_factory = attachment_bytes
    space = site.add_space(space_key, space_name, author_id=alice.account_id)
    parents: dict[str, str | None] = {}
    for page in pages:  # chains first, then each captured page's own parent wins
        chain = page["ancestors"]
        for depth, ancestor in enumerate(chain):
            parents.setdefault(ancestor, chain[depth - 1] if depth else None)
    for page in pages:
        parents[page["id"]] = (
            page["ancestors"][-1] if page["ancestors"] else parents.get(page["id"])
        )
    by_id = {page["id"]: page for page in pages}
    for content_id in sorted(parents, key=lambda i: (_depth(i, parents), int(i))):
        captured = by_id.get(content_id)
        content = site.add_content(
            space,
            titles.get(content_id, f"Page {content_id}"),
            parents[content_id],
            content_id=content_id,
            body=captured["storage"] if captured else None,
        )
        for attachment in captured["attachments"] if captured else []:
            media_type = str(
                attachment.get("metadata", {}).get("mediaType") or "application/octet-stream"
            )
            kind = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif"}.get(
                media_type, "pdf"
            )
            site.add_attachment(content, attachment["title"], media_type, kind)
    return site


def _depth(content_id: str, parents: dict[str, str | None]) -> int:
    depth, parent = 0, parents.get(content_id)
    while parent is not None and depth < 100:
        depth, parent = depth + 1, parents.get(parent)
    return depth


def _read(path: Path) -> dict[str, Any]:
    meta = json.loads((path / "meta.json").read_text())
    page_file = path / "page.v2.json"
    captured_page = json.loads(page_file.read_text()) if page_file.exists() else {}
    if not meta.get("ancestors") and captured_page.get("parentId"):  # a capture without its chain
        meta["ancestors"] = [captured_page["parentId"]]
    ancestors_file = path / "ancestors.v1.json"
    attachments_file = path / "attachments.v1.json"
    captured = json.loads(ancestors_file.read_text())["results"] if ancestors_file.exists() else []
    return {
        "id": str(meta["id"]),
        "title": meta["title"],
        "ancestors": [str(a) for a in meta.get("ancestors", [])],
        "ancestor_titles": {str(a["id"]): a["title"] for a in captured},
        "attachments": json.loads(attachments_file.read_text())["results"]
        if attachments_file.exists()
        else [],
        "storage": (path / "storage.xhtml").read_text(),
    }
