"""One import run as an object: a LoadRequest in, changes (documents, with what a sync needs)
out.

`run_changes` opens the run's client and progress bar; an `ImportRun` then holds everything
one run has: the request, what the sync target holds (`Held`), the tree and listings of the
site, the attachment window and the report. Two ways through it:

- a plain import walks the selection with bodies (walk.py), pages parents-first;
- a sync (or a `process_document_callback`) lists the selection without bodies first
  (inventory.py), compares fingerprints, and fetches bodies only for what changed.

Either way the attachments (and comments, and audiences) of the next few pages are fetched
while earlier pages are handed over, with memory bounded by the window and the backlog.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .assembly import PageParts, assemble
from .attachments import Attached, AttachmentListings, PageAttachments
from .audience import Audience
from .client import ConfluenceClient
from .comments import CommentListings
from .documents import PageRecord, TreeNode
from .errors import ConfluenceError
from .events import (
    PageDataFetchCompletedEvent,
    PageDataFetchStartedEvent,
    PageFailedEvent,
    PageSkippedEvent,
    TotalPagesToProcessEvent,
    emit,
)
from .files import ParserPool, needs_workers
from .fingerprint import Fingerprint
from .held import Held
from .includes import Inclusions, Resolution
from .inventory import Inventory, Listed
from .markdown import ConversionContext, ConvertedBody, includes_any, storage_to_markdown
from .people import People
from .permissions import Permissions
from .report import Change, ImportReport, PageRelabel, PageRemoval, PageUnchanged, PageUpsert
from .selection import LoadRequest
from .settings import ReaderSettings
from .tree import SiteTree
from .walk import SearchProgress, Walker

NONE = Resolution()  # a page that includes nothing (never changed: a fresh one per include)
NOTHING_BESIDE = PageParts(Attached(""))  # no attachments, comments, audience or includes
CONTENTLESS_KINDS = ("whiteboard", "database", "embed")  # tree nodes with no text to import
WINDOW_MAX = 256  # pages held back at most while their attachments download
UNPARSED_MAX = 32 * 1024 * 1024  # downloaded file bytes waiting for a parser, at most (roughly)
Window = collections.deque[
    tuple[PageRecord, ConvertedBody, Resolution, "asyncio.Task[PageParts] | None"]
]


async def run_changes(
    settings: ReaderSettings, request: LoadRequest, held: Held, report: ImportReport
) -> AsyncGenerator[Change, None]:
    """The run's changes, with its client open and its progress bar drawn."""
    if settings.logger is not None:
        report.logger = settings.logger
    with _progress(request.show_progress) as progress:
        async with ConfluenceClient(settings.connection) as client:
            client.pacer.on_wait = _countdown(progress)
            run = ImportRun(settings, request, held, report, client)
            async with contextlib.aclosing(run.changes()) as changes:
                async for change in changes:
                    progress.update(1)
                    yield change


