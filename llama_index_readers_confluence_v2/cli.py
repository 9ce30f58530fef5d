"""`confluence-v2`: thin command line over the library (parse, show progress, print).

Library errors become one line and a non-zero exit; `--debug` shows the traceback instead.
Secrets are read from a prompt or standard input, never from the command line.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from .app import DEFAULT_COLLECTION
from .errors import BadArgumentError, ConfluenceError, stops_the_run

F = TypeVar("F", bound=Callable[..., Any])


def _clean_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfluenceError, OSError) as error:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            hint = " (here: ingest --max-points-per-hour N)" if stops_the_run(error) else ""
            raise click.ClickException(_one_line(error) + hint) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def _summary_reports_skips() -> Iterator[None]:
    """The summary lists every skip and failure: do not also log them while the run goes."""
    report_log = logging.getLogger("llama_index_readers_confluence_v2.report")
    before = report_log.propagate, report_log.disabled
    report_log.propagate, report_log.disabled = False, True
    try:
        yield
    finally:
        report_log.propagate, report_log.disabled = before


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return " ".join(text.split())


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--store",
    envvar="CONFLUENCE_V2_CREDENTIALS",
    type=click.Path(dir_okay=False),
    help="Credential store file (default: your config directory).",
)
@click.option(
    "--api-gateway-url",
    envvar="CONFLUENCE_API_GATEWAY_URL",
    default="https://api.atlassian.com",
    hidden=True,
)
@click.option(
    "--auth-server-url",
    envvar="CONFLUENCE_AUTH_SERVER_URL",
    default="https://auth.atlassian.com",
    hidden=True,
)
@click.pass_context
def main(
    ctx: click.Context, debug: bool, store: str | None, api_gateway_url: str, auth_server_url: str
) -> None:
    """Import Confluence Cloud into RAG collections."""
    ctx.obj = {
        "store": store,
        "api_gateway_url": api_gateway_url,
        "auth_server_url": auth_server_url,
    }


# ---- demo ---------------------------------------------------------------------------------------


@main.command()
@click.option("--pages", default=200, show_default=True, help="Size of the generated site.")
@click.option("--space", default="DOCS", show_default=True, help="Space key to import.")
@click.option(
    "--to",
    "target",
    type=click.Path(dir_okay=False),
    help="Collection file (default: a fresh temporary one).",
)
@click.option(
    "--to-index",
    "index_dir",
    type=click.Path(file_okay=False),
    help="Sync into a LlamaIndex vector index kept in this folder instead (a words-only "
    "embedding that needs no model).",
)
@_clean_errors
def demo(pages: int, space: str, target: str | None, index_dir: str | None) -> None:
    """Run the bundled Confluence emulator and import a space with its images, files, blog
    posts and comments, offline."""
    from .sinks import LocalCollection
    from .sync import sync

    if index_dir:
        _demo_index(pages, space, Path(index_dir))
        return
    path = (
        Path(target)
        if target
        else Path(tempfile.mkdtemp(prefix="confluence-v2-demo-")) / "wiki.sqlite"
    )
    with (
        _demo_reader(pages) as reader,
        LocalCollection(path) as collection,
        _summary_reports_skips(),
    ):
        report = sync(
            reader,
            collection,
            space_key=space,
            include_attachments=True,
            include_blog_posts=True,
            include_comments=True,
            show_progress=True,
        )
        counts = collection.counts()
        paths = [d.metadata["path"] for _, d in zip(range(5), collection.documents(), strict=False)]
        hits = collection.search("incident runbook")
        discussed = collection.search("single sign-on revision")
    click.echo(
        f"Imported space {space}: {report.summary()}, in {report.requests} API requests "
        f"({report.points:,} API points)"
    )
    click.echo(
        f"Local collection {path}: {counts['pages']} pages, {counts['images']} images, "
        f"{counts['attachments']} attached files"
    )
    for item in paths:
        click.echo(f"  {item}")
    _print_skips(report)
    for query, found in (("incident runbook", hits), ("single sign-on revision", discussed)):
        click.echo(f'\nSearch "{query}":')
        for hit in found[:3]:
            click.echo(f"  {hit.title} - {hit.path}\n    {' '.join(hit.snippet.split())}")


@contextlib.contextmanager
def _demo_reader(pages: int) -> Iterator[Any]:
    """A reader of the bundled emulator, served on loopback while the block runs."""
    from .emulator import Emulator
    from .reader import ConfluenceReader

    emulator = Emulator(pages=pages)
    account = emulator.user()
    with emulator.serve():
        click.echo(f"Emulated Confluence site at {emulator.base_url} ({pages} pages)")
        yield ConfluenceReader(
            emulator.base_url,
            user_name=account.email,
            api_token=account.api_token,
            api_gateway_url=emulator.gateway_url,
            auth_server_url=emulator.auth_url,
        )


def _demo_index(pages: int, space: str, folder: Path) -> None:
    """The demo space synced into a vector index kept in `folder`, then asked a question."""
    from .embedding import HashingEmbedding
    from .sinks import IndexTarget
    from .sync import sync

    with _demo_reader(pages) as reader:
        target = IndexTarget.open(folder, HashingEmbedding())
        with _summary_reports_skips():
            report = sync(reader, target, space_key=space, include_attachments=True)
    click.echo(
        f"Vector index {folder}: {report.summary()}; {target.embedded} chunks embedded, "
        f"{report.points:,} API points"
    )
    click.echo('\nNearest to "incident runbook":')
    for hit in target.index.as_retriever(similarity_top_k=3).retrieve("incident runbook"):
        click.echo(f"  {hit.node.metadata.get('title')} - {hit.node.metadata.get('path')}")


# ---- the screen ---------------------------------------------------------------------------------


@main.command()
@click.option("--port", default=0, show_default=True, help="Port on 127.0.0.1 (0: a free one).")
@click.option("--no-open", is_flag=True, help="Print the address instead of opening a browser.")
@click.option(
    "--to",
    "collection_path",
    type=click.Path(dir_okay=False),
    default=DEFAULT_COLLECTION,
    show_default=True,
    help="The local collection imports go to (changeable on the screen).",
)
@click.option(
    "--demo", is_flag=True, help="Against the bundled emulator, with its credential stored."
)
@click.pass_obj
@_clean_errors
def ui(obj: dict[str, Any], port: int, no_open: bool, collection_path: str, demo: bool) -> None:
    """The browse-and-pick screen in your browser: pick a credential, browse, tick pages and
    folders, add them to a collection, search it. Ctrl-C stops it."""
    import signal
    import threading
    import webbrowser

    from .webui import INSTALL_HINT, running

    options = _endpoints(obj)
    signal.signal(signal.SIGTERM, _interrupted)  # cleaned up as on Ctrl-C (the demo's store)
    with contextlib.ExitStack() as stack:
        store, address = _store(obj), ""
        if demo:
            store, address, options = _demo_site(stack)
        try:
            url = stack.enter_context(
                running(store, collection_path, port=port, reader_options=options, address=address)
            )
        except ImportError:
            raise click.ClickException(INSTALL_HINT) from None
        click.echo(f"The import screen is at {url}")
        click.echo("(the address carries this run's token: open it as it is; Ctrl-C stops)")
        if not no_open:
            webbrowser.open(url)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("stopped")


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _demo_site(stack: contextlib.ExitStack) -> tuple[Any, str, dict[str, Any]]:
    """The bundled emulator served for the screen, its API token in a store of its own."""
    from .credential_store import CredentialStore
    from .credentials import ConfluenceCredential
    from .emulator import Emulator

    emulator = Emulator(pages=200)
    stack.enter_context(emulator.serve())
    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="confluence-v2-ui-"))
    store = CredentialStore(Path(folder) / "credentials.json", use_keyring=False)
    account = emulator.user()
    store.save(
        "demo", ConfluenceCredential(account.email, account.api_token), site=emulator.base_url
    )
    click.echo(f"Emulated Confluence site at {emulator.base_url} (credential 'demo')")
    options = {"api_gateway_url": emulator.gateway_url, "auth_server_url": emulator.auth_url}
    return store, emulator.base_url, options


# ---- browse -------------------------------------------------------------------------------------


@main.command()
@click.argument("address")
@click.option("--personal", is_flag=True, help="Include personal spaces (site addresses).")
@click.option(
    "--filter", "keywords", multiple=True, help="Keep spaces whose key or name holds this word."
)
@click.option("--credential", "credential_id", help="Stored credential id (see `auth list`).")
@click.pass_obj
@_clean_errors
def browse(
    obj: dict[str, Any],
    address: str,
    personal: bool,
    keywords: tuple[str, ...],
    credential_id: str | None,
) -> None:
    """List a site's spaces, or show the page tree of a space or page, with ids."""
    from .app import browse as browsed

    reader = _reader(obj, address, credential_id)
    shown = browsed(reader, address, personal=personal, keywords=keywords)
    if isinstance(shown, list):
        for space in shown:
            click.echo(str(space))
        click.echo(f"{len(shown)} spaces")
        return
    click.echo(str(shown))
    posts = f", {len(shown.blog_posts)} blog posts (import them with --blog-posts)"
    click.echo(f"{len(shown.page_ids())} pages" + (posts if shown.blog_posts else ""))


