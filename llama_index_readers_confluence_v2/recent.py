"""The sync policy: what changed since the last sync is found without listing the whole
selection again (the watermark kept in a `Checkpoint`), and a full listing comes when it is due.

A bodiless listing of a space costs a point per page under the per-object reading of Atlassian's
quota (quota.py): 100,000 points for a 100,000-page estate, more than an hour of the default
pool. Between full listings a sync asks only for what moved past a watermark, on Confluence's own
clock (the `version.createdAt` of what it listed):

- pages and blog posts: each space's listing sorted by last edit, newest first, with bodies (a
  listing costs a point an object, bodies or not: nothing is fetched again by id), 25 a request
  (the last response is paid in full), stopped at the first one older than the watermark;
- attachments and comments, which change without their page's version: one CQL search per space
  of those modified since the watermark (`listings.touched_pages`), naming the pages to look at
  again (CQL `lastmodified` has minute precision and is read in the user's time zone, so the
  window opens 12 hours early);
- the pages under a page whose title or place changed: its descendants, bodiless;
- deletions: each space's trash (pages and blog posts `trashed` or `deleted`) and the site's
  trashed attachments, newest first, stopped at the watermark. Whether Confluence dates a move
  to the trash is unverified: where it does not, what was trashed keeps its old date, the trash
  listing stops at once, and the deletion waits for the next full listing;
- ancestors: what the last run learnt of the tree, kept by the target (kept_tree.py).

A full listing lists every page again, but takes the attachments of the pages it holds as they
were, save those changed or trashed since the watermark; every fourth full listing lists every
attachment again, for files deleted for good.

Left to the next full listing (by default every 7 days, or every run with
`include_permissions`): pages deleted for good without passing through the trash (or where the
trash is not dated), pages moved out of the selection, moves that do not make a new version,
renamed folders, deleted comments, and audiences changed by restrictions or space permissions
(none of which has a "modified since" to ask for). Files deleted for good wait for the fourth
full listing (28 days by default). Labels added or removed without an edit are not part of a
page's fingerprint: they come with the page's next edit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from .clock import parse_time
from .selection import LoadRequest
from .urls import InstanceSelection, SpaceSelection

FULL_LISTING_EVERY = timedelta(days=7)
# files deleted for good leave no trace but their absence: every fourth full listing (by
# default every 28 days) lists every attachment again; the others trust what the target holds,
# save the files changed or trashed since the watermark
FILES_LISTINGS_APART = 4
# a page edited while a listing ran may have been passed over: the next run looks back this far,
# or as long as that run took, whichever is longer
OVERLAP = timedelta(hours=1)


@dataclass(frozen=True)
class Checkpoint:
    """What a sync target keeps per scope between runs: the watermark (ISO time on Confluence's
    clock; what changed at or after it is looked at), when the last full listing started, and
    when the last one that listed every attachment did (epoch seconds, this machine's clock;
    None: never, or a checkpoint written before it was kept)."""

    since: str | None
    full_at: float
    files_at: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Checkpoint | None:
        """None for nothing stored or something unreadable: the next run lists in full."""
        try:
            raw = json.loads(text or "")
            since = raw.get("since")
            parse_time(since) if since is not None else None
            files_at = raw.get("files_at")
            return cls(since, float(raw["full_at"]), None if files_at is None else float(files_at))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def next_since(previous: str | None, latest: datetime | None, run_seconds: float) -> str | None:
    """The watermark after a complete run: the newest edit it saw, less the overlap; never
    earlier than the one it started from (which it covered)."""
    if latest is None:
        return previous
    candidate = latest - max(OVERLAP, timedelta(seconds=run_seconds))
    if previous is not None and parse_time(previous) > candidate:
        return previous
    return candidate.isoformat()


def listed_by_space(request: LoadRequest) -> bool:
    """Whether the selection is whole spaces (or the site), the selections a watermark covers.
    Others (pages, subtrees, labels, CQL) are listed in full every run."""
    return request.max_num_results is None and all(
        isinstance(selection, (SpaceSelection, InstanceSelection))
        for selection in request.selections
    )


def full_listing_due(
    checkpoint: Checkpoint | None,
    request: LoadRequest,
    *,
    now: float,
    every: timedelta | None,
) -> bool:
    """Whether this run must list the whole selection: nothing to start from, a selection a
    watermark does not cover, or the last full listing older than `every`. By default (None)
    every FULL_LISTING_EVERY, or every run when audiences are imported (restrictions change
    nothing's version)."""
    if checkpoint is None or checkpoint.since is None or not listed_by_space(request):
        return True
    if every is None:
        if request.include_permissions:
            return True
        every = FULL_LISTING_EVERY
    return now - checkpoint.full_at >= every.total_seconds()


def files_listing_due(
    checkpoint: Checkpoint | None, *, now: float, every: timedelta | None
) -> bool:
    """Whether a full listing must list every attachment again (FILES_LISTINGS_APART full
    listings apart), or may take the attachments of pages it holds as they were, save those
    changed or trashed since the watermark."""
    if checkpoint is None or checkpoint.since is None or checkpoint.files_at is None:
        return True
    apart = FILES_LISTINGS_APART * (FULL_LISTING_EVERY if every is None else every)
    return now - checkpoint.files_at >= apart.total_seconds()


def changes_first(
    checkpoint: Checkpoint | None,
    request: LoadRequest,
    *,
    now: float,
    every: timedelta | None,
) -> bool:
    """Whether a due full listing is due by age alone (it would not be after a fresh one):
    then the run asks for what changed first, which is cheap, so a full listing that the hour's
    quota stops never holds back the day's changes."""
    if checkpoint is None or checkpoint.since is None:
        return False
    fresh = Checkpoint(checkpoint.since, now)
    return not full_listing_due(fresh, request, now=now, every=every)
