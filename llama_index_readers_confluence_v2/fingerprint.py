"""A page's fingerprint: what must match for a stored page to count as unchanged.

Its parts are the page's version and place (the `path`, which a rename or move of an ancestor
changes without the page's version), the digests of its attachments and comments (which change
without the page's version too) when those are imported, the pages it includes with their ids
and versions (an included page changes without the includer's version), and the digest of its
audience when permissions are. The content parts and the audience are compared apart, so that a sync can tell
a page to re-label in place from a page to fetch again.

Targets store it as text (`stored()`), versioned: `fp2:` and a JSON object. `parse` also reads
the first form, `version|path|files:…|comments:…` with `\\x1faudience:…` after it, so that
collections written before the format changed still sync without fetching anything again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

PREFIX = "fp2:"
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
LEGACY_AUDIENCE = "\x1faudience:"  # no title or id holds a unit separator
_LEGACY_DIGEST = re.compile(r"\|(?P<kind>files|comments):(?P<hex>[0-9a-f]{16})$")


@dataclass(frozen=True)
class Fingerprint:
    version: str  # the page's version number, as text ("" when the API gave none)
    path: str  # "<space name> > <ancestor titles> > <title>", as in the `path` metadata
    files: str | None = None  # the attachments' digest, when attachments are imported
    comments: str | None = None  # the comments' digest, when comments are imported
    audience: str | None = None  # the audience's digest, when permissions are imported
    # the pages it includes: (space key, title, id, version), id "" for one not found
    includes: tuple[tuple[str, str, str, str], ...] = ()

    @classmethod
    def of(
        cls,
        version: object,
        path: str,
        *,
        files: str | None = None,
        comments: str | None = None,
        audience: str | None = None,
        includes: tuple[tuple[str, str, str, str], ...] = (),
    ) -> Fingerprint:
        text = "" if version is None else str(version)
        return cls(text, path, files, comments, audience, tuple(sorted(includes)))

    def stored(self) -> str:
        """The text a target keeps."""
        parts: dict[str, Any] = {"version": self.version, "path": self.path}
        for name in ("files", "comments", "audience"):
            if getattr(self, name) is not None:
                parts[name] = getattr(self, name)
        if self.includes:
            parts["includes"] = [list(target) for target in self.includes]
        return PREFIX + _ENCODER.encode(parts)

    @classmethod
    def parse(cls, text: str | None) -> Fingerprint | None:
        """A stored fingerprint, of either form; None for nothing or for text of neither form
        (the page is then fetched again, which is always safe)."""
        if not text:
            return None
        if text.startswith(PREFIX):
            return _parsed_json(text[len(PREFIX) :])
        return _parsed_legacy(text)

    def same_content(self, other: Fingerprint) -> bool:
        """Whether the page itself is unchanged (its audience aside)."""
        return self.content() == other.content()

    def content(self) -> Fingerprint:
        return replace(self, audience=None)

    def same_version(self, version: object) -> bool:
        return self.version == ("" if version is None else str(version))


def _parsed_json(text: str) -> Fingerprint | None:
    try:
        parts = json.loads(text)
    except ValueError:
        return None
    if not isinstance(parts, dict):
        return None
    includes = _includes_of(parts.pop("includes", []))
    if includes is None or not all(isinstance(v, str) for v in parts.values()):
        return None
    if "version" not in parts or "path" not in parts:
        return None
    return Fingerprint(
        parts["version"],
        parts["path"],
        parts.get("files"),
        parts.get("comments"),
        parts.get("audience"),
        includes,
    )


def _includes_of(value: Any) -> tuple[tuple[str, str, str, str], ...] | None:
    if not isinstance(value, list):
        return None
    found = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 4):
            return None
        if not all(isinstance(part, str) for part in item):
            return None
        found.append((item[0], item[1], item[2], item[3]))
    return tuple(sorted(found))


def _parsed_legacy(text: str) -> Fingerprint | None:
    content, _, audience = text.partition(LEGACY_AUDIENCE)
    version, separator, rest = content.partition("|")
    if not separator:
        return None
    digests: dict[str, str] = {}
    while match := _LEGACY_DIGEST.search(rest):
        digests[match["kind"]] = f"{match['kind']}:{match['hex']}"
        rest = rest[: match.start()]
    version = "" if version == "None" else version
    return Fingerprint(
        version, rest, digests.get("files"), digests.get("comments"), audience or None
    )
