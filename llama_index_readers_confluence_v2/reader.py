"""ConfluenceReader: arguments -> selection -> documents (orchestration only)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document
from tqdm.auto import tqdm

from .attachments import FetchedImage, ImageSettings, fetch_page_images
from .auth import ConfluenceCredential, credential_from_arguments
from .browse import PageTree, SpaceSummary, list_spaces, page_tree
from .client import ConfluenceClient, RetryPolicy
from .documents import PageRecord, image_document, page_document
from .errors import BadArgumentError, ConfluenceError
from .images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from .inventory import Inventory, fingerprint
from .oauth import OAuthCredential
from .people import People
from .storage import ConversionContext, ConvertedBody, storage_to_markdown
from .store import CredentialStore
from .traversal import Walker, WalkOptions
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

logger = logging.getLogger(__name__)

DEFAULT_GATEWAY_URL = "https://api.atlassian.com"
DEFAULT_AUTH_SERVER_URL = "https://auth.atlassian.com"
PAGE_STATUSES = ("current", "archived")
T = TypeVar("T")


@dataclass
class Failure:
    """A page (or image) that could not be imported, and why."""

    page_id: str
    reason: str
    attachment_id: str | None = None


@dataclass
class PageUpsert:
    """A new or changed page, with its images and the fingerprint to store."""

    document: Document
    images: list[Document]
    fingerprint: str
    is_new: bool


@dataclass(frozen=True)
class PageUnchanged:
    page_id: str


@dataclass(frozen=True)
class PageRemoval:
    """A page the target holds that is no longer in the selection."""

    page_id: str


Change = PageUpsert | PageUnchanged | PageRemoval


@dataclass
class ImportReport:
    """What the last run did: read it from `reader.last_report` after loading."""

    pages: int = 0
    images: int = 0
    unchanged: int = 0
    failures: list[Failure] = field(default_factory=list)
    skipped_images: list[Failure] = field(default_factory=list)
    requests: int = 0
    seen_images: set[tuple[str, str]] = field(default_factory=set, repr=False)

    @property
    def failed_page_ids(self) -> list[str]:
        return [failure.page_id for failure in self.failures]


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
        api_gateway_url: str = DEFAULT_GATEWAY_URL,
        auth_server_url: str = DEFAULT_AUTH_SERVER_URL,
        max_concurrency: int = 8,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
        fail_on_error: bool = False,
        image_max_bytes: int = DEFAULT_MAX_BYTES,
        image_max_pixels: int = DEFAULT_MAX_PIXELS,
        include_svg: bool = True,
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
        for url, what in (
            (api_gateway_url, "api_gateway_url"),
            (auth_server_url, "auth_server_url"),
        ):
            check_scheme(url, what)
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise BadArgumentError("max_concurrency must be a whole number of at least 1")
        self.api_gateway_url = api_gateway_url.rstrip("/")
        self.auth_server_url = auth_server_url.rstrip("/")
        self.cloud_id = cloud_id
        self.max_concurrency = max_concurrency
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
        self.last_report = ImportReport()

    def __repr__(self) -> str:
        return f"ConfluenceReader(base_url={self.base_url!r}, auth={self._credential.kind!r})"

    # ---- loading ------------------------------------------------------------------------------

    def load_data(self, *args: Any, **load_kwargs: Any) -> list[Document]:
        """Everything selected, as a list (see `lazy_load_data` for the arguments)."""
        return list(self.lazy_load_data(*args, **load_kwargs))

    def lazy_load_data(self, *args: Any, **load_kwargs: Any) -> Iterator[Document]:  # type: ignore[override]
        """Stream Documents; works inside a running event loop (a notebook) too."""
        self._plan(**_positional(args, load_kwargs))  # bad arguments fail here, at once
        return _iterate_in_thread(lambda: self.alazy_load_data(*args, **load_kwargs))

    async def aload_data(self, *args: Any, **load_kwargs: Any) -> list[Document]:
        return [document async for document in self.alazy_load_data(*args, **load_kwargs)]

    async def alazy_load_data(  # type: ignore[override]
        self,
        space_key: str | None = None,
        page_ids: str | int | Iterable[str | int] | None = None,
        url: str | Iterable[str] | None = None,
        *,
        folder_id: str | int | None = None,
        include_children: bool = False,
        include_attachments: bool = False,
        include_personal_spaces: bool = False,
        space_filter: str | Iterable[str] | None = None,
        page_status: str | Iterable[str] | None = None,
        max_num_results: int | None = None,
        show_progress: bool = False,
    ) -> AsyncIterator[Document]:
        """Stream the selected pages as Markdown Documents, parents before children.

        Select with `space_key`, `page_ids` (one or a list, str or int), `url` (one or a list of
        page, space, folder, tiny-link or site URLs) or `folder_id`.
        """
        selections, options, limit = self._plan(
            space_key,
            page_ids,
            url,
            folder_id,
            include_children,
            include_personal_spaces,
            space_filter,
            page_status,
            max_num_results,
        )
        count = 0
        async for change in self._changes(
            {}, selections, options, include_attachments, show_progress
        ):
            if not isinstance(change, PageUpsert):
                continue
            yield change.document
            for image in change.images:
                yield image
            count += 1
            if limit is not None and count >= limit:
                break

    async def achanges(
        self, known: Mapping[str, str], *, show_progress: bool = False, **selection: Any
    ) -> AsyncIterator[Change]:
        """What changed since a target stored `known` ({page id: fingerprint}) for this selection.

        Yields `PageUpsert` for new and changed pages (bodies fetched only for those),
        `PageUnchanged` for the rest and, once the listing is complete, `PageRemoval` for pages
        that left the selection (deleted, moved out, restricted). With nothing known, it is a
        plain import.
        """
        selections, options, _ = self._plan(**selection)
        include_attachments = bool(selection.get("include_attachments", False))
        async for change in self._changes(
            known, selections, options, include_attachments, show_progress
        ):
            yield change

    async def _changes(
        self,
        known: Mapping[str, str],
        selections: list[Selection],
        options: WalkOptions,
        include_attachments: bool,
        show_progress: bool,
    ) -> AsyncIterator[Change]:
        report = ImportReport()
        self.last_report = report
        progress = tqdm(desc="Confluence pages", unit="page", disable=not show_progress)
        try:
            async with self._client() as client:
                walker = Walker(client, options)
                try:
                    if not known:
                        records = walker.records(selections)
                        async for change in self._upserts(
                            client, records, known, include_attachments, report
                        ):
                            progress.update(1)
                            yield change
                        return
                    inventory = Inventory(walker)
                    listed = await inventory.listing(selections)
                    changed = [item for item in listed if known.get(item.id) != item.fingerprint]
                    for item in listed:
                        if known.get(item.id) == item.fingerprint:
                            report.unchanged += 1
                            progress.update(1)
                            yield PageUnchanged(item.id)
                    records = inventory.records(changed)
                    async for change in self._upserts(
                        client, records, known, include_attachments, report
                    ):
                        progress.update(1)
                        yield change
                    for page_id in sorted(set(known) - {item.id for item in listed}, key=int):
                        yield PageRemoval(page_id)
                finally:
                    report.requests = client.requests_made
                    for page_id in walker.vanished:
                        self._fail(report, page_id, "deleted or restricted during the import")
        finally:
            progress.close()

    async def _upserts(
        self,
        client: ConfluenceClient,
        records: AsyncIterator[PageRecord],
        known: Mapping[str, str],
        include_attachments: bool,
        report: ImportReport,
    ) -> AsyncIterator[PageUpsert]:
        """Pages in order; the images of the next few pages download while earlier ones are yielded."""
        window: collections.deque[
            tuple[PageRecord, ConvertedBody, asyncio.Task[list[Document]] | None]
        ]
        window = collections.deque()
        people = People(client)
        try:
            async for record in records:
                converted = self._convert(record, report, await people.learn(record.body))
                if converted is None:
                    continue
                fetch = None
                if include_attachments and converted.images:
                    fetch = asyncio.ensure_future(self._images(client, record, converted, report))
                window.append((record, converted, fetch))
                while window and (len(window) > self.max_concurrency * 2 or window[0][2] is None):
                    yield await self._upsert(*window.popleft(), known, report)
            while window:
                yield await self._upsert(*window.popleft(), known, report)
        finally:
            for _, _, fetch in window:
                if fetch is not None:
                    fetch.cancel()

    async def _upsert(
        self,
        record: PageRecord,
        converted: ConvertedBody,
        fetch: asyncio.Task[list[Document]] | None,
        known: Mapping[str, str],
        report: ImportReport,
    ) -> PageUpsert:
        report.pages += 1
        document = page_document(record, converted.markdown, self.base_url)
        images = await fetch if fetch is not None else []
        footprint = fingerprint(record.version, document.metadata["path"])
        return PageUpsert(document, images, footprint, record.id not in known)

    def _convert(
        self, record: PageRecord, report: ImportReport, names: Mapping[str, str] | None = None
    ) -> ConvertedBody | None:
        try:
            context = ConversionContext(self.base_url, record.id, record.space.key, names or {})
            return storage_to_markdown(record.body, context)
        except Exception as exc:  # one broken page must not end the run
            self._fail(report, record.id, f"{type(exc).__name__}: {exc}")
            return None

    async def _images(
        self,
        client: ConfluenceClient,
        record: PageRecord,
        converted: ConvertedBody,
        report: ImportReport,
    ) -> list[Document]:
        fresh = tuple(
            ref for ref in converted.images if (record.id, ref.file_name) not in report.seen_images
        )
        documents: list[Document] = []
        for outcome in await fetch_page_images(client, record.id, fresh, self.images):
            report.seen_images.add((record.id, outcome.reference.file_name))
            if not isinstance(outcome, FetchedImage):
                skipped = Failure(
                    record.id,
                    f"{outcome.reference.file_name}: {outcome.reason}",
                    outcome.attachment_id,
                )
                report.skipped_images.append(skipped)
                logger.warning("skipped image on page %s: %s", record.id, skipped.reason)
                continue
            report.images += 1
            documents.append(
                image_document(
                    record,
                    self.base_url,
                    attachment_id=outcome.attachment_id,
                    file_name=outcome.reference.file_name,
                    alt=outcome.reference.alt,
                    url=outcome.reference.url,
                    image_base64=outcome.base64,
                    mimetype=outcome.image.mimetype,
                    width=outcome.image.width,
                    height=outcome.image.height,
                )
            )
        return documents

    def _fail(self, report: ImportReport, page_id: str, reason: str) -> None:
        failure = Failure(page_id, reason)
        report.failures.append(failure)
        if self.fail_on_error:
            raise ConfluenceError(f"page {page_id} failed: {reason}")
        logger.warning("skipped page %s: %s", page_id, reason)

    def _client(self) -> ConfluenceClient:
        return ConfluenceClient(
            self.base_url,
            self._credential,
            gateway_url=self.api_gateway_url,
            auth_server_url=self.auth_server_url,
            cloud_id=self.cloud_id,
            transport=self.transport,
            max_concurrency=self.max_concurrency,
            retry=self.retry,
            timeout=self.timeout,
            verify=self.verify,
        )

    # ---- browsing -----------------------------------------------------------------------------

    def list_spaces(
        self, include_personal: bool = False, keywords: str | Iterable[str] | None = None
    ) -> list[SpaceSummary]:
        """The spaces this user can read (personal ones only when asked), filtered by keywords."""
        return _run(
            self._with_walker(
                lambda walker: list_spaces(walker, include_personal, _keywords(keywords))
            )
        )

    def browse(
        self, url_or_space_key: str, page_status: str | Iterable[str] | None = None
    ) -> PageTree:
        """The page tree of a space (key or URL), page or folder, with ids to select from."""
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
        options = WalkOptions(statuses=_statuses(page_status))
        return _run(self._with_walker(lambda walker: page_tree(walker, selection), options))

    async def _with_walker(
        self, work: Callable[[Walker], Awaitable[T]], options: WalkOptions | None = None
    ) -> T:
        async with self._client() as client:
            return await work(Walker(client, options or WalkOptions()))

    # ---- selection ----------------------------------------------------------------------------

    def _plan(
        self,
        space_key: str | None = None,
        page_ids: str | int | Iterable[str | int] | None = None,
        url: str | Iterable[str] | None = None,
        folder_id: str | int | None = None,
        include_children: bool = False,
        include_personal_spaces: bool = False,
        space_filter: str | Iterable[str] | None = None,
        page_status: str | Iterable[str] | None = None,
        max_num_results: int | None = None,
        **_: Any,
    ) -> tuple[list[Selection], WalkOptions, int | None]:
        """Every argument checked before any request is made."""
        options = WalkOptions(
            statuses=_statuses(page_status),
            include_children=bool(include_children),
            include_personal_spaces=bool(include_personal_spaces),
            space_filter=_keywords(space_filter),
        )
        selections = self._selections(space_key, page_ids, url, folder_id)
        return selections, options, _max_results(max_num_results)

    def _selections(
        self,
        space_key: str | None = None,
        page_ids: str | int | Iterable[str | int] | None = None,
        url: str | Iterable[str] | None = None,
        folder_id: str | int | None = None,
    ) -> list[Selection]:
        selections: list[Selection] = []
        if space_key is not None:
            if not isinstance(space_key, str) or not space_key.strip():
                raise BadArgumentError("space_key must be a space key such as 'ENG'")
            selections.append(SpaceSelection(space_key.strip()))
        selections.extend(PageSelection(parse_page_id(i)) for i in _as_list(page_ids, "page_ids"))
        selections.extend(parse_url(u, self.base_url) for u in _as_list(url, "url"))
        if folder_id is not None:
            selections.append(PageSelection(parse_page_id(folder_id, "folder_id")))
        if not selections:
            raise BadArgumentError(
                "nothing to load: pass space_key='KEY', page_ids=[...], url='https://...' "
                "(a page, space, folder or site URL) or folder_id=..."
            )
        return selections


def _positional(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    names = ("space_key", "page_ids", "url")
    if len(args) > len(names):
        raise BadArgumentError("load_data takes at most space_key, page_ids and url positionally")
    return {**dict(zip(names, args, strict=False)), **kwargs}


def _as_list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise BadArgumentError(f"{name} takes one value or a list of them") from None


def _statuses(page_status: str | Iterable[str] | None) -> tuple[str, ...]:
    if page_status is None:
        return ("current",)
    values = [page_status] if isinstance(page_status, str) else list(page_status)
    statuses = tuple(
        part.strip() for value in values for part in str(value).split(",") if part.strip()
    )
    unknown = [status for status in statuses if status not in PAGE_STATUSES]
    if unknown or not statuses:
        raise BadArgumentError(
            f"page_status takes 'current', 'archived' or both; got {page_status!r}"
            + (" (drafts cannot be listed through the API)" if "draft" in unknown else "")
        )
    return statuses


def _keywords(space_filter: str | Iterable[str] | None) -> tuple[str, ...]:
    if space_filter is None:
        return ()
    values = [space_filter] if isinstance(space_filter, str) else list(space_filter)
    return tuple(str(value).strip() for value in values if str(value).strip())


def _max_results(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadArgumentError("max_num_results must be a positive whole number (or None)")
    return value


_DONE = object()


def _run(coroutine: Awaitable[T]) -> T:
    """Run a coroutine to completion, also from inside a running event loop (a notebook)."""

    async def one() -> AsyncIterator[T]:
        yield await coroutine

    return next(iter(_iterate_in_thread(one)))


def _iterate_in_thread(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Drive an async iterator on a private event loop in a thread; hand items over one by one.

    This is what lets `load_data` run inside a notebook's running loop, and it streams: the
    queue holds a few items, so the producer waits for the consumer.
    """
    items: queue.Queue[Any] = queue.Queue(maxsize=8)
    stop = threading.Event()

    async def pump() -> None:
        iterator = make()
        try:
            async for item in iterator:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        await asyncio.sleep(0)
                if stop.is_set():
                    break
        except BaseException as exc:
            items.put((_DONE, exc))
            return
        finally:
            await iterator.aclose()  # type: ignore[attr-defined]
        items.put((_DONE, None))

    thread = threading.Thread(target=lambda: asyncio.run(pump()), daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.05)
        thread.join()
