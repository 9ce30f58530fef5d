"""A user's own LlamaIndex vector index kept in sync (sinks/vector_index.py), on three stores:
the in-memory one persisted to disk, Qdrant in local mode, and Chroma as a server process the
test starts (`chroma run`). Embedding calls are counted through LlamaIndex's instrumentation
(the events every embedding model sends), not through the target."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent
from llama_index.core.vector_stores.types import BasePydanticVectorStore
from pydantic import Field

from llama_index_readers_confluence_v2 import audience_filters
from llama_index_readers_confluence_v2.audience import Viewer
from llama_index_readers_confluence_v2.embedding import HashingEmbedding
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.model import Content
from llama_index_readers_confluence_v2.errors import BadArgumentError
from llama_index_readers_confluence_v2.sinks.vector_index import IndexTarget
from llama_index_readers_confluence_v2.sync import sync

from .conftest import make_reader
from .sites import empty_site

SELECTION = {"space_key": "IDX", "include_attachments": True, "include_permissions": True}


class EmbeddedChunks(BaseEventHandler):
    """Counts the chunks every embedding model in the process is asked to embed."""

    chunks: int = 0
    texts: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "EmbeddedChunks"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, EmbeddingEndEvent):
            self.chunks += len(event.chunks)
            self.texts += event.chunks


@pytest.fixture
def embedded() -> Iterator[EmbeddedChunks]:
    counter = EmbeddedChunks()
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(counter)
    yield counter
    dispatcher.event_handlers.remove(counter)


class FailingEmbedding(HashingEmbedding):
    """The user's embedding service going down after `calls_left` calls (an outage mid-run)."""

    calls_left: int = 10**9

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        if self.calls_left <= 0:
            raise ConnectionError("the embedding service is down")
        self.calls_left -= 1
        return [self._vector(text) for text in texts]


# ---- the site ---------------------------------------------------------------------------------


class Wiki:
    """A space of short pages (one chunk each), with distinctive words, a file, and a group the
    reading user (alice) belongs to."""

    def __init__(self) -> None:
        site, alice = empty_site()
        self.site, self.alice = site, alice
        space = site.add_space("IDX", "Index Space", author_id=alice)
        site.grant_space(space, users=[alice])
        self.team = site.add_group("team", alice)
        self.others = site.add_group("others", "someone-else")
        self.space = space
        self.home = self.page("Home", "Welcome to the index space.")
        self.guides = self.page("Guides", "Guides about armadillos.", self.home)
        self.setup = self.page("Setup", "Setup of the bandicoot cluster.", self.guides)
        self.doomed = self.page("Doomed", "The capybara procedure, soon deleted.", self.home)
        self.secret = self.page("Secret", "The dingo budget, soon restricted.", self.home)
        self.shared = self.page("Shared", "The echidna roadmap for the team.", self.home)
        self.edited = self.page("Edited", "The old flamingo text.", self.home)
        self.filed = site.add_attachment(
            self.setup, "notes.txt", "text/plain", "plain", b"Notes on the gecko."
        )

    def page(self, title: str, text: str, parent: Content | None = None) -> Content:
        return self.site.add_content(
            self.space, title, parent.id if parent else None, body=f"<p>{text}</p>"
        )


def everything(target: IndexTarget) -> dict[str, list[str]]:
    """The index's nodes by ref_doc_id, their texts (asked through a retriever, as a user)."""
    retriever = target.index.as_retriever(similarity_top_k=1000)
    held: dict[str, list[str]] = {}
    for hit in retriever.retrieve("the index space"):
        held.setdefault(str(hit.node.ref_doc_id), []).append(hit.node.get_content())
    return held


def top_title(target: IndexTarget, query: str) -> str:
    hits = target.index.as_retriever(similarity_top_k=1).retrieve(query)
    return str(hits[0].node.metadata["title"])


# ---- the stores -------------------------------------------------------------------------------

Opener = Callable[[Path, Any], IndexTarget]


def in_memory(folder: Path, embed_model: Any) -> IndexTarget:
    return IndexTarget.open(folder / "index", embed_model)


