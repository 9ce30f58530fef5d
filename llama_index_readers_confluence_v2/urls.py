"""Every Confluence Cloud URL form, page id and tiny link, turned into a selection (pure)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote_plus, urlsplit

from .errors import BadArgumentError, BadURLError

MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class PageSelection:
    page_id: str


@dataclass(frozen=True)
class FolderSelection:
    """A folder, or another tree node pages sit beneath (a whiteboard, database or embed),
    with everything beneath it."""

    folder_id: str


@dataclass(frozen=True)
class SpaceSelection:
    space_key: str


@dataclass(frozen=True)
class TitleSelection:
    """A legacy `/display/KEY/Title` link: resolved by title within the space."""

    space_key: str
    title: str


@dataclass(frozen=True)
class InstanceSelection:
    """The whole site: every space the user can read."""


@dataclass(frozen=True)
class BlogPostSelection:
    post_id: str


@dataclass(frozen=True)
class CqlSelection:
    """What a CQL query matches (pages and blog posts), from `cursor` on."""

    cql: str
    cursor: str | None = None


@dataclass(frozen=True)
class LabelSelection:
    """Pages carrying any of the labels, in one space or (no key) in the whole site."""

    labels: tuple[str, ...]
    space_key: str | None = None


Selection = (
    PageSelection
    | FolderSelection
    | SpaceSelection
    | TitleSelection
    | InstanceSelection
    | LabelSelection
    | BlogPostSelection
    | CqlSelection
)


def typed_kind(text: str) -> str:
    """What a user typed, without reading it further: "address" (it has a scheme), "id" (a
    content id: digits) or "key" (a space key)."""
    text = text.strip()
    if "://" in text:
        return "address"
    return "id" if text.isdigit() else "key"


def classify(text: object, base_url: str) -> Selection:
    """What a user typed into a front end, as a selection: a site, space, page, folder, blog
    post or tiny-link address; a page (or folder) id; or a space key."""
    if not isinstance(text, str) or not text.strip():
        raise BadArgumentError("enter a site, space or page address, a space key or a page id")
    text = text.strip()
    kind = typed_kind(text)
    if kind == "address":
        return parse_url(text, base_url)
    if kind == "id":
        return PageSelection(parse_page_id(text))
    return SpaceSelection(text)


def blog_post_url(base_url: str, space_key: str, post_id: str) -> str:
    """The short address of a blog post (what `parse_url` reads back as that post)."""
    return f"{base_url}/spaces/{space_key}/blog/{post_id}"


def split_url(url: str) -> SplitResult:
    """`urlsplit`, with its ValueErrors (bad brackets, bad ports) as BadURLError."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise BadURLError(f"{url[:200]!r} is not a valid URL ({exc})") from None
    return parts


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_scheme(url: str, what: str) -> None:
    """`https://` everywhere; `http://` only for loopback hosts (tests, the emulator)."""
    parts = split_url(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return
    raise BadURLError(
        f"{what} must be an https:// URL (http:// is accepted only for loopback hosts); "
        f"got {redact_url(url)!r}"
    )


def redact_url(url: str) -> str:
    """The URL without user info or query string, safe to put in a message."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return url[:200]
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url[:200]


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def normalize_base_url(base_url: str) -> str:
    """`https://SITE.atlassian.net[/wiki][/]` -> `https://SITE.atlassian.net/wiki`."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise BadArgumentError(
            "base_url is required: pass your site's address, e.g. "
            "base_url='https://your-site.atlassian.net/wiki' (or set CONFLUENCE_BASE_URL)"
        )
    check_scheme(base_url.strip(), "base_url")
    parts = split_url(base_url.strip())
    if parts.username or parts.password:
        raise BadURLError("base_url must not carry credentials; pass user_name and api_token")
    origin = f"{parts.scheme}://{parts.netloc.lower()}"
    return origin + "/wiki"


