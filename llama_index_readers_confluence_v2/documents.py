"""The metadata contract and Document assembly (pure)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.schema import (
    Document,
    ImageDocument,
    NodeRelationship,
    ObjectType,
    RelatedNodeInfo,
)

PATH_SEPARATOR = " > "
BLOG = "Blog"  # where blog posts sit in a path: "<space> > Blog > <title>"
EXCLUDED_EMBED_KEYS = [
    "page_id",
    "space_id",
    "parent_id",
    "ancestor_ids",
    "author_id",
    "url",
    "attachment_id",
    "position",
    "version",
    "source",
    "restricted",
    "allowed_users",
    "allowed_groups",
    "anonymous",
]
EXCLUDED_LLM_KEYS = [
    "space_id",
    "parent_id",
    "ancestor_ids",
    "author_id",
    "attachment_id",
    "position",
    "allowed_users",
    "allowed_groups",
]


@dataclass(frozen=True)
class SpaceInfo:
    id: str
    key: str
    name: str
    type: str = "global"


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A page or folder as the tree knows it: enough for paths, nothing more."""

    id: str
    title: str
    kind: str
    parent_id: str | None
    parent_type: str | None = None


@dataclass
class PageRecord:
    """A page with its body and its place in the tree, ready to become a Document."""

    id: str
    title: str
    status: str
    space: SpaceInfo
    parent_id: str | None
    parent_type: str | None
    position: int | None
    version: int | None
    created_at: str | None
    last_modified: str | None
    author_id: str | None
    webui: str
    body: str
    ancestors: list[TreeNode] = field(default_factory=list)
    labels: tuple[str, ...] = ()
    content_type: str = "page"  # or "blogpost"

    @functools.cached_property
    def path(self) -> str:
        above = [node.title for node in self.ancestors]
        return page_path(self.space.name, above, self.title, self.content_type)


def page_path(space_name: str, ancestor_titles: list[str], title: str, content_type: str) -> str:
    """Where a page sits, as the `path` metadata and the fingerprint hold it: the space's name,
    its ancestors' titles root first, its own title; a blog post sits under the space's blog."""
    above = [BLOG] if content_type == "blogpost" else ancestor_titles
    return PATH_SEPARATOR.join([space_name, *above, title])


def page_record(
    raw: dict[str, Any],
    space: SpaceInfo,
    ancestors: list[TreeNode],
    content_type: str = "page",
) -> PageRecord:
    version = raw.get("version") or {}
    body = (raw.get("body") or {}).get("storage") or {}
    links = raw.get("_links") or {}
    return PageRecord(
        id=str(raw["id"]),
        title=str(raw.get("title") or ""),
        status=str(raw.get("status") or "current"),
        space=space,
        parent_id=_optional_str(raw.get("parentId")),
        parent_type=_optional_str(raw.get("parentType")),
        position=raw.get("position"),
        version=version.get("number"),
        created_at=raw.get("createdAt"),
        last_modified=version.get("createdAt") or raw.get("createdAt"),
        author_id=raw.get("authorId"),
        webui=str(links.get("webui") or f"/spaces/{space.key}/pages/{raw['id']}"),
        body=str(body.get("value") or ""),
        ancestors=ancestors if content_type == "page" else [],
        content_type=content_type,
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def page_url(base_url: str, record: PageRecord) -> str:
    return base_url + record.webui


def page_metadata(record: PageRecord, base_url: str) -> dict[str, Any]:
    """Flat scalar metadata, as every vector store accepts."""
    return {
        "title": record.title,
        "page_id": record.id,
        "status": record.status,
        "url": page_url(base_url, record),
        "space_key": record.space.key,
        "space_id": record.space.id,
        "space_name": record.space.name,
        "parent_id": record.parent_id,
        "parent_type": record.parent_type,
        "ancestor_ids": ",".join(node.id for node in record.ancestors),
        "path": record.path,
        "depth": len(record.ancestors),
        "position": record.position,
        "version": record.version,
        "created_at": record.created_at,
        "last_modified": record.last_modified,
        "author_id": record.author_id,
        "labels": ",".join(record.labels),
        "content_type": record.content_type,
        "source": "confluence",
    }


def page_document(record: PageRecord, markdown: str, base_url: str) -> Document:
    text = f"# {record.title}\n\n{markdown}".rstrip() + "\n"
    return Document(
        id_=record.id,
        text=text,
        metadata=page_metadata(record, base_url),
        excluded_embed_metadata_keys=list(EXCLUDED_EMBED_KEYS),
        excluded_llm_metadata_keys=list(EXCLUDED_LLM_KEYS),
    )


def image_document(
    record: PageRecord,
    base_url: str,
    *,
    attachment_id: str,
    file_name: str,
    alt: str,
    url: str,
    image_base64: str,
    mimetype: str,
    width: int | None,
    height: int | None,
) -> ImageDocument:
    """An embedded image, linked to its page (PARENT) and carrying the page's place in the tree."""
    metadata = {
        "content_type": "image",
        "attachment_id": attachment_id,
        "file_name": file_name,
        "media_type": mimetype,
        "width": width,
        "height": height,
        "alt": alt,
        "url": url,
        **carried_from_page(record, base_url),
    }
    return ImageDocument(
        id_=attachment_id,
        image=image_base64,
        image_mimetype=mimetype,
        image_url=None,
        text=alt or file_name,
        metadata=metadata,
        excluded_embed_metadata_keys=[*EXCLUDED_EMBED_KEYS, "page_url"],
        excluded_llm_metadata_keys=list(EXCLUDED_LLM_KEYS),
        relationships=_child_of(record),
    )


def carried_from_page(record: PageRecord, base_url: str) -> dict[str, Any]:
    """What an image or attached file carries of its page."""
    page = page_metadata(record, base_url)
    keys = ("page_id", "title", "space_key", "path")
    return {**{key: page[key] for key in keys}, "page_url": page["url"], "source": "confluence"}


def _child_of(record: PageRecord) -> dict[NodeRelationship, RelatedNodeInfo]:
    return {
        NodeRelationship.PARENT: RelatedNodeInfo(node_id=record.id, node_type=ObjectType.DOCUMENT)
    }


def attachment_document(
    record: PageRecord,
    base_url: str,
    *,
    attachment_id: str,
    file_name: str,
    media_type: str,
    file_size: int | None,
    version: int | None,
    url: str,
    text: str,
) -> Document:
    """An attached file's text, linked to its page (PARENT) and carrying the page's place."""
    page = carried_from_page(record, base_url)
    metadata = {
        "content_type": "attachment",
        "attachment_id": attachment_id,
        "file_name": file_name,
        "media_type": media_type,
        "file_size": file_size,
        "version": version,
        "url": url,
        **page,
    }
    heading = f'# {file_name}\n\nAttached to the page "{record.title}" ({page["path"]}).\n\n'
    return Document(
        id_=attachment_id,
        text=heading + text.strip() + "\n",
        metadata=metadata,
        excluded_embed_metadata_keys=[*EXCLUDED_EMBED_KEYS, "page_url", "file_size"],
        excluded_llm_metadata_keys=list(EXCLUDED_LLM_KEYS),
        relationships=_child_of(record),
    )