# ---- ingest -------------------------------------------------------------------------------------


@main.command()
@click.argument("targets", nargs=-1)
@click.option(
    "--label",
    "labels",
    multiple=True,
    help="Pages carrying this label (repeat for any of several); a space key narrows it.",
)
@click.option(
    "--children/--no-children", default=True, show_default=True, help="Include sub-pages of pages."
)
@click.option(
    "--images/--no-images",
    default=True,
    show_default=True,
    help="Import embedded images and attached files (PDF, Office, text).",
)
@click.option("--cql", help="What a CQL query matches (pages and blog posts).")
@click.option("--blog-posts", is_flag=True, help="With a space or site: its blog posts too.")
@click.option("--comments", is_flag=True, help="Append each page's comments to its text.")
@click.option(
    "--permissions",
    is_flag=True,
    help="Record who may read each page (searches can then answer per user).",
)
@click.option(
    "--split-by-audience",
    is_flag=True,
    help="With --h2ogpte: one collection per audience, named after --collection.",
)
@click.option(
    "--to",
    "collection_path",
    type=click.Path(dir_okay=False),
    help=f"Local collection file (default {DEFAULT_COLLECTION}).",
)
@click.option(
    "--h2ogpte",
    "h2ogpte_address",
    help="h2oGPTe address (API key from H2OGPTE_API_KEY or a prompt).",
)
@click.option("--collection", "collection_id", help="h2oGPTe collection id (with --h2ogpte).")
@click.option(
    "--to-index",
    "index_dir",
    type=click.Path(file_okay=False),
    help="A LlamaIndex vector index kept in this folder (in-memory store, persisted there).",
)
@click.option(
    "--embed-model",
    default="hashing",
    show_default=True,
    help="With --to-index: module:Class of a LlamaIndex embedding (e.g. "
    "llama_index.embeddings.openai:OpenAIEmbedding); `hashing` needs no model (words only).",
)
@click.option(
    "--base-url", envvar="CONFLUENCE_BASE_URL", help="Site address, needed when only ids are given."
)
@click.option("--credential", "credential_id", help="Stored credential id (see `auth list`).")
@click.option(
    "--status",
    "page_status",
    default="current",
    show_default=True,
    help="current, archived or current,archived.",
)
@click.option(
    "--full-every",
    type=click.FloatRange(min=0),
    help="Days between full listings of a space or site (they notice what the trash does not "
    "show: purges, moves out, restrictions; between them only changes are asked for). 0: every "
    "run. Default: 7, or every run with --permissions.",
)
@click.option(
    "--max-points-per-hour",
    type=click.FloatRange(min=100),
    help="Spend at most this many of Atlassian's API points an hour (OAuth apps share 65,000 an "
    "hour by default): a long run spreads itself over the hours it needs instead of stopping "
    "when the hour's quota is spent.",
)
@click.pass_obj
@_clean_errors
def ingest(
    obj: dict[str, Any],
    targets: tuple[str, ...],
    labels: tuple[str, ...],
    cql: str | None,
    children: bool,
    images: bool,
    blog_posts: bool,
    comments: bool,
    permissions: bool,
    split_by_audience: bool,
    collection_path: str | None,
    h2ogpte_address: str | None,
    collection_id: str | None,
    index_dir: str | None,
    embed_model: str,
    base_url: str | None,
    credential_id: str | None,
    page_status: str,
    full_every: float | None,
    max_points_per_hour: float | None,
) -> None:
    """Import pages, spaces or sites (URLs, page ids or space keys), or labelled pages
    (--label), into a local collection, a LlamaIndex vector index or h2oGPTe; re-runs
    import only changes."""
    from .sync import sync

    if not targets and not labels and not cql:
        raise BadArgumentError(
            "say what to import: page or space URLs, page ids, a space key, --label or --cql"
        )
    if h2ogpte_address and not collection_id:
        raise BadArgumentError(
            "--h2ogpte needs --collection ID (the h2oGPTe collection to import into)"
        )
    if split_by_audience and not (h2ogpte_address and permissions):
        raise BadArgumentError(
            "--split-by-audience needs --h2ogpte and --permissions (it splits by who may read)"
        )
    selection = _typed_selection(targets)
    first_url = selection["url"][0] if selection["url"] else None
    reader = _reader(obj, first_url, credential_id, base_url, max_points_per_hour)
    selection |= {
        "label": list(labels) or None,
        "cql": cql,
        "include_children": children,
        "include_attachments": images,
        "include_blog_posts": blog_posts,
        "include_comments": comments,
        "include_permissions": permissions,
        "page_status": page_status,
    }
    choice = _target(
        h2ogpte_address,
        collection_id,
        collection_path,
        split_by_audience,
        index_dir=index_dir,
        embed_model=embed_model,
    )
    target = choice.open()
    with _summary_reports_skips():
        report = sync(
            reader,
            target,
            show_progress=sys.stderr.isatty(),
            full_every=None if full_every is None else timedelta(days=full_every),
            **selection,
        )
    _print_sync(choice.description, report)


