"""ConfluenceReader: a load call's arguments -> one LoadRequest -> documents (orchestration only)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .attachments import (
    Attached,
    AttachmentListings,
    Backlog,
    FileSettings,
    ImageSettings,
    PageAttachments,
)
from .audience import Audience, Viewer
from .bridge import iterate_sync, run_sync
from .browse import (
    PageNode,
    PageTree,
    SpaceSummary,
    first_level,
    level_below,
    list_spaces,
    page_tree,
)
from .client import (
    DEFAULT_AUTH_SERVER_URL,
    DEFAULT_GATEWAY_URL,
    ConfluenceClient,
    RetryPolicy,
    incumbent_client_args,
)
from .comments import CommentListings, PageComment, comments_digest, comments_section
from .credential_store import CredentialStore
from .credentials import ConfluenceCredential, OAuthCredential, credential_from_arguments
from .documents import PageRecord, page_document
from .errors import BadArgumentError, ConfluenceError
from .events import (
    PageDataFetchCompletedEvent,
    PageDataFetchStartedEvent,
    PageFailedEvent,
    PageSkippedEvent,
    TotalPagesToProcessEvent,
    emit,
)
from .files import (
    DEFAULT_MAX_FILE_BYTES,
    PARSE_TIMEOUT,
    AttachmentInfo,
    ParserPool,
    needs_workers,
    parsers_of,
)
from .fingerprint import Fingerprint
from .images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from .inventory import Inventory, Listed
from .markdown import (
    ConversionContext,
    ConvertedBody,
    storage_to_markdown,
)
from .people import People
from .permissions import Permissions, viewer_of
from .recent import listed_by_space, parse_time
from .report import Change, ImportReport, PageRelabel, PageRemoval, PageUnchanged, PageUpsert
from .selection import LoadRequest, parse_request, statuses
from .selection import attachment_filter as selection_attachment_filter
from .selection import file_extractor as selection_file_extractor
from .selection import keywords as keywords_of
from .tree import SiteTree
from .urls import (
    InstanceSelection,
    PageSelection,
    Selection,
    SpaceSelection,
    check_scheme,
    normalize_base_url,
    parse_page_id,
    parse_url,
)
from .walk import SearchProgress, Walker

if TYPE_CHECKING:
    from .notebook import Picker

logger = logging.getLogger(__name__)
T = TypeVar("T")
WINDOW_MAX = 256  # pages held back at most while their attachments download
UNPARSED_MAX = 32 * 1024 * 1024  # downloaded file bytes waiting for a parser, at most (roughly)
Extras = tuple[Attached, "list[PageComment] | None", "tuple[Audience, str | None] | None"]
Window = collections.deque[tuple[PageRecord, ConvertedBody, "asyncio.Task[Extras] | None"]]


class ConfluenceReader(BaseReader):
    """Confluence Cloud pages as Markdown Documents, over the REST API v2.

    >>> reader = ConfluenceReader(base_url="https://your-site.atlassian.net/wiki",
    ...                           user_name="you@example.com", api_token="...")
    >>> documents = reader.load_data(space_key="ENG")
    """

    def __init__(
        self,
        base_url: str | None = None,
        oauth2: dict[str, Any] | None = None,
        cloud: bool = True,
        api_token: str | None = None,
        cookies: dict[str, str] | None = None,
        user_name: str | None = None,
        password: str | None = None,
        *,
        credentials: ConfluenceCredential | OAuthCredential | None = None,
        credential_id: str | None = None,
        credential_store: CredentialStore | None = None,
        scoped_token: bool | None = None,
        cloud_id: str | None = None,
        api_gateway_url: str | None = None,
        auth_server_url: str | None = None,
        max_concurrency: int = 8,
        max_points_per_hour: float | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
        fail_on_error: bool = False,
        image_max_bytes: int = DEFAULT_MAX_BYTES,
        image_max_pixels: int = DEFAULT_MAX_PIXELS,
        include_svg: bool = True,
        attachment_filter: Callable[[AttachmentInfo], bool] | None = None,
        file_extractor: Mapping[str, Any] | None = None,
        custom_parsers: Mapping[Any, Any] | None = None,
        process_attachment_callback: Callable[..., Any] | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        parse_timeout: float = PARSE_TIMEOUT,
        process_document_callback: Callable[[str], bool] | None = None,
        client_args: Mapping[str, Any] | None = None,
        custom_folder: str | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not cloud:
            raise BadArgumentError(
                "this reader speaks to Confluence Cloud only (cloud=False is Data Center); "
                "use llama-index-readers-confluence for Data Center"
            )
        if cookies:
            raise BadArgumentError("cookie sessions are not supported; use an API token")
        self.base_url = normalize_base_url(base_url or os.environ.get("CONFLUENCE_BASE_URL", ""))
        self._credential: ConfluenceCredential | OAuthCredential
        if credential_id is not None:
            self._credential = (credential_store or CredentialStore()).load(credential_id)
        elif oauth2 is not None:
            self._credential = OAuthCredential.from_incumbent(oauth2)
        elif isinstance(credentials, OAuthCredential):
            self._credential = credentials
        else:
            self._credential = credential_from_arguments(
                user_name, api_token, password, credentials, scoped_token
            )
        # like the site, these can come from the environment (a proxy, or the emulator)
        api_gateway_url = api_gateway_url or os.environ.get(
            "CONFLUENCE_API_GATEWAY_URL", DEFAULT_GATEWAY_URL
        )
        auth_server_url = auth_server_url or os.environ.get(
            "CONFLUENCE_AUTH_SERVER_URL", DEFAULT_AUTH_SERVER_URL
        )
        for url, what in (
            (api_gateway_url, "api_gateway_url"),
            (auth_server_url, "auth_server_url"),
        ):
            check_scheme(url, what)
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise BadArgumentError("max_concurrency must be a whole number of at least 1")
        timeout, verify, retry = incumbent_client_args(client_args, timeout, verify, retry)
        self.api_gateway_url = api_gateway_url.rstrip("/")
        self.auth_server_url = auth_server_url.rstrip("/")
        self.cloud_id = cloud_id
        self.max_concurrency = max_concurrency
        if max_points_per_hour is not None and (
            isinstance(max_points_per_hour, bool)
            or not isinstance(max_points_per_hour, (int, float))
            or max_points_per_hour < 100
        ):
            raise BadArgumentError(
                "max_points_per_hour must be a number of at least 100 (the default quota is "
                "65,000 points an hour), or None for no budget"
            )
        self.max_points_per_hour = max_points_per_hour
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        if isinstance(verify, str) and not os.path.exists(verify):
            raise BadArgumentError(f"verify= names a CA bundle that does not exist: {verify!r}")
        self.verify = verify
        self.transport = transport
        self.fail_on_error = fail_on_error
        for value, name in (
            (image_max_bytes, "image_max_bytes"),
            (image_max_pixels, "image_max_pixels"),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadArgumentError(f"{name} must be a positive whole number")
        self.images = ImageSettings(image_max_bytes, image_max_pixels, bool(include_svg))
        if (
            isinstance(max_file_bytes, bool)
            or not isinstance(max_file_bytes, int)
            or max_file_bytes < 1
        ):
            raise BadArgumentError("max_file_bytes must be a positive whole number")
        if not isinstance(parse_timeout, (int, float)) or parse_timeout <= 0:
            raise BadArgumentError("parse_timeout must be a positive number of seconds")
        if custom_folder is not None and not os.path.isdir(custom_folder):
            raise BadArgumentError(f"custom_folder is not a folder: {custom_folder!r}")
        self.files = FileSettings(
            max_file_bytes,
            selection_attachment_filter(attachment_filter),
            {**parsers_of(custom_parsers), **(selection_file_extractor(file_extractor) or {})},
            process_attachment_callback,
            temp_folder=custom_folder,
        )
        if process_document_callback is not None and not callable(process_document_callback):
            raise BadArgumentError("process_document_callback takes a function of a page id")
        self.process_document_callback = process_document_callback
        self.logger = logger
        self.parse_timeout = float(parse_timeout)
        self.last_report = ImportReport()
        self._next_cursor: str | None = None

    def __repr__(self) -> str:
        return f"ConfluenceReader(base_url={self.base_url!r}, auth={self._credential.kind!r})"

    # ---- loading ------------------------------------------------------------------------------

    def request(self, *args: Any, **load_kwargs: Any) -> LoadRequest:
        """A load call's arguments checked (nothing is sent): what `load_data` would import."""
        return parse_request(self.base_url, args, load_kwargs)

    def load_data(self, *args: Any, **load_kwargs: Any) -> list[Document]:
        """Everything selected, as a list (see `alazy_load_data` for the arguments)."""
        return list(self.lazy_load_data(*args, **load_kwargs))

    def lazy_load_data(self, *args: Any, **load_kwargs: Any) -> Iterator[Document]:  # type: ignore[override]
        """Stream Documents; works inside a running event loop (a notebook) too."""
        request = self.request(*args, **load_kwargs)  # bad arguments fail here, at once
        return iterate_sync(lambda: self._documents(request))

    async def aload_data(self, *args: Any, **load_kwargs: Any) -> list[Document]:
        return [document async for document in self.alazy_load_data(*args, **load_kwargs)]

    async def alazy_load_data(  # type: ignore[override]
        self, *args: Any, **load_kwargs: Any
    ) -> AsyncIterator[Document]:
        """Stream the selected pages as Markdown Documents, parents before children.

        Select with `space_key`, `page_ids` (one or a list, str or int), `url` (one or a list of
        page, space, folder, tiny-link or site URLs) or `folder_id`; narrow or widen with
        `include_children`, `include_attachments`, `include_personal_spaces`, `space_filter`,
        `page_status` and `max_num_results`; `show_progress` shows a progress bar.
        """
        async for document in self._documents(self.request(*args, **load_kwargs)):
            yield document

    async def _documents(self, request: LoadRequest) -> AsyncIterator[Document]:
        count = 0
        # closed here, not by the garbage collector: its clean-up (parser processes, pending
        # downloads) must run while the event loop does
        async with contextlib.aclosing(self._changes(Held(), request, ImportReport())) as changes:
            async for change in changes:
                if not isinstance(change, PageUpsert):
                    continue
                yield change.document
                for attached in (*change.images, *change.attachments):
                    yield attached
                count += 1
                if request.max_num_results is not None and count >= request.max_num_results:
                    break

    async def achanges(
        self,
        known: Mapping[str, str],
        *,
        report: ImportReport | None = None,
        known_attachments: Mapping[str, str] | None = None,
        original_files: Iterable[str] = (),
        relabel: bool = False,
        since: str | None = None,
        **selection: Any,
    ) -> AsyncIterator[Change]:
        """What changed since a target stored `known` ({page id: fingerprint}) for this selection.

        Yields `PageUpsert` for new and changed pages (bodies fetched only for those),
        `PageUnchanged` for the rest and, once the listing is complete, `PageRemoval` for pages
        that left the selection (deleted, moved out, restricted). With nothing known, it is a
        plain import. `report` (default: a new one, also at `last_report`) collects the counts.
        `known_attachments` ({attachment id: fingerprint}, as `PageUpsert` gave them) are not
        downloaded again but named in `PageUpsert.kept`; files whose suffix is in
        `original_files` (".pdf", ...) are handed over in `PageUpsert.originals`, not parsed.
        With `include_permissions` and `relabel`, a page whose audience alone changed comes as
        `PageRelabel` (its new permission metadata, no body fetched); without `relabel`, as an
        upsert. With `since` (an ISO time on Confluence's clock, a previous run's
        `last_report.latest_edit` less an overlap; whole spaces or the site only), only what may
        have changed since is listed (recent.py), and nothing is removed.
        """
        request = self.request(**selection)
        if since is not None and not listed_by_space(request):
            raise BadArgumentError(
                "since= covers whole spaces and the site only; list other selections in full "
                "(leave since out)"
            )
        held = Held(
            _parsed(known),
            known_attachments or {},
            frozenset(original_files),
            relabel,
            None if since is None or not known else parse_time(since),
        )
        async for change in self._changes(held, request, report or ImportReport()):
            yield change

    async def _changes(
        self, held: Held, request: LoadRequest, report: ImportReport
    ) -> AsyncGenerator[Change, None]:
        self.last_report = report
        if self.logger is not None:
            report.logger = self.logger
        with _progress(request.show_progress) as progress:
            async with self._client() as client:
                client.pacer.on_wait = _countdown(progress)
                tree = SiteTree(client)
                walker = Walker(tree, request)

                # a space's extras in bulk only when all its pages are listed
                def whole(key: str) -> bool:
                    return held.since is None and _listed_whole(request, key)

                listings = AttachmentListings(client, whole)
                comments = CommentListings(client, whole)
                permissions = (
                    Permissions(
                        client, lambda key: held.since is None and request.imports_whole(key)
                    )
                    if request.include_permissions
                    else None
                )
                inventory = Inventory(tree, request, listings, comments, permissions, report)
                pool = ParserPool(timeout=self.parse_timeout)
                attachments = self._page_attachments(listings, pool, request, held, report)
                extras = PageExtras(
                    attachments, comments if request.include_comments else None, permissions
                )
                for space_key in request.whole_space_keys():
                    if request.include_comments:
                        comments.prefetch(space_key)
                    if permissions is not None:
                        permissions.prefetch(space_key)
                listed_first = held.pages or self.process_document_callback is not None
                try:
                    if listed_first:
                        changes = self._changed(held, inventory, extras, request, report)
                    else:
                        records = walker.records()
                        changes = self._upserts(extras, records, held, request, report)
                    async for change in changes:
                        progress.update(1)
                        yield change
                finally:
                    await listings.close()
                    await comments.close()
                    if permissions is not None:
                        await permissions.close()
                    await pool.close()
                    report.requests = client.requests_made
                    report.points, report.points_min = client.points.each, client.points.once
                    report.rate_limited = client.points.refused
                    report.rate_limit_warnings = client.points.warned
                    report.latest_edit = inventory.latest or walker.latest
                    self._end_search(inventory.search if listed_first else walker.search, report)
                    for page_id in walker.vanished + inventory.vanished:
                        self._fail(report, page_id, "deleted or restricted during the import")

    def get_next_cursor(self) -> str | None:
        """After a `cql=` load: the cursor that resumes the query where it stopped (pass it as
        `cursor=`), or None when every hit was taken."""
        return self._next_cursor

    def _end_search(self, search: SearchProgress, report: ImportReport) -> None:
        self._next_cursor = search.next_cursor
        for content_id, reason in search.skipped:
            report.skip(content_id, reason, None)

    async def _changed(
        self,
        held: Held,
        inventory: Inventory,
        extras: PageExtras,
        request: LoadRequest,
        report: ImportReport,
    ) -> AsyncIterator[Change]:
        """The selection listed without bodies first: pages unchanged since the target stored
        them (`held`) are not fetched, nor pages process_document_callback leaves out."""
        known = held.pages
        if held.since is None:
            listed = await inventory.listing()
        else:
            listed = await inventory.recent(held.since, known)
        changed = []
        for item in listed:
            stored = known.get(item.id)
            if stored == item.fingerprint:
                report.unchanged += 1
                yield PageUnchanged(item.id)
            elif relabelled := _relabel(stored, item, held.relabel):
                report.relabeled += 1
                yield relabelled
            else:
                changed.append(item)
        changed = self._chosen(changed, report)
        emit(TotalPagesToProcessEvent, total_pages=len(changed))
        records = inventory.records(changed)
        async for change in self._upserts(extras, records, held, request, report):
            yield change
        if held.since is not None:  # only what changed was listed: the rest is unknown
            return
        for page_id in sorted(set(known) - {item.id for item in listed}, key=int):
            yield PageRemoval(page_id)

    def _chosen(self, listed: list[Listed], report: ImportReport) -> list[Listed]:
        """What process_document_callback accepts (asked before any body is fetched)."""
        callback = self.process_document_callback
        if callback is None:
            return listed
        chosen = []
        for item in listed:
            if callback(item.id):
                chosen.append(item)
            else:
                report.skip(item.id, "left out by process_document_callback", None)
                emit(PageSkippedEvent, page_id=item.id)
        return chosen

    def _page_attachments(
        self,
        listings: AttachmentListings,
        pool: ParserPool,
        request: LoadRequest,
        held: Held,
        report: ImportReport,
    ) -> PageAttachments:
        """The run's attachment pipeline; when attachments are wanted, the slow starts (parser
        processes, a space's bulk attachment listing) begin at once, alongside the listing."""
        files = dataclasses.replace(self._file_settings(request), originals=held.original_files)
        if request.include_attachments:
            if needs_workers(files.file_extractor, files.originals):
                pool.warm()
            for space_key in request.whole_space_keys():
                listings.prefetch(space_key)
        return PageAttachments(
            listings, self.images, files, pool, self.base_url, report, held.attachments
        )

    async def _upserts(
        self,
        extras: PageExtras,
        records: AsyncIterator[PageRecord],
        held: Held,
        request: LoadRequest,
        report: ImportReport,
    ) -> AsyncIterator[PageUpsert]:
        """Pages in order; the attachments (and comments) of the next few pages download while
        earlier pages are yielded."""
        window: Window = collections.deque()
        backlog = extras.attachments.backlog
        people = People(extras.attachments.listings.client)
        try:
            skipped = 0
            async for record in records:
                if skipped < request.start:  # the incumbent's paging: pages before `start`
                    skipped += 1
                    continue
                emit(PageDataFetchStartedEvent, page_id=record.id)
                names = await people.learn(record.body)
                converted = self._convert(record, report, names)
                if converted is None:
                    continue
                fetch = None
                if request.include_attachments or extras.wanted:
                    wanted = extras.of(record, converted, request.include_attachments)
                    fetch = asyncio.ensure_future(wanted)
                    await asyncio.sleep(0)  # a page without files is done at once: not waiting
                window.append((record, converted, fetch))
                while window and (step := self._next_step(window, backlog)) != "take":
                    if step == "wait":
                        await backlog.fewer_downloading(self.max_concurrency * 2)
                    else:
                        yield await self._upsert(*window.popleft(), held.pages, report, names)
            while window:
                yield await self._upsert(*window.popleft(), held.pages, report, names)
        finally:
            pending = [fetch for _, _, fetch in window if fetch is not None]
            for fetch in pending:
                fetch.cancel()
            await asyncio.gather(*pending, return_exceptions=True)  # their clean-up runs now

    def _next_step(self, window: Window, backlog: Backlog) -> str:
        """What to do before taking in another page: "release" the first page (its attachments
        are in, or too much is held: pages, or downloaded bytes waiting for a parser), "wait"
        while many pages are still downloading, or "take" the next page. Waiting is for any
        download to finish, not for the first page, which may be waiting for a parser."""
        first = window[0][2]
        if first is None or first.done():
            return "release"
        if len(window) > WINDOW_MAX or backlog.unparsed_bytes > UNPARSED_MAX:
            return "release"
        if backlog.downloading_pages > self.max_concurrency * 2:
            return "wait"
        return "take"

    def _file_settings(self, request: LoadRequest) -> FileSettings:
        """The constructor's attachment options, with the call's own winning."""
        return dataclasses.replace(
            self.files,
            attachment_filter=request.attachment_filter or self.files.attachment_filter,
            file_extractor={**self.files.file_extractor, **(request.file_extractor or {})},
        )

    async def _upsert(
        self,
        record: PageRecord,
        converted: ConvertedBody,
        fetch: asyncio.Task[Extras] | None,
        known: Mapping[str, Fingerprint | None],
        report: ImportReport,
        names: Mapping[str, str],
    ) -> PageUpsert:
        report.pages += 1
        attached, comments, found = await fetch if fetch is not None else (Attached(""), None, None)
        markdown = converted.markdown
        if comments is not None:
            context = ConversionContext(self.base_url, record.id, record.space.key, names)
            section = comments_section(
                comments, lambda body: self._comment_text(body, context, report)
            )
            markdown = f"{markdown.rstrip()}\n\n{section}" if section else markdown
        document = page_document(record, markdown, self.base_url)
        if comments is not None:
            document.metadata["comment_count"] = len(comments)
        audience = None if found is None else self._audience(record.id, found, report)
        if audience is not None:
            for labelled in (document, *attached.images, *attached.files):
                labelled.metadata.update(audience.metadata())
        footprint = Fingerprint.of(
            record.version,
            record.path,
            files=attached.digest or None,
            comments=None if comments is None else comments_digest(comments),
            audience=None if audience is None else audience.digest(),
        )
        emit(PageDataFetchCompletedEvent, page_id=record.id, document=document)
        return PageUpsert(
            document,
            attached.images,
            footprint.stored(),
            record.id not in known,
            attached.files,
            attached.kept,
            attached.fingerprints,
            attached.originals,
        )

    @staticmethod
    def _audience(
        page_id: str, found: tuple[Audience, str | None], report: ImportReport
    ) -> Audience:
        audience, unknown = found
        if unknown is not None:
            report.audience_unknown(page_id, unknown)
        return audience

    @staticmethod
    def _comment_text(body: str, context: ConversionContext, report: ImportReport) -> str:
        """A comment's body in Markdown; one that cannot be converted is left out (its heading
        stays) and reported, never replaced by error text."""
        try:
            return storage_to_markdown(body, context).markdown
        except Exception as exc:  # one unreadable comment must not cost the page
            reason = f"a comment could not be converted ({type(exc).__name__}: {exc})"
            report.skip(context.page_id, reason, None)
            return ""

    def _convert(
        self, record: PageRecord, report: ImportReport, names: Mapping[str, str] | None = None
    ) -> ConvertedBody | None:
        try:
            context = ConversionContext(self.base_url, record.id, record.space.key, names or {})
            return storage_to_markdown(record.body, context)
        except Exception as exc:  # one broken page must not end the run
            self._fail(report, record.id, f"{type(exc).__name__}: {exc}")
            return None

    def _fail(self, report: ImportReport, page_id: str, reason: str) -> None:
        report.fail(page_id, reason)
        emit(PageFailedEvent, page_id=page_id, error=reason)
        if self.fail_on_error:
            raise ConfluenceError(f"page {page_id} failed: {reason}")

    def _client(self) -> ConfluenceClient:
        return ConfluenceClient(
            self.base_url,
            self._credential,
            gateway_url=self.api_gateway_url,
            auth_server_url=self.auth_server_url,
            cloud_id=self.cloud_id,
            transport=self.transport,
            max_concurrency=self.max_concurrency,
            max_points_per_hour=self.max_points_per_hour,
            retry=self.retry,
            timeout=self.timeout,
            verify=self.verify,
        )

    # ---- browsing -----------------------------------------------------------------------------

    def list_spaces(
        self, include_personal: bool = False, keywords: str | Iterable[str] | None = None
    ) -> list[SpaceSummary]:
        """The spaces this user can read (personal ones only when asked), filtered by keywords."""
        words = keywords_of(keywords)
        return run_sync(
            lambda: self._with_tree(lambda tree: list_spaces(tree, include_personal, words))
        )

    def picker(self, url_or_space_key: str) -> Picker:
        """A space's (or page's, or folder's) tree with checkboxes, for a notebook (the
        `[notebook]` extra); `load_data(**picker.selection)` imports what is ticked."""
        from .notebook import Picker, widgets

        widgets()  # before the tree is fetched: say at once when ipywidgets is missing
        text = url_or_space_key.strip() if isinstance(url_or_space_key, str) else ""
        chosen = parse_url(text, self.base_url) if "://" in text else None
        space_key = chosen.space_key if isinstance(chosen, SpaceSelection) else None
        if chosen is None and text and not text.isdigit():
            space_key = text
        return Picker(self.browse(url_or_space_key), self.base_url, space_key)

    def browse(
        self,
        url_or_space_key: str,
        page_status: str | Iterable[str] | None = None,
        *,
        one_level: bool = False,
    ) -> PageTree:
        """The page tree of a space (key or URL), page or folder, with ids to select from.

        `one_level=True` reads only its first level (a space's root pages and folders, or the
        page or folder with what is right under it), a few requests however large the space;
        `level_below(node)` opens a node whose `has_children` says there is more."""
        request = self._browse_request(url_or_space_key, page_status)
        shape = first_level if one_level else page_tree
        return run_sync(lambda: self._with_tree(lambda tree: shape(tree, request)))

    def level_below(
        self,
        node: PageNode | str,
        kind: str = "page",
        page_status: str | Iterable[str] | None = None,
    ) -> list[PageNode]:
        """The pages and folders right under a page or folder (a node of `browse`, or an id
        with its kind), in Confluence's order, each saying whether it has more under it."""
        node_id, node_kind = (node.id, node.kind) if isinstance(node, PageNode) else (node, kind)
        if node_kind not in ("page", "folder"):
            raise BadArgumentError(
                f"only pages and folders have pages under them, not {node_kind!r}"
            )
        wanted = statuses(page_status)
        checked = parse_page_id(node_id, f"{node_kind} id")
        return run_sync(
            lambda: self._with_tree(lambda tree: level_below(tree, checked, node_kind, wanted))
        )

    def _browse_request(
        self, url_or_space_key: str, page_status: str | Iterable[str] | None
    ) -> LoadRequest:
        if not isinstance(url_or_space_key, str) or not url_or_space_key.strip():
            raise BadArgumentError("browse takes a space key, or a space, page or folder URL")
        text = url_or_space_key.strip()
        selection: Selection
        if "://" in text:
            selection = parse_url(text, self.base_url)
        elif text.isdigit():
            selection = PageSelection(parse_page_id(text))
        else:
            selection = SpaceSelection(text)
        if isinstance(selection, InstanceSelection):
            raise BadArgumentError("that is the site's address: list_spaces() lists its spaces")
        return LoadRequest((selection,), statuses(page_status), include_children=True)

    def viewer(self, account_id: str) -> Viewer:
        """A user as the permission-aware searches take them (`audience_filters`,
        `LocalCollection.search(viewer=...)`): their account id and groups, read through the API."""
        if not isinstance(account_id, str) or not account_id.strip():
            raise BadArgumentError("viewer takes an Atlassian account id such as '557058:...'")

        async def read() -> Viewer:
            async with self._client() as client:
                return await viewer_of(client, account_id.strip())

        return run_sync(read)

    async def _with_tree(self, work: Callable[[SiteTree], Awaitable[T]]) -> T:
        async with self._client() as client:
            return await work(SiteTree(client))


