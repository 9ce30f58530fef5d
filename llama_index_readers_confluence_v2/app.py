"""The application the front ends share: the CLI, the import screen and the notebook picker
only present what these functions do.

- `reader_for`: a reader from a stored credential (its site), a configured site, or the site
  of an address the user typed;
- `browse`: what an address shows: a site's spaces, or the page tree of a space, page or
  folder (whole, or a level at a time);
- ticked nodes as the load arguments that import them: picks.py (`Pick`, `load_calls`), shared
  with the notebook picker;
- `TargetChoice`: the collection an import writes to (a local file, or h2oGPTe).

What a user typed is told apart in one place, `urls.classify` (and `urls.typed_kind`).
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import BadArgumentError, TransportError
from .routes import V2
from .urls import InstanceSelection, check_scheme, classify, typed_kind

if TYPE_CHECKING:  # imported where used: the CLI starts without loading the reader
    from .browse import PageTree, SpaceSummary
    from .credential_store import CredentialStore
    from .credentials import Credential
    from .reader import ConfluenceReader
    from .sync import SyncTarget

T = TypeVar("T")
DEFAULT_COLLECTION = "confluence.sqlite"
H2OGPTE_CONNECT_SECONDS = 30.0  # the h2ogpte client has no timeout of its own


def reader_for(
    *,
    credential_id: str | None = None,
    store: CredentialStore | None = None,
    base_url: str | None = None,
    address: str | None = None,
    **options: Any,
) -> ConfluenceReader:
    """A reader for the configured site: a stored credential's, then `base_url`, then
    CONFLUENCE_BASE_URL; or else the site of `address` (what the user typed, when it is an
    address). Credentials never go to a host that only a typed address names, unless no site
    is configured at all (then that address is the site)."""
    from .credential_store import CredentialStore
    from .reader import ConfluenceReader

    typed = address if address and typed_kind(address) == "address" else None
    configured = base_url or os.environ.get("CONFLUENCE_BASE_URL")
    if credential_id:
        store = store or CredentialStore()
        site = store.site(credential_id) or configured or typed
        return ConfluenceReader(
            site, credential_id=credential_id, credential_store=store, **options
        )
    return ConfluenceReader(configured or typed, **options)


def check_credential(site: str, credential: Credential, **options: Any) -> None:
    """Ask Confluence whether it takes this credential (one small request), before it is
    stored: a refused one raises AuthError."""
    from .bridge import run_sync
    from .reader import ConfluenceReader

    reader = ConfluenceReader(site, credentials=credential, **options)

    async def ask() -> None:
        async with reader.client() as client:
            await client.get_json(f"{V2}/spaces", {"limit": 1})

    run_sync(ask)


def names_the_site(reader: ConfluenceReader, address: str) -> bool:
    """Whether what the user typed is the site's own address (its spaces are listed)."""
    return isinstance(classify(address, reader.base_url), InstanceSelection)


def browse(
    reader: ConfluenceReader,
    address: str,
    *,
    personal: bool = False,
    keywords: str | Iterable[str] | None = None,
    one_level: bool = False,
) -> list[SpaceSummary] | PageTree:
    """A site address: its spaces (personal ones when asked, filtered by keywords); anything
    else (a space key or address, a page or folder address or id): its page tree."""
    if names_the_site(reader, address):
        return reader.list_spaces(include_personal=personal, keywords=keywords)
    return reader.browse(address, one_level=one_level)


@dataclass(frozen=True)
class TargetChoice:
    """Where an import writes, checked when chosen and opened where the import runs: an
    h2oGPTe collection (one per audience when split), a LlamaIndex vector index in a folder
    (`index_dir`, embedded with `embed_model`: see embedding.embed_model_named), or a local
    collection file."""

    collection_path: str | Path | None = None
    h2ogpte_address: str | None = None
    collection_id: str | None = None
    api_key: str | None = field(default=None, repr=False)
    split_by_audience: bool = False
    index_dir: str | Path | None = None
    embed_model: str = "hashing"

    def __post_init__(self) -> None:
        chosen = [self.collection_path, self.h2ogpte_address, self.index_dir]
        if sum(bool(target) for target in chosen) > 1:
            raise BadArgumentError(
                "choose one target: --to PATH, --to-index FOLDER or --h2ogpte ADDRESS"
            )
        if self.h2ogpte_address and not (self.collection_id and self.api_key):
            raise BadArgumentError("h2oGPTe needs its address, a collection id and an API key")
        if self.h2ogpte_address:  # the API key goes there: https, as everywhere in the package
            check_scheme(self.h2ogpte_address, "the h2oGPTe address")

    @property
    def description(self) -> str:
        if self.h2ogpte_address:
            return f"h2oGPTe collection {self.collection_id}"
        if self.index_dir:
            return f"vector index {self.index_dir}"
        return str(self.collection_path or DEFAULT_COLLECTION)

    def open(self) -> SyncTarget:
        if self.h2ogpte_address:
            from .sinks.h2ogpte import AudienceCollections, H2OGPTeCollection, require_h2ogpte

            client = _within(
                H2OGPTE_CONNECT_SECONDS,
                lambda: require_h2ogpte().H2OGPTE(
                    address=self.h2ogpte_address, api_key=self.api_key
                ),
                f"h2oGPTe at {self.h2ogpte_address} did not answer within "
                f"{H2OGPTE_CONNECT_SECONDS:.0f} s; check the address",
            )
            if self.split_by_audience:
                return AudienceCollections(client, str(self.collection_id))
            return H2OGPTeCollection(client, str(self.collection_id))
        if self.index_dir:
            from .embedding import embed_model_named
            from .sinks.vector_index import IndexTarget

            folder = Path(self.index_dir).expanduser()
            return IndexTarget.open(folder, embed_model_named(self.embed_model))
        from .sinks import LocalCollection

        return LocalCollection(Path(self.collection_path or DEFAULT_COLLECTION).expanduser())


def _within(seconds: float, work: Callable[[], T], why: str) -> T:
    """`work()` in a thread of its own, given up on (TransportError) after `seconds`: a server
    that accepts connections and never answers does not hold the caller."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="connect")
    try:
        return pool.submit(work).result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise TransportError(why) from None
    finally:
        pool.shutdown(wait=False)