@contextlib.contextmanager
def qdrant_local(folder: Path) -> Iterator[Opener]:
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(folder / "qdrant"))
    store = QdrantVectorStore(client=client, collection_name="wiki")
    try:
        yield lambda where, model: IndexTarget.open(where / "state", model, vector_store=store)
    finally:
        client.close()


@contextlib.contextmanager
def chroma_server(folder: Path) -> Iterator[Opener]:
    """Chroma's own server (`chroma run`, from its Python package) on a free loopback port."""
    import chromadb
    from llama_index.vector_stores.chroma import ChromaVectorStore

    executable = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert executable, "chromadb's `chroma` command is installed with the dev extras"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [executable, "run", "--path", str(folder / "chroma"), "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = _chroma_client(chromadb, port, server)
        collection = client.get_or_create_collection("wiki")

        def opener(where: Path, model: Any) -> IndexTarget:
            store: BasePydanticVectorStore = ChromaVectorStore(chroma_collection=collection)
            return IndexTarget.open(where / "state", model, vector_store=store)

        yield opener
    finally:
        server.terminate()
        server.wait(timeout=30)


def _chroma_client(chromadb: Any, port: int, server: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + 60
    while True:
        try:
            client = chromadb.HttpClient(host="127.0.0.1", port=port)
            client.heartbeat()
            return client
        except Exception:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def store_named(name: str, folder: Path) -> Iterator[Opener]:
    if name == "in-memory, persisted":
        yield in_memory
    elif name == "qdrant, local mode":
        with qdrant_local(folder) as opener:
            yield opener
    else:
        with chroma_server(folder) as opener:
            yield opener


STORES = ["in-memory, persisted", "qdrant, local mode", "chroma, server"]


# ---- the journey ------------------------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_a_space_kept_in_sync_in_a_vector_store(
    store: str, tmp_path: Path, embedded: EmbeddedChunks
) -> None:
    wiki = Wiki()
    site = wiki.site
    reader = make_reader(Emulator(site))
    with store_named(store, tmp_path) as open_target:
        first = sync(reader, open_target(tmp_path, HashingEmbedding()), **SELECTION)
        assert embedded.chunks == 8  # a chunk each (short pages); queries are not counted below
        held = everything(open_target(tmp_path, HashingEmbedding()))
        assert first.added == 7 and len(held) == 8  # seven pages and the file's text

        # a day in the wiki
        site.edit_page(wiki.edited.id, body="<p>The new zebra crossing text.</p>")
        new = wiki.page("New", "The quokka onboarding checklist.", wiki.home)
        site.move_content(wiki.setup.id, wiki.home.id)  # its path changes, not its text
        site.trash_content(wiki.doomed.id)
        site.restrict(wiki.secret.id, groups=[wiki.others])  # alice may no longer read it
        site.restrict(wiki.shared.id, groups=[wiki.team])  # alice still may: a new audience
        site.trash_attachment(wiki.filed.id)
        added = site.add_attachment(
            wiki.guides, "figures.txt", "text/plain", "plain", b"Figures of the hedgehog."
        )
        embedded.chunks = 0
        target = open_target(tmp_path, HashingEmbedding())  # a new process, as a daily job
        second = sync(reader, target, **SELECTION)
        # only new text was embedded: the edit, the new page, the new file
        assert embedded.chunks == 3, [t.splitlines()[-1] for t in embedded.texts[-6:]]
        held = everything(target)
        assert (second.added, second.deleted) == (1, 2)
        assert set(held) == {
            wiki.home.id,
            wiki.guides.id,
            wiki.setup.id,
            wiki.shared.id,
            wiki.edited.id,
            new.id,
            added.id,
        }
        assert all(len(texts) == 1 for texts in held.values())  # no duplicates
        words = " ".join(text for texts in held.values() for text in texts)
        assert "zebra" in words and "flamingo" not in words
        for gone in ("capybara", "dingo", "gecko"):  # deleted, restricted away, file trashed
            assert gone not in words
        assert top_title(target, "quokka checklist") == "New"
        setup = target.index.as_retriever(similarity_top_k=1).retrieve("bandicoot cluster")[0]
        assert setup.node.metadata["path"] == "Index Space > Home > Setup"
        shared = target.index.as_retriever(similarity_top_k=1).retrieve("echidna roadmap")[0]
        assert shared.node.metadata["title"] == "Shared" and not shared.node.metadata["anonymous"]


def test_a_relabel_embeds_nothing_and_audience_filters_keep_working(
    tmp_path: Path, embedded: EmbeddedChunks
) -> None:
    wiki = Wiki()
    reader = make_reader(Emulator(wiki.site))
    sync(reader, in_memory(tmp_path, HashingEmbedding()), **SELECTION)
    wiki.site.restrict(wiki.shared.id, groups=[wiki.team])
    embedded.chunks = 0
    target = in_memory(tmp_path, HashingEmbedding())
    report = sync(reader, target, **SELECTION)
    assert report.updated == 1 and embedded.chunks == 0

    team = Viewer(account_id="someone-new", groups=(wiki.team.id,))
    stranger = Viewer(account_id="someone-new", groups=())

    def titles(viewer: Viewer) -> set[str]:
        retriever = target.index.as_retriever(
            similarity_top_k=100, filters=audience_filters(viewer)
        )
        return {str(hit.node.metadata["title"]) for hit in retriever.retrieve("echidna roadmap")}

    assert "Shared" in titles(team) and "Shared" not in titles(stranger)


def test_an_interrupted_sync_resumes_without_duplicates(
    tmp_path: Path, embedded: EmbeddedChunks
) -> None:
    """The embedding service goes down after one page of three: the sync stops; the next one
    writes the other two, and nothing is in the index twice."""
    wiki = Wiki()
    site = wiki.site
    reader = make_reader(Emulator(site))
    sync(reader, in_memory(tmp_path, HashingEmbedding()), **SELECTION)
    for page, word in ((wiki.home, "iguana"), (wiki.guides, "jackal"), (wiki.edited, "koala")):
        site.edit_page(page.id, body=f"<p>Now about the {word}.</p>")
    failing = FailingEmbedding(calls_left=1)
    with pytest.raises(ConnectionError):
        sync(reader, in_memory(tmp_path, failing), **SELECTION)
    target = in_memory(tmp_path, HashingEmbedding())
    again = sync(reader, target, **SELECTION)
    held = everything(target)
    assert again.updated + again.added >= 2 and not again.failures
    assert Counter(len(texts) for texts in held.values()) == Counter({1: len(held)})
    words = " ".join(text for texts in held.values() for text in texts)
    assert all(word in words for word in ("iguana", "jackal", "koala"))


def test_an_index_written_by_something_else_gets_no_duplicates(tmp_path: Path) -> None:
    """An index built before from this reader's documents (ref_doc_id = the page id): the
    first sync replaces each page's nodes instead of adding a second copy."""
    from llama_index.core import StorageContext, VectorStoreIndex

    wiki = Wiki()
    reader = make_reader(Emulator(wiki.site))
    documents = [d for d in reader.load_data(space_key="IDX") if d.metadata.get("title")]
    storage = StorageContext.from_defaults()
    index = VectorStoreIndex.from_documents(
        documents, storage_context=storage, embed_model=HashingEmbedding()
    )
    target = IndexTarget(index, HashingEmbedding(), persist_dir=tmp_path / "index")
    sync(reader, target, **SELECTION)
    held = everything(target)
    assert all(len(texts) == 1 for texts in held.values()) and len(held) == 8


def test_an_index_is_kept_with_the_model_it_was_embedded_with(tmp_path: Path) -> None:
    wiki = Wiki()
    reader = make_reader(Emulator(wiki.site))
    sync(reader, in_memory(tmp_path, HashingEmbedding()), **SELECTION)
    with pytest.raises(BadArgumentError, match="embedded with HashingEmbedding:hashing-512"):
        in_memory(tmp_path, HashingEmbedding(dimensions=64, model_name="hashing-64"))