def _typed_selection(targets: tuple[str, ...]) -> dict[str, Any]:
    """What was typed, told apart (urls.typed_kind): addresses, page ids, one space key."""
    from .urls import typed_kind

    urls = [t for t in targets if typed_kind(t) == "address"]
    ids = [t for t in targets if typed_kind(t) == "id"]
    keys = [t for t in targets if typed_kind(t) == "key"]
    if len(keys) > 1:
        raise BadArgumentError("give one space key per run (or space URLs)")
    return {"url": urls or None, "page_ids": ids or None, "space_key": keys[0] if keys else None}


def _print_sync(where: str, report: Any) -> None:
    """A sync's summary: counts, cost, whether only changes were asked, what failed or was
    skipped."""
    click.echo(f"Imported into {where}: {report.summary()}")
    click.echo(f"  {report.requests:,} API requests, {report.points:,} API points")
    if not report.full_listing:
        click.echo(f"  asked only for changes since {report.since} (no full listing due)")
    for failure in report.failures:
        click.echo(f"  failed page {failure.page_id}: {failure.reason}")
    for unknown in report.unknown_audiences:
        click.echo(
            f"  audience unknown, page {unknown.page_id} marked restricted: {unknown.reason}"
        )
    _print_skips(report)


def _target(
    h2ogpte_address: str | None,
    collection_id: str | None,
    collection_path: str | None,
    split_by_audience: bool = False,
    *,
    index_dir: str | None = None,
    embed_model: str = "hashing",
) -> Any:
    from .app import TargetChoice

    api_key = None
    if h2ogpte_address and not (collection_path or index_dir):  # two targets: refused first
        api_key = os.environ.get("H2OGPTE_API_KEY") or click.prompt(
            "h2oGPTe API key", hide_input=True
        )
    return TargetChoice(
        collection_path,
        h2ogpte_address,
        collection_id,
        api_key,
        split_by_audience,
        index_dir,
        embed_model,
    )