def site_origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def parse_page_id(value: object, what: str = "page id") -> str:
    """An id as str or int (64-bit), returned as the canonical decimal string."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadArgumentError(
            f"{what} must be a number or a string of digits, e.g. '123456'; got {type(value).__name__}"
        )
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise BadArgumentError(_bad_id(what, text) + ". To import by address, pass url=... instead")
    return str(int(text))


def _bad_id(what: str, text: str) -> str:
    return f"{what} must be a positive 64-bit number such as '123456'; got {text[:40]!r}"


def tiny_to_id(tiny: str) -> int:
    """Decode a `/x/TINY` code: the id's little-endian bytes in Confluence's base64 variant."""
    if not tiny or len(tiny) > 11 or not re.fullmatch(r"[A-Za-z0-9_\-]+", tiny):
        raise BadURLError(f"{tiny!r} is not a Confluence tiny link code")
    padded = tiny.replace("-", "/").replace("_", "+").ljust(11, "A") + "="
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadURLError(f"{tiny!r} is not a Confluence tiny link code") from exc
    page_id = int.from_bytes(raw[:8], "little")
    if not 0 < page_id <= MAX_ID:
        raise BadURLError(f"tiny link {tiny!r} does not decode to a page id")
    return page_id


def id_to_tiny(page_id: int) -> str:
    encoded = base64.b64encode(int(page_id).to_bytes(8, "little")).decode()
    return encoded.replace("/", "-").replace("+", "_").rstrip("=").rstrip("A")


_PAGE_PATH = re.compile(r"^/spaces/(?P<key>[^/]+)/pages/(?:edit-v2/|edit/)?(?P<id>\d+)(?:/.*)?$")
_BLOG_PATH = re.compile(
    r"^/spaces/[^/]+/blog/(?:\d{4}/\d{1,2}/\d{1,2}/(?P<id>\d+)(?:/.*)?|(?P<short>\d+)(?:/[^/]*)?/?)$"
)
# a folder, whiteboard, database or embed: a tree node that pages can sit beneath
_FOLDER_PATH = re.compile(
    r"^/spaces/(?P<key>[^/]+)/(?P<kind>folder|whiteboard|database|embed)/(?P<id>\d+)(?:/.*)?$"
)
_SPACE_PATH = re.compile(r"^/spaces/(?P<key>[^/]+)(?:/overview|/pages)?/?$")
_DISPLAY_PATH = re.compile(r"^/display/(?P<key>[^/]+)(?:/(?P<title>[^/]+))?/?$")
_TINY_PATH = re.compile(r"^/x/(?P<tiny>[A-Za-z0-9_\-]+)/?$")


def parse_url(url: str, base_url: str) -> Selection:
    """Turn a Confluence Cloud URL of the site at `base_url` into a selection."""
    if not isinstance(url, str) or not url.strip():
        raise BadURLError("url must be a non-empty Confluence URL")
    url = url.strip()
    parts = split_url(url)
    if not parts.scheme or not parts.netloc:
        raise BadURLError(
            f"{url[:200]!r} is not an absolute URL; pass a full address such as "
            f"{base_url}/spaces/KEY/pages/123"
        )
    if parts.netloc.lower() != urlsplit(base_url).netloc.lower():
        raise BadURLError(
            f"{redact_url(url)!r} belongs to {_host(url)!r}, not to the configured site "
            f"{_host(base_url)!r}; create a reader with base_url for that site"
        )
    path = parts.path
    if path.startswith("/wiki"):
        path = path[len("/wiki") :]
    return _selection_from_path(path or "/", parse_qs(parts.query), url)


def _id_in(url: str, value: str, what: str = "page id") -> str:
    """An id found in an address, checked: a bad one is the address's fault (BadURLError)."""
    try:
        return parse_page_id(value, what)
    except BadArgumentError:
        raise BadURLError(f"{redact_url(url)!r}: its {_bad_id(what, value)}") from None


def _selection_from_path(path: str, query: dict[str, list[str]], url: str) -> Selection:
    if path in ("/", "", "/home", "/spaces", "/spaces/"):
        return InstanceSelection()
    if path.endswith("viewpage.action") or path.endswith("resumedraft.action"):
        return _selection_from_action(query, url)
    for pattern, make in (
        (_PAGE_PATH, lambda m: PageSelection(_id_in(url, m["id"]))),
        (
            _BLOG_PATH,
            lambda m: BlogPostSelection(_id_in(url, m["id"] or m["short"], "blog post id")),
        ),
        (_FOLDER_PATH, lambda m: FolderSelection(_id_in(url, m["id"], f"{m['kind']} id"))),
        (_SPACE_PATH, lambda m: SpaceSelection(unquote_plus(m["key"]))),
        (_TINY_PATH, lambda m: PageSelection(str(tiny_to_id(m["tiny"])))),
        (_DISPLAY_PATH, _display_selection),
    ):
        match = pattern.match(path)
        if match:
            return make(match)  # type: ignore[no-untyped-call]
    raise BadURLError(
        f"{redact_url(url)!r} is not a page, blog post, space, folder, tiny link or site URL of "
        "Confluence; "
        "copy the address of a page or space from your browser"
    )


def _selection_from_action(query: dict[str, list[str]], url: str) -> Selection:
    for key in ("pageId", "draftId"):
        if query.get(key):
            return PageSelection(_id_in(url, query[key][0]))
    raise BadURLError(f"{redact_url(url)!r} has no pageId parameter")


def _display_selection(match: re.Match[str]) -> Selection:
    key = unquote_plus(match["key"])
    if not match["title"]:
        return SpaceSelection(key)
    return TitleSelection(key, unquote_plus(match["title"]))


def origin_of(url: object) -> str:
    """scheme://host:port of a URL (a str or an httpx.URL): what credentials are pinned to."""
    parts = urlsplit(str(url))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"
