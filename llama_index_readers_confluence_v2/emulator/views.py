"""JSON shapes of the v2 API (the field names, nesting and types of the official spec)."""

from __future__ import annotations

import base64
import html
import json
import re
import struct
from datetime import datetime
from typing import Any
from urllib.parse import quote

from .model import Attachment, Content, Site, Space
from .transclusion import expanded


def tiny_code(content_id: int) -> str:
    """The `/x/CODE` of a content id, as Confluence makes it (reference section 5, TinyUrl):
    the id as 8 little-endian bytes in standard base64, `+` as `_` and `/` as `-`, with the
    trailing `=` and `A` characters dropped. Written here, not taken from the reader."""
    code = base64.standard_b64encode(struct.pack("<q", content_id)).decode("ascii")
    return code.translate(str.maketrans("+/", "_-")).rstrip("=").rstrip("A")


def slug(title: str) -> str:
    """The Cloud front end's slug: other characters become spaces, spaces become '+'."""
    cleaned = re.sub(r"[^A-Za-z0-9+\-.]", " ", title).strip()
    return re.sub(r"\++", "+", re.sub(r"\s+", "+", cleaned))


def version_json(number: int, created_at: str, author_id: str) -> dict[str, Any]:
    return {
        "createdAt": created_at,
        "message": "",
        "number": number,
        "minorEdit": False,
        "authorId": author_id,
    }


def space_json(space: Space, site: Site) -> dict[str, Any]:
    return {
        "id": space.id,
        "key": space.key,
        "name": space.name,
        "type": space.type,
        "status": space.status,
        "authorId": space.author_id,
        "createdAt": space.created_at,
        "homepageId": space.homepage_id,
        "_links": {"webui": f"/spaces/{quote(space.key)}"},
    }


def page_webui(page: Content, space: Space) -> str:
    if page.id == space.homepage_id:
        return f"/spaces/{quote(space.key)}/overview"
    suffix = slug(page.title)
    return f"/spaces/{quote(space.key)}/pages/{page.id}" + (f"/{suffix}" if suffix else "")


def blogpost_webui(post: Content, space: Space) -> str:
    """`/spaces/KEY/blog/YYYY/MM/DD/ID/Slug`, dated by its creation (as Confluence shows it)."""
    day = post.created_at[:10].replace("-", "/")
    suffix = slug(post.title)
    return f"/spaces/{quote(space.key)}/blog/{day}/{post.id}" + (f"/{suffix}" if suffix else "")


def blogpost_json(post: Content, site: Site, body_format: str | None) -> dict[str, Any]:
    """BlogPostBulk / BlogPostSingle: a page's fields without parent or position."""
    space = site.spaces[post.space_id]
    return {
        "id": post.id,
        "status": post.status,
        "title": post.title,
        "spaceId": post.space_id,
        "authorId": post.author_id,
        "createdAt": post.created_at,
        "version": version_json(post.version, post.modified_at, post.author_id),
        "body": body_json(post, site, body_format),
        "_links": {
            "webui": blogpost_webui(post, space),
            "editui": f"/pages/resumedraft.action?draftId={post.id}",
            "tinyui": f"/x/{tiny_code(int(post.id))}",
        },
    }


def page_json(
    page: Content, site: Site, body_format: str | None, account_id: str | None = None
) -> dict[str, Any]:
    space = site.spaces[page.space_id]
    return _without_none_parent(
        {
            "id": page.id,
            "status": page.status,
            "title": page.title,
            "spaceId": page.space_id,
            "parentId": page.parent_id,
            "parentType": page.parent_type,
            "position": page.position,
            "authorId": page.author_id,
            "ownerId": page.author_id,
            "lastOwnerId": None,
            "createdAt": page.created_at,
            "version": {
                **version_json(page.version, page.modified_at, page.author_id),
                "ncsStepVersion": str(page.version),  # seen in real responses, not in the spec
            },
            "body": body_json(page, site, body_format, account_id),
            "_links": {
                "webui": page_webui(page, space),
                "editui": f"/pages/resumedraft.action?draftId={page.id}",
                "edituiv2": f"/spaces/{quote(space.key)}/pages/edit-v2/{page.id}",
                "tinyui": f"/x/{tiny_code(int(page.id))}",
            },
        }
    )


def _without_none_parent(payload: dict[str, Any]) -> dict[str, Any]:
    """A space's root page has no parent: the API leaves the keys out (they are not nullable)."""
    for key in ("parentId", "parentType"):
        if payload.get(key) is None:
            payload.pop(key, None)
    return payload