def _print_skips(report: Any) -> None:
    for skipped in report.skipped_images:
        click.echo(f"  skipped image on page {skipped.page_id}: {skipped.reason}")
    for skipped in report.skipped:
        what = "attachment on page" if skipped.attachment_id else "content"
        click.echo(f"  skipped {what} {skipped.page_id}: {skipped.reason}")


# ---- search -------------------------------------------------------------------------------------


@main.command()
@click.argument("collection", type=click.Path())
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=10, show_default=True)
@click.option(
    "--as",
    "account_id",
    help="Answer as this Atlassian account id would see it (an import with --permissions).",
)
@click.option("--group", "groups", multiple=True, help="A group id of that account (repeat).")
@click.option("--anonymous", is_flag=True, help="Answer as someone not signed in would see it.")
@click.option(
    "--embed-model",
    default="hashing",
    show_default=True,
    help="For a vector index folder (--to-index): the embedding it was made with.",
)
@_clean_errors
def search(
    collection: str,
    query: tuple[str, ...],
    limit: int,
    account_id: str | None,
    groups: tuple[str, ...],
    anonymous: bool,
    embed_model: str,
) -> None:
    """Search a local collection (full text), or a vector index folder made with --to-index
    (nearest chunks); per user with --as or --anonymous."""
    from .audience import Viewer
    from .sinks import LocalCollection

    if anonymous and (account_id or groups):
        raise BadArgumentError("--anonymous answers for nobody signed in: drop --as and --group")
    if groups and not account_id:
        raise BadArgumentError("--group belongs to an account: pass --as ACCOUNT_ID too")
    viewer = Viewer(account_id, groups) if account_id else Viewer() if anonymous else None

    if Path(collection).is_dir():
        _search_index(Path(collection), " ".join(query), limit, viewer, embed_model)
        return
    if not Path(collection).is_file():
        raise BadArgumentError(
            f"no collection file {collection!r}; `confluence-v2 ingest ... --to {collection}` makes one"
        )
    with LocalCollection(collection) as opened:
        hits = opened.search(" ".join(query), limit=limit, viewer=viewer)
    for hit in hits:
        click.echo(f"{hit.title}  [{hit.path}]\n  {hit.url}\n  {' '.join(hit.snippet.split())}")
    click.echo(f"{len(hits)} results")


