"""ConfluenceReader: the face users call. A load call's arguments -> one LoadRequest -> a run
(run.py) -> documents; browse, picker and viewer read the site for choosing what to import.

The constructor's arguments become one `ReaderSettings` (settings.py), checked at once; the
reader holds nothing else but the last run's report.
"""

from __future__ import annotations

import logging
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document

from .audience import Viewer
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
from .client import ConfluenceClient, Connection, RetryPolicy
from .clock import parse_time
from .credential_store import CredentialStore
from .credentials import ConfluenceCredential, OAuthCredential
from .errors import BadArgumentError
from .files import DEFAULT_MAX_FILE_BYTES, PARSE_TIMEOUT, AttachmentInfo
from .held import Held
from .images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from .kept_tree import KeptTree
from .permissions import viewer_of
from .recent import listed_by_space
from .report import Change, ImportReport, PageUpsert
from .routes import TREE_KINDS
from .run import run_changes
from .selection import LoadRequest, parse_request, statuses
from .selection import keywords as keywords_of
from .settings import (
    ReaderSettings,
    chosen_credential,
    file_settings,
    http_settings,
    image_settings,
    site_of,
)
from .tree import SiteTree
from .urls import InstanceSelection, classify, parse_page_id

if TYPE_CHECKING:
    from .notebook import Picker

T = TypeVar("T")


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
        store = credential_store or CredentialStore() if credential_id else None
        site = site_of(base_url, store.site(credential_id) if store and credential_id else "")
        credential = chosen_credential(
            user_name=user_name,
            api_token=api_token,
            password=password,
            credentials=credentials,
            credential_id=credential_id,
            credential_store=store,
            oauth2=oauth2,
            scoped_token=scoped_token,
        )
        http = http_settings(
            api_gateway_url=api_gateway_url,
            auth_server_url=auth_server_url,
            transport=transport,
            max_concurrency=max_concurrency,
            max_points_per_hour=max_points_per_hour,
            timeout=timeout,
            retry=retry,
            verify=verify,
            client_args=client_args,
        )
        self.settings = ReaderSettings(
            Connection(site, credential, http, cloud_id),
            image_settings(image_max_bytes, image_max_pixels, include_svg),
            file_settings(
                max_file_bytes=max_file_bytes,
                attachment_filter=attachment_filter,
                file_extractor=file_extractor,
                custom_parsers=custom_parsers,
                process_attachment_callback=process_attachment_callback,
                custom_folder=custom_folder,
            ),
            parse_timeout,
            fail_on_error,
            process_document_callback,
            logger,
        )
        self.last_report = ImportReport()

    def __repr__(self) -> str:
        return f"ConfluenceReader(base_url={self.base_url!r}, auth={self.credential_kind!r})"

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    @property
    def credential_kind(self) -> str:
        return self.settings.connection.credential.kind

    @property
    def max_concurrency(self) -> int:
        return self.settings.connection.http.max_concurrency

    def client(self) -> ConfluenceClient:
        """An async client on this reader's site and credential (use it as `async with`), for
        API calls the reader does not make: the same retries, quota pacing and credential
        rules."""
        return ConfluenceClient(self.settings.connection)

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
        plain = Held(stores=False)  # documents only: no target stores their fingerprints
        async with aclosing(self._run(request, plain, ImportReport())) as changes:
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
        files_since: str | None = None,
        kept_tree: KeptTree | None = None,
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
        have changed since is listed (recent.py), and only pages found in the trash are
        removed. With `files_since` (a full listing only), the attachments of pages in `known`
        are taken as they were, save those changed or trashed since that time (files deleted
        for good are then not noticed). `kept_tree` (kept_tree.py) is what a target kept of the tree: a run with `since`
        starts from it instead of asking for ancestors again, and every run rewrites it with
        what it learnt.
        """
        request = self.request(**selection)
        if since is not None and not listed_by_space(request):
            raise BadArgumentError(
                "since= covers whole spaces and the site only; list other selections in full "
                "(leave since out)"
            )
        held = Held.parsed(
            known,
            attachments=known_attachments or {},
            original_files=frozenset(original_files),
            relabel=relabel,
            since=None if since is None or not known else parse_time(since),
            tree=kept_tree,
            files_since=None
            if files_since is None or since is not None
            else parse_time(files_since),
        )
        async for change in self._run(request, held, report or ImportReport()):
            yield change

    def _run(
        self, request: LoadRequest, held: Held, report: ImportReport
    ) -> AsyncGenerator[Change, None]:
        self.last_report = report
        return run_changes(self.settings, request, held, report)

    def get_next_cursor(self) -> str | None:
        """After a `cql=` load: the cursor that resumes the query where it stopped (pass it as
        `cursor=`), or None when every hit was taken."""
        return self.last_report.next_cursor

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
        """A site's spaces, or a space's (or page's, or folder's) tree, with checkboxes, for a
        notebook (the `[notebook]` extra), read a level at a time as nodes are opened;
        `picker.load()` imports what is ticked."""
        from .notebook import Picker, widgets

        widgets()  # before anything is fetched: say at once when ipywidgets is missing
        text = url_or_space_key.strip() if isinstance(url_or_space_key, str) else ""
        if text and isinstance(classify(text, self.base_url), InstanceSelection):
            spaces = [
                PageNode(space.key, f"{space.name} ({space.key})", "space", more_below=True)
                for space in self.list_spaces()
            ]
            return Picker(
                f"{len(spaces)} spaces", spaces, self.base_url, self._below, self.load_data
            )
        tree = self.browse(url_or_space_key, one_level=True)
        nodes = [*tree.roots, *tree.blog_posts]
        return Picker(tree.title, nodes, self.base_url, self._below, self.load_data, tree.space_key)

    def _below(self, node: PageNode) -> list[PageNode]:
        """What is right under a node the picker opens: a space's first level, or a level."""
        if node.kind == "space":
            tree = self.browse(node.id, one_level=True)
            return [*tree.roots, *tree.blog_posts]
        return self.level_below(node)

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
        if node_kind not in TREE_KINDS:
            raise BadArgumentError(
                f"only pages, folders, whiteboards, databases and embeds have pages under "
                f"them, not {node_kind!r}"
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
        selection = classify(url_or_space_key, self.base_url)
        if isinstance(selection, InstanceSelection):
            raise BadArgumentError("that is the site's address: list_spaces() lists its spaces")
        return LoadRequest((selection,), statuses(page_status), include_children=True)

    def viewer(self, account_id: str) -> Viewer:
        """A user as the permission-aware searches take them (`audience_filters`,
        `LocalCollection.search(viewer=...)`): their account id and groups, read through the API."""
        if not isinstance(account_id, str) or not account_id.strip():
            raise BadArgumentError("viewer takes an Atlassian account id such as '557058:...'")

        async def read() -> Viewer:
            async with self.client() as client:
                return await viewer_of(client, account_id.strip())

        return run_sync(read)

    async def _with_tree(self, work: Callable[[SiteTree], Awaitable[T]]) -> T:
        async with self.client() as client:
            return await work(SiteTree(client))