@dataclasses.dataclass(frozen=True)
class Held:
    """What a sync target holds (page and attachment fingerprints) and wants (original files)."""

    pages: Mapping[str, Fingerprint | None] = dataclasses.field(default_factory=dict)
    attachments: Mapping[str, str] = dataclasses.field(default_factory=dict)
    original_files: frozenset[str] = frozenset()
    relabel: bool = False  # the target re-labels documents in place
    since: datetime | None = None  # list only what changed since (recent.py)


@dataclasses.dataclass(frozen=True)
class PageExtras:
    """What a page brings besides its body, fetched while earlier pages are handed over."""

    attachments: PageAttachments
    comments: CommentListings | None
    permissions: Permissions | None = None

    @property
    def wanted(self) -> bool:
        """Whether anything besides attachments is fetched per page."""
        return self.comments is not None or self.permissions is not None

    async def of(self, record: PageRecord, converted: ConvertedBody, files: bool) -> Extras:
        async def no_files() -> Attached:
            return Attached("")

        async def nothing() -> None:
            return None

        comments, permissions = self.comments, self.permissions
        attached, found, audience = await asyncio.gather(
            self.attachments.of(record, converted) if files else no_files(),
            comments.of_page(record.id, record.space.key, record.content_type)
            if comments is not None
            else nothing(),
            permissions.audience(record) if permissions is not None else nothing(),
        )
        return attached, found, audience


def _relabel(stored: Fingerprint | None, item: Listed, in_place: bool) -> PageRelabel | None:
    """A stored page whose content is unchanged and whose audience alone changed, re-labelled
    in place when the target can (else it is fetched again)."""
    if stored is None or item.audience is None or not in_place:
        return None
    if not stored.same_content(item.fingerprint):
        return None
    return PageRelabel(item.id, item.audience.metadata(), item.fingerprint.stored())


def _parsed(known: Mapping[str, str]) -> dict[str, Fingerprint | None]:
    """What a target holds, parsed; None where the text is of no known form (such a page is
    fetched again)."""
    return {page_id: Fingerprint.parse(text) for page_id, text in known.items()}


def _listed_whole(request: LoadRequest, space_key: str) -> bool:
    """Attachments in bulk for a space imported whole, current pages only (CQL search lists
    the attachments of current pages)."""
    return request.statuses == ("current",) and request.imports_whole(space_key)


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