def _search_index(folder: Path, query: str, limit: int, viewer: Any, embed_model: str) -> None:
    """The chunks of a vector index (--to-index) nearest the query, the viewer's only."""
    from .audience import AudiencePostprocessor, audience_filters
    from .embedding import embed_model_named
    from .sinks.vector_index import STATE_FILE, IndexTarget

    if not (folder / STATE_FILE).is_file():
        raise BadArgumentError(
            f"{str(folder)!r} holds no index; `confluence-v2 ingest ... --to-index {folder}` makes one"
        )
    target = IndexTarget.open(folder, embed_model_named(embed_model))
    filters = audience_filters(viewer) if viewer is not None else None
    retriever = target.index.as_retriever(similarity_top_k=limit, filters=filters)
    hits = retriever.retrieve(query)
    if viewer is not None:
        hits = AudiencePostprocessor(viewer=viewer).postprocess_nodes(hits)
    for hit in hits:
        meta = hit.node.metadata
        text = " ".join(hit.node.get_content().split())[:160]
        click.echo(f"{meta.get('title')}  [{meta.get('path')}]  {hit.score or 0:.2f}")
        click.echo(f"  {meta.get('url') or meta.get('page_url')}\n  {text}")
    click.echo(f"{len(hits)} results")


# ---- auth ---------------------------------------------------------------------------------------


@main.group()
def auth() -> None:
    """Stored credentials: add an API token, sign in with OAuth, list, remove."""


