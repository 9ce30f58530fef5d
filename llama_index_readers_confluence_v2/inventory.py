"""What a selection holds right now, without bodies: the basis of incremental sync.

A re-import lists the pages in scope with their versions (no bodies: 250 a request), compares
each page's fingerprint (version and path) with what the target holds, fetches bodies only for
the pages that changed (by id, 250 a request), and removes what left the scope. Between full
listings, `recent` lists only what may have changed since a watermark (recent.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from .attachments import AttachmentListings, attachments_digest
from .audience import Audience
from .clock import later, modified_at
from .comments import CommentListings, comments_digest
from .documents import PageRecord, page_path
from .fingerprint import Fingerprint
from .held import Held
from .includes import Included, Inclusions
from .listings import dated_since, touched_pages, trashed_attachment_pages
from .order import ParentsFirst
from .permissions import Permissions, Readable
from .report import ImportReport
from .routes import ANY_STATUS, GONE_STATUSES
from .selection import LoadRequest
from .tree import SiteTree, id_batches
from .walk import (
    PagesTarget,
    SearchProgress,
    SpaceTarget,
    SubtreeTarget,
    handled,
    selected_spaces,
    subtree_ids,
    targets,
)

T = TypeVar("T")
MAX_SPACE_IDS = 100  # space ids a listing takes (the spec's maxItems)
FEW_PAGES_SHARE = 4  # fewer than a quarter of the listed pages fetched: labels page by page


@dataclass(frozen=True)
class Listed:
    id: str
    space_id: str
    fingerprint: Fingerprint
    audience: Audience | None = None


class Inventory:
    """Lists a request's pages without bodies, then fetches the bodies asked for."""

    def __init__(
        self,
        tree: SiteTree,
        request: LoadRequest,
        listings: AttachmentListings,
        comments: CommentListings,
        permissions: Permissions | None = None,
        report: ImportReport | None = None,
        inclusions: Inclusions | None = None,
        held: Held | None = None,
    ) -> None:
        self.tree = tree
        self.inclusions = inclusions or Inclusions(tree)
        self.held = held or Held()
        self.known = self.held.pages  # the pages' stored fingerprints
        self.request = request
        self.listings = listings
        self.comments = comments
        self.permissions = permissions
        self.report = report or ImportReport()
        self.vanished: list[str] = []
        self.trashed: list[str] = []  # held pages `recent` found in the trash
        self._bodies: dict[str, dict[str, Any]] = {}  # pages listed with their bodies
        self._versions: dict[str, Any] = {}
        self._spaces_of: dict[str, str] = {}
        self._kinds: dict[str, str] = {}  # blog posts; the rest are pages
        self.search = SearchProgress()
        self.latest: datetime | None = None  # the newest edit listed (Confluence's clock)
        self._changes_only = False  # `recent` listed: a few pages of large spaces

    async def listing(self) -> list[Listed]:
        """Every page of the selection, with its fingerprint."""
        ordered: list[str] = []
        async for target in targets(self.tree, self.request, bodies=False, search=self.search):
            ordered += await handled(target, self)
        return await self._listed(ordered)

    async def recent(self, since: datetime) -> list[Listed]:
        """The pages of a space or site selection that may have changed since `since` (see
        recent.py): edited ones (with their bodies), those whose attachments or comments
        changed or went to the trash, those including an edited page (or one titled as a page
        they include that was missing), and those under a page `known` held with another title
        or place. Held pages found in the trash are noted in `trashed`."""
        self._changes_only = True
        known = self.known
        spaces = [
            space
            for selection in self.request.selections
            async for space in selected_spaces(self.tree, selection, self.request)
        ]
        space_ids = [s.id for s in spaces]
        kinds = ["page", "blogpost"] if self.request.include_blog_posts else ["page"]
        edited: list[dict[str, Any]] = []
        for kind in kinds:
            edited += await self._edited_since(space_ids, since, kind)
            trashed = await self._since(space_ids, since, kind, GONE_STATUSES, bodies=False)
            self.trashed += [str(raw["id"]) for raw in trashed if str(raw["id"]) in known]
        touched = await self._touched_since([space.key for space in spaces], since)
        touched -= set(self.trashed)
        # the overlap with the last run comes again: the same version, nothing attached changed
        fresh = [
            raw
            for raw in edited
            if str(raw["id"]) in touched or not _held_at(known.get(str(raw["id"])), raw)
        ]
        self._note_all(fresh)  # kinds were noted by _edited_since
        self._bodies.update((str(raw["id"]), raw) for raw in fresh)
        await self.tree.learn_ancestors_of([r for r in fresh if self._kind(str(r["id"])) == "page"])
        ordered = [str(raw["id"]) for raw in fresh]
        touched |= self._including(edited, known)
        ordered += await self._hydrate(sorted(touched - set(ordered), key=int))
        listed = await self._listed(ordered)
        replaced = [item.id for item in listed if not self._same_place(known.get(item.id), item.id)]
        below: list[str] = []
        for page_id in replaced:
            below += await self.tree.descendant_ids(page_id, "page", self.request.statuses)
        taken = {item.id for item in listed}
        held_below = [i for i in dict.fromkeys(below) if i in known and i not in taken]
        return listed + await self._listed(await self._hydrate(held_below))

    def _including(
        self, edited: list[dict[str, Any]], known: Mapping[str, Fingerprint | None]
    ) -> set[str]:
        """Held pages that include one of the edited pages (by id, or by space and title)."""
        ids = {str(raw["id"]) for raw in edited}
        keys = {
            (self.tree.spaces[str(raw["spaceId"])].key, str(raw.get("title") or ""))
            for raw in edited
            if str(raw["spaceId"]) in self.tree.spaces
        }
        return {
            page_id
            for page_id, stored in known.items()
            if stored is not None
            and any(i in ids or (space, title) in keys for space, title, i, _ in stored.includes)
        }

    def _extras_kinds(self) -> list[str]:
        kinds = ["attachment"] if self.request.include_attachments else []
        return kinds + (["comment"] if self.request.include_comments else [])

    async def _edited_since(
        self, space_ids: list[str], since: datetime, kind: str
    ) -> list[dict[str, Any]]:
        """Pages (or blog posts) of these spaces edited at or after `since`, with their bodies,
        newest first; remembered in the tree."""
        statuses = self.request.blog_statuses if kind == "blogpost" else self.request.statuses
        recent = await self._since(space_ids, since, kind, statuses, bodies=True)
        for raw in recent:
            self.tree.remember(raw, kind)
            if kind != "page":
                self._kinds[str(raw["id"])] = kind
        return recent

    async def _since(
        self,
        space_ids: list[str],
        since: datetime,
        kind: str,
        statuses: tuple[str, ...],
        *,
        bodies: bool,
    ) -> list[dict[str, Any]]:
        """Pages (or blog posts) of these spaces and statuses dated at or after `since`, newest
        first: one listing per 100 spaces, stopped at the first older one. The edits (with
        bodies) are what the next watermark starts from."""
        recent: list[dict[str, Any]] = []
        for start in range(0, len(space_ids), MAX_SPACE_IDS):
            listing = self.tree.pages_by_edit(
                space_ids[start : start + MAX_SPACE_IDS], statuses, kind, bodies=bodies
            )
            noted = self._note_latest if bodies else lambda raw: None
            recent += await dated_since(listing, since, noted)
        return recent

    async def _hydrate(self, page_ids: list[str]) -> list[str]:
        """Pages (then blog posts) by id, bodiless, noted as listed; what is neither is left
        out (deleted since: the next full listing removes it)."""
        found = await self.tree.pages_by_id(page_ids, self.request.statuses, bodies=False)
        self._note_all(found.values())
        await self.tree.learn_ancestors_of(list(found.values()))
        rest = [i for i in page_ids if i not in found]
        if rest and self.request.include_blog_posts:
            posts = await self.tree.pages_by_id(
                rest, self.request.blog_statuses, bodies=False, kind="blogpost"
            )
            self._note_all(posts.values(), "blogpost")
        return [i for i in page_ids if i in self._spaces_of]

    def _same_place(self, stored: Fingerprint | None, page_id: str) -> bool:
        """Whether a stored page was held at the title and place it has now (new pages: yes,
        nothing is held under them)."""
        return stored is None or stored.path == self._path(page_id)

    async def _listed(self, ordered: list[str]) -> list[Listed]:
        unique = [i for i in dict.fromkeys(ordered) if i in self._spaces_of]
        for space_id in {self._spaces_of[i] for i in unique}:
            await self.tree.space_by_id(space_id)
        files = await self._attachment_digests(unique)
        comments = await self._comment_digests(unique)
        includes = await self._includes(unique)
        audiences = await self._audiences(unique, includes)
        listed = []
        for i in unique:
            audience = audiences.get(i)
            footprint = Fingerprint.of(
                self._versions.get(i),
                self._path(i),
                files=files.get(i),
                comments=comments.get(i),
                audience=None if audience is None else audience.digest(),
                includes=includes.get(i, ()),
            )
            listed.append(Listed(i, self._spaces_of[i], footprint, audience))
        return listed

    async def _includes(self, page_ids: list[str]) -> dict[str, tuple[Included, ...]]:
        """The pages each held page included when it was stored, as they are now (includes.py):
        a change to one of them shows in the includer's fingerprint."""
        held = {i: stored.includes for i in page_ids if (stored := self.known.get(i)) is not None}
        wanted = {i: parts for i, parts in held.items() if parts}
        found = await asyncio.gather(*(self.inclusions.current(p) for p in wanted.values()))
        return dict(zip(wanted, found, strict=True))

    async def _audiences(
        self, page_ids: list[str], includes: Mapping[str, tuple[Included, ...]]
    ) -> dict[str, Audience]:
        """With permissions asked for, each page's audience (see permissions.py), narrowed by
        the audiences of the pages it includes."""
        if self.permissions is None:
            return {}
        permissions = self.permissions
        for space_id in {self._spaces_of[i] for i in page_ids}:
            permissions.prefetch(self.tree.spaces[space_id].key)

        async def of(page_id: str) -> Audience:
            node = self.tree.nodes[page_id]
            space = self.tree.spaces[self._spaces_of[page_id]]
            ancestors = self.tree.ancestors_of(page_id)
            own = Readable(page_id, space, ancestors, self._kind(page_id), node.parent_id)
            included = self.inclusions.found(includes.get(page_id, ()))
            also = await self.inclusions.readers(included)
            audience, unknown = await permissions.audience_of(own, also)
            if unknown is not None:
                self.report.audience_unknown(page_id, unknown)
            return audience

        found = await asyncio.gather(*(of(i) for i in page_ids))
        return dict(zip(page_ids, found, strict=True))

    async def _comment_digests(self, page_ids: list[str]) -> dict[str, str]:
        """With comments asked for, each page's comments as ids and versions."""
        if not self.request.include_comments:
            return {}
        return await self._digests(page_ids, self.comments.of_page, comments_digest)

    async def _attachment_digests(self, page_ids: list[str]) -> dict[str, str]:
        """With attachments asked for, each page's attachments (see AttachmentListings); with
        `files_since`, a held page's as the target holds them unless they changed since."""
        if not self.request.include_attachments:
            return {}
        held: dict[str, str] = {}
        if self.held.files_since is not None:
            touched = await self._files_touched(page_ids, self.held.files_since)
            for page_id in page_ids:
                stored = self.known.get(page_id)
                if stored is not None and stored.files is not None and page_id not in touched:
                    held[page_id] = stored.files
        listed = [i for i in page_ids if i not in held]
        return held | await self._digests(listed, self.listings.of_page, attachments_digest)

    async def _files_touched(self, page_ids: list[str], since: datetime) -> set[str]:
        """Pages whose attachments were added, changed or trashed since `since`."""
        keys = sorted({self.tree.spaces[self._spaces_of[i]].key for i in page_ids})
        return await self._touched_since(keys, since, ["attachment"])

    async def _touched_since(
        self, space_keys: list[str], since: datetime, kinds: list[str] | None = None
    ) -> set[str]:
        """Pages of these spaces whose attachments (or comments) were added or changed since
        `since` (those held at the version found left out), or trashed."""
        client, touched = self.tree.client, set()
        for kind in self._extras_kinds() if kinds is None else kinds:
            unchanged = self.held.holds_version if kind == "attachment" else None
            for key in space_keys:
                touched |= await touched_pages(client, kind, key, since, unchanged)
        if self.request.include_attachments and (kinds is None or "attachment" in kinds):
            touched |= await trashed_attachment_pages(client, since)
        return touched

    async def _digests(
        self,
        page_ids: list[str],
        listing_of: Callable[..., Awaitable[T]],
        digest: Callable[[T], str],
    ) -> dict[str, str]:
        """Each page's listing (kept for the fetch that follows), as its digest."""
        keys = [self.tree.spaces[self._spaces_of[i]].key for i in page_ids]
        found = await asyncio.gather(
            *(
                listing_of(i, key, self._kind(i), keep=True)
                for i, key in zip(page_ids, keys, strict=True)
            )
        )
        return {i: digest(listing) for i, listing in zip(page_ids, found, strict=True)}

    def _path(self, page_id: str) -> str:
        node = self.tree.nodes[page_id]
        space = self.tree.spaces[self._spaces_of[page_id]]
        above = [ancestor.title for ancestor in self.tree.ancestors_of(page_id)]
        return page_path(space.name, above, node.title, self._kind(page_id))

    # ---- what each kind of target holds (walk.handled), ids in order ------------------------

    async def subtree(self, target: SubtreeTarget) -> list[str]:
        _, ids = await subtree_ids(self.tree, target, self.request.statuses)
        found = await self.tree.pages_by_id(ids, self.request.statuses, bodies=False)
        self._note_all(found.values())
        for page_id in set(ids) - found.keys():
            self._spaces_of.pop(page_id, None)
        return ids

    async def pages(self, target: PagesTarget) -> list[str]:
        if target.kind == "page":
            await self.tree.learn_ancestors_of(target.pages)
        self._note_all(target.pages, target.kind)
        return [str(raw["id"]) for raw in target.pages]

    async def space(self, target: SpaceTarget) -> list[str]:
        """The space's pages, parents first (order.py), their ancestors known."""
        listed: list[dict[str, Any]] = []
        async for batch in self.tree.space_pages(target.space, self.request.statuses, bodies=False):
            listed += batch
        self._note_all(listed)
        await self.tree.learn_ancestors_of(listed)
        order = ParentsFirst(self.tree)
        ordered = [page for raw in listed for page in order.add(raw)] + await order.rest()
        return [str(raw["id"]) for raw in ordered]

    def _note_latest(self, raw: Mapping[str, Any]) -> None:
        self.latest = later(self.latest, modified_at(raw))

    def _note_all(self, pages: Any, kind: str = "page") -> None:
        for raw in pages:
            self._note_latest(raw)
            page_id = str(raw["id"])
            self._versions[page_id] = (raw.get("version") or {}).get("number")
            self._spaces_of[page_id] = str(raw["spaceId"])
            if kind != "page":
                self._kinds[page_id] = kind

    def _kind(self, page_id: str) -> str:
        return self._kinds.get(page_id, "page")

    def _few(self, fetched: int) -> bool:
        """Whether the pages to fetch are few against what was listed: their labels are then
        asked page by page (a point each), not by listing each label's pages, which returns
        every page of the space carrying it, a point each (FEW_PAGES_SHARE)."""
        return fetched * FEW_PAGES_SHARE < len(self._spaces_of)

    async def records(self, wanted: list[Listed]) -> AsyncIterator[PageRecord]:
        """Bodies of the pages (then blog posts) asked for, in the order asked: those the
        newest-first listing brought as they came, the rest by id, 250 a request."""
        for kind in ("page", "blogpost"):
            of_kind = [item for item in wanted if self._kind(item.id) == kind]
            pairs = [(item.space_id, item.id) for item in of_kind]
            by_page = self._changes_only or self._few(len(of_kind))
            labels = (
                await self.tree.labels_of_pages(pairs, kind, by_page=by_page) if of_kind else {}
            )
            async for batch, bodies in self._bodies_of([item.id for item in of_kind], kind):
                for page_id in batch:
                    raw = bodies.get(page_id)
                    if raw is None:
                        self.vanished.append(page_id)
                        continue
                    space = await self.tree.space_by_id(str(raw["spaceId"]))
                    yield self.tree.record(raw, space, labels, kind)

    async def _bodies_of(
        self, page_ids: list[str], kind: str
    ) -> AsyncIterator[tuple[list[str], Mapping[str, dict[str, Any]]]]:
        """(ids, their pages with bodies) in batches: the listed ones first, then by id."""
        listed = [i for i in page_ids if i in self._bodies]
        if listed:
            yield listed, self._bodies
        for batch in id_batches(i for i in page_ids if i not in self._bodies):
            yield batch, await self.tree.pages_by_id(batch, ANY_STATUS, bodies=True, kind=kind)


def _held_at(stored: Fingerprint | None, raw: Mapping[str, Any]) -> bool:
    """Whether a stored page was held at the version listed now."""
    return stored is not None and stored.same_version((raw.get("version") or {}).get("number"))
