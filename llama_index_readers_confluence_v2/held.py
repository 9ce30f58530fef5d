"""What a sync target holds, as a run reads it: the stored fingerprints of pages and
attachments, the watermark, the tree it kept, and how it wants files handed over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .attachments import fingerprint_at_version
from .fingerprint import Fingerprint
from .kept_tree import KeptTree


@dataclass(frozen=True)
class Held:
    """What a sync target holds (page and attachment fingerprints) and wants (original files)."""

    pages: Mapping[str, Fingerprint | None] = field(default_factory=dict)
    attachments: Mapping[str, str] = field(default_factory=dict)
    original_files: frozenset[str] = frozenset()
    relabel: bool = False  # the target re-labels documents in place
    since: datetime | None = None  # list only what changed since (recent.py)
    stores: bool = True  # False: a plain load, no target to store fingerprints for
    tree: KeptTree | None = None  # the tree the target kept: read, then rewritten by the run
    # a full listing that takes held pages' attachments as they were, save those changed since
    files_since: datetime | None = None

    def holds_version(self, attachment_id: str, version: object) -> bool:
        """Whether the target holds this attachment at this version (an image or file it made
        a document of; others are not held)."""
        return fingerprint_at_version(self.attachments.get(attachment_id, ""), version)

    @classmethod
    def parsed(cls, pages: Mapping[str, str], **rest: Any) -> Held:
        """From the texts a target stored; a fingerprint of no known form is None (fetched
        again)."""
        return cls({page_id: Fingerprint.parse(text) for page_id, text in pages.items()}, **rest)