@auth.command("add-token")
@click.option("--id", "credential_id", required=True, help="A name for this credential.")
@click.option(
    "--site", required=True, help="Site address, e.g. https://your-site.atlassian.net/wiki"
)
@click.option("--email", required=True, help="Your Atlassian account e-mail.")
@click.option("--scoped", is_flag=True, help="A scoped API token (used through the API gateway).")
@click.pass_obj
@_clean_errors
def add_token(obj: dict[str, Any], credential_id: str, site: str, email: str, scoped: bool) -> None:
    """Store an API token (read from a prompt or standard input)."""
    from .credentials import ConfluenceCredential
    from .urls import normalize_base_url

    token = click.prompt("API token", hide_input=True).strip()
    credential = ConfluenceCredential(email, token, True if scoped else None)
    _store(obj).save(credential_id, credential, site=normalize_base_url(site))
    click.echo(f"Stored {credential.kind} {credential_id!r} for {normalize_base_url(site)}")


@auth.command()
@click.option("--id", "credential_id", required=True, help="A name for this credential.")
@click.option("--client-id", required=True, help="Your OAuth 2.0 (3LO) app's client id.")
@click.option("--site", help="Site address, when the consent covers several sites.")
@click.option("--redirect-uri", default="http://127.0.0.1:8765/callback", show_default=True)
@click.option("--no-browser", is_flag=True, help="Print the address instead of opening a browser.")
@click.pass_obj
@_clean_errors
def login(
    obj: dict[str, Any],
    credential_id: str,
    client_id: str,
    site: str | None,
    redirect_uri: str,
    no_browser: bool,
) -> None:
    """Sign in with OAuth 2.0 (client secret read from a prompt or standard input)."""
    import webbrowser

    from .signin import login as oauth_login

    secret = click.prompt("Client secret", hide_input=True).strip()

    def show(url: str) -> None:
        click.echo(f"Open this address to sign in:\n  {url}", err=True)
        if not no_browser:
            webbrowser.open(url)

    credential = oauth_login(
        client_id,
        secret,
        site_url=site,
        redirect_uri=redirect_uri,
        auth_server_url=obj["auth_server_url"],
        api_gateway_url=obj["api_gateway_url"],
        open_browser=show,
    )
    _store(obj).save(
        credential_id, credential, site=f"{credential.site_url}/wiki" if credential.site_url else ""
    )
    click.echo(f"Signed in: stored {credential_id!r} for {credential.site_url}")


@auth.command("list")
@click.pass_obj
@_clean_errors
def list_credentials(obj: dict[str, Any]) -> None:
    """Stored credentials: ids, kinds and sites (never secrets)."""
    stored = _store(obj).list()
    for item in stored:
        click.echo(f"{item.id:<20} {item.kind:<13} {item.site}  {item.user}")
    click.echo(f"{len(stored)} stored")


@auth.command()
@click.argument("credential_id")
@click.pass_obj
@_clean_errors
def remove(obj: dict[str, Any], credential_id: str) -> None:
    """Delete a stored credential."""
    _store(obj).delete(credential_id)
    click.echo(f"Removed {credential_id!r}")


# ---- shared -------------------------------------------------------------------------------------


def _store(obj: dict[str, Any]) -> Any:
    from .credential_store import CredentialStore

    return CredentialStore(obj.get("store"))


def _endpoints(obj: dict[str, Any]) -> dict[str, str]:
    """Atlassian's API gateway and authorization server (the emulator's, in tests and demos)."""
    return {"api_gateway_url": obj["api_gateway_url"], "auth_server_url": obj["auth_server_url"]}


def _reader(
    obj: dict[str, Any],
    address: str | None,
    credential_id: str | None,
    base_url: str | None = None,
    max_points_per_hour: float | None = None,
) -> Any:
    """A reader for the configured site, or else the site of `address` (see app.reader_for)."""
    from .app import reader_for

    return reader_for(
        credential_id=credential_id,
        store=_store(obj) if credential_id else None,
        base_url=base_url,
        address=address,
        max_points_per_hour=max_points_per_hour,
        **_endpoints(obj),
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