def body_json(
    page: Content, site: Site, body_format: str | None, account_id: str | None = None
) -> dict[str, Any]:
    """The body in the format asked for; a rendered one (view, export_view...) as `account_id`
    sees it, included pages expanded (transclusion.py)."""
    if not body_format:
        return {}
    storage = site.body_of(page)
    if body_format == "storage":
        value = storage
    elif body_format == "atlas_doc_format":
        value = json.dumps(adf_of(storage))
    else:
        value = view_of(expanded(storage, site, page, account_id))
    return {body_format: {"representation": body_format, "value": value}}


def adf_of(storage: str) -> dict[str, Any]:
    text = html.unescape(re.sub(r"<[^>]+>", " ", storage))
    words = " ".join(text.split())
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": words}]}],
    }


def view_of(storage: str) -> str:
    """A crude rendering: macros' parameters dropped, other Confluence tags unwrapped."""
    without_params = re.sub(r"<ac:parameter[^>]*>.*?</ac:parameter>", "", storage, flags=re.S)
    without_cdata = re.sub(r"<!\[CDATA\[(.*?)\]\]>", lambda m: html.escape(m[1]), without_params)
    return re.sub(r"</?(?:ac|ri):[^>]*>", "", without_cdata)


def node_json(folder: Content, site: Site) -> dict[str, Any]:
    """A tree node that is not a page (FolderSingle, WhiteboardSingle, DatabaseSingle,
    SmartLinkSingle: the same fields, an embed adds `embedUrl`)."""
    space = site.spaces[folder.space_id]
    shown = {"embedUrl": folder.embed_url} if folder.kind == "embed" else {}
    return _without_none_parent(
        {
            **shown,
            "id": folder.id,
            "type": folder.kind,
            "status": folder.status,
            "title": folder.title,
            "parentId": folder.parent_id,
            "parentType": folder.parent_type,
            "position": folder.position,
            "authorId": folder.author_id,
            "ownerId": folder.author_id,
            # folders: epoch milliseconds (a real capture); the other kinds as the spec says
            "createdAt": _epoch_ms(folder.created_at)
            if folder.kind == "folder"
            else folder.created_at,
            "spaceId": folder.space_id,
            "version": version_json(folder.version, folder.modified_at, folder.author_id),
            "_links": {"webui": f"/spaces/{quote(space.key)}/{folder.kind}/{folder.id}"},
        }
    )


def child_page_json(page: Content) -> dict[str, Any]:
    return {
        "id": page.id,
        "status": page.status,
        "title": page.title,
        "spaceId": page.space_id,
        "childPosition": page.position,
    }


def direct_child_json(content: Content) -> dict[str, Any]:
    return {**child_page_json(content), "type": content.kind}


def descendant_json(content: Content, depth: int) -> dict[str, Any]:
    return _without_none_parent(
        {
            "id": content.id,
            "status": content.status,
            "title": content.title,
            "type": content.kind,
            "parentId": content.parent_id,
            "depth": depth,
            "childPosition": content.position,
        }
    )


def attachment_json(attachment: Attachment, site: Site) -> dict[str, Any]:
    download = (
        f"/download/attachments/{attachment.page_id}/{quote(attachment.title)}"
        f"?version={attachment.version}&modificationDate=1767600000000&cacheVersion=1&api=v2"
    )
    return {
        "id": attachment.id,
        "status": attachment.status,
        "title": attachment.title,
        "createdAt": attachment.created_at,
        "pageId": attachment.page_id,
        "mediaType": attachment.media_type,
        "mediaTypeDescription": attachment.media_type.split("/")[-1].upper(),
        "comment": attachment.comment,
        "fileId": attachment.file_id,
        "fileSize": attachment.file_size or len(site.bytes_of(attachment)),
        "webuiLink": f"/pages/viewpageattachments.action?pageId={attachment.page_id}&preview="
        + quote(f"/{attachment.page_id}/{attachment.id}/{attachment.title}"),
        "downloadLink": download,
        "version": {
            "createdAt": attachment.last_modified,
            "message": "",
            "number": attachment.version,
            "minorEdit": False,
            "authorId": attachment.author_id,
        },
        "_links": {
            "webui": f"/pages/viewpageattachments.action?pageId={attachment.page_id}",
            "download": download,
        },
    }


def label_json(name: str, site: Site) -> dict[str, Any]:
    return {"id": site.label_ids[name], "name": name, "prefix": "global"}


def _epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