class ImportRun:
    """One run: what it was asked, what it has seen, and what it has fetched so far."""

    def __init__(
        self,
        settings: ReaderSettings,
        request: LoadRequest,
        held: Held,
        report: ImportReport,
        client: ConfluenceClient,
    ) -> None:
        self.settings = settings
        self.request = request
        self.held = held
        self.report = report
        self.client = client
        self.tree = SiteTree(client)
        if held.tree is not None and held.since is not None:  # a full listing learns afresh
            self.tree.nodes.update(held.tree.nodes)
        self.walker = Walker(self.tree, request)
        self.listings = AttachmentListings(client, self._files_in_bulk)
        self.comments = CommentListings(client, self._extras_in_bulk)
        self.permissions = (
            Permissions(client, lambda key: held.since is None and request.imports_whole(key))
            if request.include_permissions
            else None
        )
        self.inclusions = Inclusions(self.tree)
        self.inventory = Inventory(
            self.tree,
            request,
            self.listings,
            self.comments,
            self.permissions,
            report,
            self.inclusions,
            held,
        )
        self.pool = ParserPool(timeout=settings.parse_timeout)
        self.attachments = self._page_attachments()
        self.people = People(client)
        self.window: Window = collections.deque()
        # a sync compares what it holds; a callback chooses before any body is fetched
        self.listed_first = bool(held.pages) or settings.process_document_callback is not None

    def _extras_in_bulk(self, space_key: str) -> bool:
        """A space's attachments and comments listed in bulk: only when all its pages are
        listed, current ones only (CQL search lists those of current pages)."""
        request = self.request
        return (
            self.held.since is None
            and request.statuses == ("current",)
            and request.imports_whole(space_key)
        )

    def _files_in_bulk(self, space_key: str) -> bool:
        """Attachments listed in bulk too only when every page's are wanted."""
        return self.held.files_since is None and self._extras_in_bulk(space_key)

    def _page_attachments(self) -> PageAttachments:
        """The run's attachment pipeline; when attachments are wanted, the slow starts (parser
        processes, a space's bulk attachment listing) begin at once, alongside the listing."""
        request, settings = self.request, self.settings
        files = settings.files_for(
            request.attachment_filter, request.file_extractor, self.held.original_files
        )
        if request.include_attachments:
            if needs_workers(files.file_extractor, files.originals):
                self.pool.warm()
            for space_key in request.whole_space_keys():
                self.listings.prefetch(space_key)
        return PageAttachments(
            self.listings,
            settings.images,
            files,
            self.pool,
            settings.base_url,
            self.report,
            self.held.attachments,
        )

    # ---- the run ------------------------------------------------------------------------------

    async def changes(self) -> AsyncGenerator[Change, None]:
        for space_key in self.request.whole_space_keys():
            if self.request.include_comments:
                self.comments.prefetch(space_key)
            if self.permissions is not None:
                self.permissions.prefetch(space_key)
        try:
            changes = self._changed() if self.listed_first else self._upserts(self.walker.records())
            async for change in changes:
                yield change
        finally:
            await self._close()

    async def _close(self) -> None:
        """Everything the run opened is closed; the report gets the run's totals."""
        await self.listings.close()
        await self.comments.close()
        if self.permissions is not None:
            await self.permissions.close()
        await self.pool.close()
        report, client = self.report, self.client
        report.requests = client.requests_made
        report.points, report.points_min = client.points.each, client.points.once
        report.rate_limited = client.points.refused
        report.rate_limit_warnings = client.points.warned
        report.latest_edit = self.inventory.latest or self.walker.latest
        self._end_search(self.inventory.search if self.listed_first else self.walker.search)
        for node in self.tree.nodes.values():
            if node.kind in CONTENTLESS_KINDS:
                self.report.skip(node.id, self._contentless(node), None)
        for page_id in self.walker.vanished + self.inventory.vanished:
            self._fail(page_id, "deleted or restricted during the import")
        if self.held.tree is not None:
            self.held.tree.keep(self.tree.nodes, seeded=self.held.since is not None)

    def _contentless(self, node: TreeNode) -> str:
        """Why a whiteboard, database or embed met on the way is not a document."""
        beneath = "the pages beneath it are imported"
        if node.kind == "embed":
            target = self.tree.embed_urls.get(node.id, "an address outside Confluence")
            return f"embed {node.title!r} (a Smart Link to {target}) is not imported; {beneath}"
        return (
            f"{node.kind} {node.title!r} is not imported: the API gives {node.kind}s as metadata "
            f"only; {beneath}"
        )

    def _end_search(self, search: SearchProgress) -> None:
        self.report.next_cursor = search.next_cursor
        for content_id, reason in search.skipped:
            self.report.skip(content_id, reason, None)

    async def _changed(self) -> AsyncIterator[Change]:
        """The selection listed without bodies first: pages unchanged since the target stored
        them are not fetched, nor pages process_document_callback leaves out."""
        held, report = self.held, self.report
        if held.since is None:
            listed = await self.inventory.listing()
        else:
            listed = await self.inventory.recent(held.since)
        report.listed += len(listed)
        changed = []
        for item in listed:
            stored = held.pages.get(item.id)
            if stored == item.fingerprint:
                report.unchanged += 1
                yield PageUnchanged(item.id)
            elif relabelled := _relabel(stored, item, held.relabel):
                report.relabeled += 1
                yield relabelled
            else:
                changed.append(item)
        changed = self._chosen(changed)
        emit(TotalPagesToProcessEvent, total_pages=len(changed))
        async for change in self._upserts(self.inventory.records(changed)):
            yield change
        if held.since is None:
            gone = set(held.pages) - {item.id for item in listed}
        else:  # only what changed was listed: of the rest, what is in the trash is known gone
            gone = set(self.inventory.trashed) - {item.id for item in listed}
        for page_id in sorted(gone, key=int):
            yield PageRemoval(page_id)

    def _chosen(self, listed: list[Listed]) -> list[Listed]:
        """What process_document_callback accepts (asked before any body is fetched)."""
        callback = self.settings.process_document_callback
        if callback is None:
            return listed
        chosen = []
        for item in listed:
            if callback(item.id):
                chosen.append(item)
            else:
                self.report.skip(item.id, "left out by process_document_callback", None)
                emit(PageSkippedEvent, page_id=item.id)
        return chosen

    # ---- pages in, upserts out ----------------------------------------------------------------

    async def _upserts(self, records: AsyncIterator[PageRecord]) -> AsyncIterator[PageUpsert]:
        """Pages in order; the attachments (and comments) of the next few pages download while
        earlier pages are yielded."""
        window = self.window
        try:
            skipped = 0
            async for record in records:
                if skipped < self.request.start:  # the incumbent's paging: pages before `start`
                    skipped += 1
                    continue
                emit(PageDataFetchStartedEvent, page_id=record.id)
                names = await self.people.learn(record.body)
                included = await self._included(record) if includes_any(record.body) else NONE
                converted = self._convert(record, names, included)
                if converted is None:
                    continue
                fetch = self._fetch_parts(record, converted, included)
                if fetch is not None:
                    await asyncio.sleep(0)  # a page without files is done at once: not waiting
                window.append((record, converted, included, fetch))
                while window and (step := self._next_step()) != "take":
                    if step == "wait":
                        await self.attachments.backlog.fewer_downloading(self._downloads_max)
                    else:
                        yield await self._upsert(*window.popleft(), names)
            while window:
                yield await self._upsert(*window.popleft(), names)
        finally:
            pending = [fetch for _, _, _, fetch in window if fetch is not None]
            for fetch in pending:
                fetch.cancel()
            await asyncio.gather(*pending, return_exceptions=True)  # their clean-up runs now

    @property
    def _downloads_max(self) -> int:
        return self.settings.connection.http.max_concurrency * 2

    def _next_step(self) -> str:
        """What to do before taking in another page: "release" the first page (its attachments
        are in, or too much is held: pages, or downloaded bytes waiting for a parser), "wait"
        while many pages are still downloading, or "take" the next page. Waiting is for any
        download to finish, not for the first page, which may be waiting for a parser."""
        window, backlog = self.window, self.attachments.backlog
        first = window[0][3]
        if first is None or first.done():
            return "release"
        if len(window) > WINDOW_MAX or backlog.unparsed_bytes > UNPARSED_MAX:
            return "release"
        if backlog.downloading_pages > self._downloads_max:
            return "wait"
        return "take"

    async def _included(self, record: PageRecord) -> Resolution:
        """The pages this one includes, fetched once a run (includes.py); a target found
        nowhere brings nothing and is reported."""
        included = await self.inclusions.resolve(record.body, record.space.key)
        for ref in included.missing:
            what = "excerpt-include" if ref.excerpt else "include"
            self.report.skip(
                record.id,
                f"{what} of {ref.title!r} (space {ref.space_key}) brings nothing: no such page, "
                "or this user may not read it",
                None,
            )
        return included

    def _fetch_parts(
        self, record: PageRecord, converted: ConvertedBody, included: Resolution
    ) -> asyncio.Task[PageParts] | None:
        """What the page brings besides its body, fetched while earlier pages are handed over
        (None: nothing is asked for)."""
        request = self.request
        wanted = request.include_comments or self.permissions is not None
        if not (request.include_attachments or wanted):
            return None
        return asyncio.ensure_future(self._parts(record, converted, included))

    async def _parts(
        self, record: PageRecord, converted: ConvertedBody, included: Resolution
    ) -> PageParts:
        async def no_files() -> Attached:
            return Attached("")

        async def nothing() -> None:
            return None

        comments, permissions = self.comments, self.permissions
        attached, found, audience = await asyncio.gather(
            self.attachments.of(record, converted)
            if self.request.include_attachments
            else no_files(),
            comments.of_page(record.id, record.space.key, record.content_type)
            if self.request.include_comments
            else nothing(),
            self._audience_of(record, included) if permissions is not None else nothing(),
        )
        return PageParts(attached, found, self._audience(record.id, audience), included.parts())

    async def _audience_of(
        self, record: PageRecord, included: Resolution
    ) -> tuple[Audience, str | None]:
        """The page's audience, narrowed by the audience of every page whose text it carries."""
        assert self.permissions is not None
        also = await self.inclusions.readers(included.pages.values())
        return await self.permissions.audience(record, also)

    def _audience(self, page_id: str, found: tuple[Audience, str | None] | None) -> Audience | None:
        if found is None:
            return None
        audience, unknown = found
        if unknown is not None:
            self.report.audience_unknown(page_id, unknown)
        return audience

    async def _upsert(
        self,
        record: PageRecord,
        converted: ConvertedBody,
        included: Resolution,
        fetch: asyncio.Task[PageParts] | None,
        names: Mapping[str, str],
    ) -> PageUpsert:
        self.report.pages += 1
        parts = (
            await fetch if fetch is not None else PageParts(Attached(""), includes=included.parts())
        )
        page = assemble(
            record,
            converted,
            parts,
            self.settings.base_url,
            names,
            lambda reason: self.report.skip(record.id, reason, None),
        )
        emit(PageDataFetchCompletedEvent, page_id=record.id, document=page.document)
        attached = parts.attached
        return PageUpsert(
            page.document,
            attached.images,
            page.fingerprint.stored() if self.held.stores else "",
            record.id not in self.held.pages,
            attached.files,
            attached.kept,
            attached.fingerprints,
            attached.originals,
        )

    def _convert(
        self, record: PageRecord, names: Mapping[str, str], included: Resolution
    ) -> ConvertedBody | None:
        try:
            context = ConversionContext(
                self.settings.base_url, record.id, record.space.key, names, included.pages
            )
            return storage_to_markdown(record.body, context)
        except Exception as exc:  # one broken page must not end the run
            self._fail(record.id, f"{type(exc).__name__}: {exc}")
            return None

    def _fail(self, page_id: str, reason: str) -> None:
        self.report.fail(page_id, reason)
        emit(PageFailedEvent, page_id=page_id, error=reason)
        if self.settings.fail_on_error:
            raise ConfluenceError(f"page {page_id} failed: {reason}")


def _relabel(stored: Fingerprint | None, item: Listed, in_place: bool) -> PageRelabel | None:
    """A stored page whose content is unchanged and whose audience alone changed, re-labelled
    in place when the target can (else it is fetched again)."""
    if stored is None or item.audience is None or not in_place:
        return None
    if not stored.same_content(item.fingerprint):
        return None
    return PageRelabel(item.id, item.audience.metadata(), item.fingerprint.stored())


def _countdown(bar: tqdm[Any]) -> Callable[[float, str], None]:
    """Waits for Confluence (429, the points budget) shown on the progress bar, ticking down."""

    def show(seconds_left: float, why: str) -> None:
        bar.set_postfix_str(f"{why}: resuming in {seconds_left:.0f} s" if seconds_left else "")

    return show


@contextlib.contextmanager
def _progress(shown: bool) -> Iterator[tqdm[Any]]:
    """A progress bar; while it is shown, log lines are written above it, not through it."""
    bar = tqdm(desc="Confluence pages", unit="page", disable=not shown)
    redirect = logging_redirect_tqdm() if shown else contextlib.nullcontext()
    try:
        with redirect:
            yield bar
    finally:
        bar.close()
