"""Confluence's clock: edit times as the API writes them (`version.createdAt`), read as aware
UTC times, and the newest of several. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any


def parse_time(text: str) -> datetime:
    """`2026-01-05T09:00:00.000Z` (and other ISO forms) as an aware UTC time."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def modified_at(raw: Mapping[str, Any]) -> datetime | None:
    """When a listed page or blog post was last edited: its version's `createdAt`."""
    return edit_time((raw.get("version") or {}).get("createdAt"))


def edit_time(text: object) -> datetime | None:
    """An edit time as Confluence wrote it, or None when it is missing or unreadable."""
    try:
        return parse_time(str(text)) if text else None
    except ValueError:
        return None


def later(current: datetime | None, edited: datetime | None) -> datetime | None:
    """The newer of two edit times (None: not known)."""
    if current is None or (edited is not None and edited > current):
        return edited
    return current
