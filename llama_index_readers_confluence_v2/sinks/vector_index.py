"""A LlamaIndex vector index kept in sync with Confluence, over any vector store.

`IndexTarget` is a sync target (sync.py) around a `VectorStoreIndex`: the first sync inserts,
later ones insert what changed, delete what left the selection (`delete_ref_doc`, the
Confluence id being each document's `ref_doc_id`) and keep the rest, using everything `sync`
knows (the changes-only listing, fingerprints, the trash, checkpoints).

Nothing is embedded twice: each chunk's embedding is kept under the hash of its text (and the
embedding model), so a page whose text did not change is split again but not embedded again,
also when its path, title or audience metadata changed (the nodes are written again with the
new metadata and the kept vectors). Embeddings are asked only for chunks never seen.

The sync state (what each scope holds, checkpoints, the tree, the kept embeddings) lives in a
LlamaIndex key-value store: by default a `SimpleKVStore` in `persist_dir` (beside the index's
own files for the in-memory stores), or any `BaseKVStore` given as `state`. Writes are per
page, in an order that survives a stop anywhere: the page is first forgotten by the state,
then its old nodes deleted, the new ones inserted, and then it is recorded again; a page the
state does not hold has its `ref_doc_id` deleted before it is inserted, so a run after a stop,
or a first run into an index written by something else (an `IngestionPipeline` of this reader,
say), leaves no duplicates. Nodes of other documents are never touched.

Images (`ImageDocument`) are not put into a text index; attached files' text is, as documents
of their own (`ref_doc_id` the attachment id).
"""

from __future__ import annotations

import array
import base64
import hashlib
import logging
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.ingestion import run_transformations
from llama_index.core.schema import (
    BaseNode,
    Document,
    ImageDocument,
    MetadataMode,
    NodeRelationship,
    TransformComponent,
)
from llama_index.core.settings import Settings
from llama_index.core.storage.kvstore.simple_kvstore import SimpleKVStore
from llama_index.core.storage.kvstore.types import BaseKVStore
from llama_index.core.vector_stores.types import BasePydanticVectorStore

from ..errors import BadArgumentError

logger = logging.getLogger(__name__)
STATE_FILE = "confluence_sync.json"  # what each scope holds, checkpoints, trees
VECTORS_FILE = "confluence_vectors.json"  # the kept embeddings (the larger part)
NAMESPACE = "confluence_v2"


class IndexTarget:
    """Keeps `index` in sync (see the module's docstring). `embed_model` must be the one the
    index answers queries with; `transformations` split documents into nodes (default:
    LlamaIndex's `Settings.transformations`). With `persist_dir`, every sync ends by persisting
    the index's storage context and the state there."""

    original_files: frozenset[str] = frozenset()  # files arrive parsed, as text documents

    def __init__(
        self,
        index: VectorStoreIndex,
        embed_model: BaseEmbedding,
        *,
        transformations: Sequence[TransformComponent] | None = None,
        state: BaseKVStore | None = None,
        persist_dir: str | Path | None = None,
    ) -> None:
        self.index = index
        self.embed_model = embed_model
        self.transformations = list(transformations or Settings.transformations)
        self.persist_dir = None if persist_dir is None else Path(persist_dir).expanduser()
        if state is None:
            state = _kvstore_in(self.persist_dir, STATE_FILE)
            self.state = SyncState(state, _kvstore_in(self.persist_dir, VECTORS_FILE))
        else:
            self.state = SyncState(state)
        self.embedded = 0  # chunks sent to the embedding model by this target
        self._check_model()

    @classmethod
    def open(
        cls,
        persist_dir: str | Path,
        embed_model: BaseEmbedding,
        *,
        vector_store: BasePydanticVectorStore | None = None,
        transformations: Sequence[TransformComponent] | None = None,
        state: BaseKVStore | None = None,
    ) -> IndexTarget:
        """An index kept in `persist_dir` (the in-memory stores, persisted there), or in
        `vector_store` (Qdrant, Chroma, pgvector, ...) with the sync state in `persist_dir`
        unless `state` is given: loaded when it exists, created empty otherwise."""
        folder = Path(persist_dir).expanduser()
        if (folder / "index_store.json").exists():
            storage = StorageContext.from_defaults(
                persist_dir=str(folder), vector_store=vector_store
            )
            index = load_index_from_storage(storage, embed_model=embed_model)
            if not isinstance(index, VectorStoreIndex):
                raise TypeError(f"{folder} holds a {type(index).__name__}, not a VectorStoreIndex")
        else:
            storage = StorageContext.from_defaults(vector_store=vector_store)
            index = VectorStoreIndex([], storage_context=storage, embed_model=embed_model)
        return cls(
            index,
            embed_model,
            transformations=transformations,
            state=state,
            persist_dir=folder,
        )

    def __repr__(self) -> str:
        return f"IndexTarget({type(self.index.vector_store).__name__}, {self.persist_dir})"

    # ---- the sync target ------------------------------------------------------------------

    def known(self, scope: str) -> dict[str, str]:
        return self.state.scope_pages(scope)

    def known_attachments(self, scope: str) -> dict[str, str]:
        return self.state.attachment_fingerprints()

    def begin(self, scope: str, description: str) -> None:
        self.state.describe(scope, description)

    def checkpoint(self, scope: str) -> str | None:
        return self.state.scope_value(scope, "checkpoint")

    def save_checkpoint(self, scope: str, checkpoint: str) -> None:
        """The last write of a complete run (after `finish`): persisted at once."""
        self.state.set_scope_value(scope, "checkpoint", checkpoint)
        self._persist_state()

    def kept_tree(self, scope: str) -> str | None:
        return self.state.scope_value(scope, "tree")

    def save_kept_tree(self, scope: str, tree: str) -> None:
        self.state.set_scope_value(scope, "tree", tree)
        self._persist_state()

    def upsert(
        self,
        scope: str,
        page: Document,
        images: list[Document],
        fingerprint: str,
        *,
        kept: Collection[str] = (),
        fingerprints: Mapping[str, str] | None = None,
        originals: Mapping[str, bytes] | None = None,
    ) -> None:
        """Replace a page and its files (but those `kept`) in the index. The new nodes are
        embedded first (an embedding service that fails leaves the old ones in place)."""
        page_id = page.id_
        files = [d for d in images if not isinstance(d, ImageDocument)]
        prepared = [(document, self._embedded_nodes(document)) for document in [page, *files]]
        self.state.leave_scope(scope, page_id)  # a stop from here on: the page is new again
        held = self.state.document(page_id)
        if held:
            for document_id in [page_id, *(f for f in held.get("files", []) if f not in kept)]:
                self._delete(document_id)
        else:  # never written by this target: whatever the index holds of it goes
            for document in [page, *files]:
                self._delete_unknown(document.id_)
        for document, (nodes, keys) in prepared:
            self.index.insert_nodes(nodes)
            footprint = (fingerprints or {}).get(document.id_, "")
            vectors = {key: node.embedding or [] for key, node in zip(keys, nodes, strict=True)}
            self.state.record_document(document.id_, page_id, footprint, keys, vectors)
        written = [d.id_ for d in files]
        still = [f for f in held.get("files", []) if f in kept and f not in written]
        self.state.record_page(page_id, scope, fingerprint, [*still, *written])
        for attachment_id, footprint in (fingerprints or {}).items():
            if attachment_id not in written and attachment_id not in still:
                self.state.note_attachment(attachment_id, page_id, footprint)  # images

    def remove(self, scope: str, page_id: str) -> None:
        """Drop a page from the scope; its documents leave the index when no scope holds it."""
        if self.state.leave_scope(scope, page_id):
            return
        held = self.state.document(page_id)
        for document_id in [page_id, *held.get("files", [])]:
            self._delete(document_id)
        self.state.forget_attachments_of(page_id)

    def finish(self) -> None:
        """Persist the index, then the state (with `persist_dir`): a stop between the two
        leaves the state behind the index, which the next run mends (no duplicates)."""
        if self.persist_dir is None:
            return
        self.persist_dir.mkdir(parents=True, exist_ok=True)
        self.index.storage_context.persist(persist_dir=str(self.persist_dir))
        self.state.persist_vectors(self.persist_dir / VECTORS_FILE)
        self._persist_state()

    def _persist_state(self) -> None:
        if self.persist_dir is not None:
            self.persist_dir.mkdir(parents=True, exist_ok=True)
            self.state.persist(self.persist_dir / STATE_FILE)

    def _check_model(self) -> None:
        """Vectors of two models do not mix: an index is kept with the model it was made
        with (the first sync records it)."""
        made_with = self.state.setting("embed_model")
        if made_with is None:
            self.state.set_setting("embed_model", self.model_key)
        elif made_with != self.model_key:
            raise BadArgumentError(
                f"this index was embedded with {made_with}, not {self.model_key}: keep that "
                "model (a new model needs a new index)"
            )

    @property
    def model_key(self) -> str:
        return f"{self.embed_model.class_name()}:{self.embed_model.model_name}"

    # ---- nodes ----------------------------------------------------------------------------

    def _embedded_nodes(self, document: Document) -> tuple[list[BaseNode], list[str]]:
        """The document's nodes with their embeddings (kept ones reused, the rest asked for
        in one batch), and each node's key."""
        nodes = self._nodes_of(document)
        keys = [self._key(node) for node in nodes]
        vectors = self.state.embeddings(keys)
        fresh = [i for i, key in enumerate(keys) if key not in vectors]
        if fresh:
            texts = [nodes[i].get_content(metadata_mode=MetadataMode.EMBED) for i in fresh]
            found = self.embed_model.get_text_embedding_batch(texts)
            self.embedded += len(fresh)
            vectors.update((keys[i], vector) for i, vector in zip(fresh, found, strict=True))
        for node, key in zip(nodes, keys, strict=True):
            node.embedding = vectors[key]
        return nodes, keys

    def _nodes_of(self, document: Document) -> list[BaseNode]:
        """The document split by the transformations, each node tied to it (`ref_doc_id`)."""
        nodes = list(run_transformations([document], self.transformations, in_place=False))
        source = document.as_related_node_info()
        for node in nodes:
            node.relationships[NodeRelationship.SOURCE] = source
        return nodes

    def _key(self, node: BaseNode) -> str:
        """A chunk's text and the embedding model: what its vector depends on (metadata is
        left out, so a moved or re-labelled page keeps its vectors)."""
        text = node.get_content(metadata_mode=MetadataMode.NONE)
        return hashlib.sha256(f"{self.model_key}\x1f{text}".encode()).hexdigest()

    def _delete(self, document_id: str) -> None:
        self.index.delete_ref_doc(document_id, delete_from_docstore=True)
        self.state.forget_document(document_id)

    def _delete_unknown(self, document_id: str) -> None:
        """A document the state does not hold may still be in the index (a run stopped before
        recording it, or another writer): deleted if it is there. Stores refuse deleting from
        a collection not created yet (Qdrant); that refusal means there is nothing to delete,
        and a store that is really unreachable fails the insert that follows."""
        try:
            self.index.delete_ref_doc(document_id, delete_from_docstore=True)
        except Exception as exc:  # each store says "nothing there" in its own way
            logger.debug("nothing of %s to delete first: %s", document_id, exc)


class SyncState:
    """What the target keeps in a key-value store, in NAMESPACE's collections: the pages each
    scope holds (by fingerprint), each document's chunks, scope values (description,
    checkpoint, tree); and in `vectors` (the same store unless given apart) the embeddings of
    the chunks in the index, as float32 in base64, with counted references."""

    def __init__(self, kvstore: BaseKVStore, vectors: BaseKVStore | None = None) -> None:
        self.kvstore = kvstore
        self.vectors = kvstore if vectors is None else vectors

    def persist(self, path: Path) -> None:
        if isinstance(self.kvstore, SimpleKVStore):
            self.kvstore.persist(str(path))

    def persist_vectors(self, path: Path) -> None:
        if isinstance(self.vectors, SimpleKVStore) and self.vectors is not self.kvstore:
            self.vectors.persist(str(path))

    def setting(self, name: str) -> str | None:
        value = (self.kvstore.get(name, collection=_collection("settings")) or {}).get("value")
        return None if value is None else str(value)

    def set_setting(self, name: str, value: str) -> None:
        self.kvstore.put(name, {"value": value}, collection=_collection("settings"))

    # scopes

    def scope_pages(self, scope: str) -> dict[str, str]:
        held = self.kvstore.get_all(collection=_scope_collection(scope))
        return {page_id: str(value["fingerprint"]) for page_id, value in held.items()}

    def describe(self, scope: str, description: str) -> None:
        self.set_scope_value(scope, "description", description)

    def scope_value(self, scope: str, name: str) -> str | None:
        value = (self.kvstore.get(scope, collection=_collection("scopes")) or {}).get(name)
        return None if value is None else str(value)

    def set_scope_value(self, scope: str, name: str, value: str) -> None:
        values = self.kvstore.get(scope, collection=_collection("scopes")) or {}
        self.kvstore.put(scope, {**values, name: value}, collection=_collection("scopes"))

    def leave_scope(self, scope: str, page_id: str) -> bool:
        """The page is no longer held by `scope`; whether another scope still holds it."""
        self.kvstore.delete(page_id, collection=_scope_collection(scope))
        held = self.document(page_id)
        others = [s for s in held.get("scopes", []) if s != scope]
        if held:
            self._put_document(page_id, {**held, "scopes": others})
        return bool(others)

    def record_page(self, page_id: str, scope: str, fingerprint: str, files: list[str]) -> None:
        held = self.document(page_id)
        scopes = sorted({*held.get("scopes", []), scope})
        self._put_document(page_id, {**held, "scopes": scopes, "files": files})
        self.kvstore.put(page_id, {"fingerprint": fingerprint}, collection=_scope_collection(scope))

    # documents (a page or an attached file) and their chunks

    def document(self, document_id: str) -> dict[str, Any]:
        return dict(self.kvstore.get(document_id, collection=_collection("documents")) or {})

    def _put_document(self, document_id: str, value: dict[str, Any]) -> None:
        self.kvstore.put(document_id, value, collection=_collection("documents"))

    def record_document(
        self,
        document_id: str,
        page_id: str,
        fingerprint: str,
        keys: list[str],
        vectors: Mapping[str, list[float]],
    ) -> None:
        held = self.document(document_id)
        self._put_document(
            document_id, {**held, "page_id": page_id, "chunks": keys, "fingerprint": fingerprint}
        )
        for key in keys:
            stored = self.vectors.get(key, collection=_collection("embeddings"))
            refs = 1 + (stored or {}).get("refs", 0)
            value = {"vector": (stored or {}).get("vector") or _packed(vectors[key]), "refs": refs}
            self.vectors.put(key, value, collection=_collection("embeddings"))

    def forget_document(self, document_id: str) -> None:
        """Its chunks' embeddings lose a reference (the last one removes them); the record
        keeps only what says which page and scopes it belongs to."""
        held = self.document(document_id)
        for key in held.get("chunks", []):
            stored = self.vectors.get(key, collection=_collection("embeddings"))
            if stored is None:
                continue
            if stored.get("refs", 1) <= 1:
                self.vectors.delete(key, collection=_collection("embeddings"))
            else:
                stored = {**stored, "refs": stored["refs"] - 1}
                self.vectors.put(key, stored, collection=_collection("embeddings"))
        if held.get("scopes"):
            self._put_document(document_id, {**held, "chunks": []})
        else:
            self.kvstore.delete(document_id, collection=_collection("documents"))

    def embeddings(self, keys: list[str]) -> dict[str, list[float]]:
        found = {}
        for key in dict.fromkeys(keys):
            stored = self.vectors.get(key, collection=_collection("embeddings"))
            if stored is not None:
                found[key] = _unpacked(stored["vector"])
        return found

    # attachments

    def attachment_fingerprints(self) -> dict[str, str]:
        documents = self.kvstore.get_all(collection=_collection("documents"))
        files = {i: str(v.get("fingerprint") or "") for i, v in documents.items()}
        images = self.kvstore.get_all(collection=_collection("images"))
        files |= {i: str(v["fingerprint"]) for i, v in images.items()}
        return {i: footprint for i, footprint in files.items() if footprint}

    def note_attachment(self, attachment_id: str, page_id: str, fingerprint: str) -> None:
        """An image the index does not hold: remembered so that it is not downloaded again."""
        value = {"page_id": page_id, "fingerprint": fingerprint}
        self.kvstore.put(attachment_id, value, collection=_collection("images"))

    def forget_attachments_of(self, page_id: str) -> None:
        images = self.kvstore.get_all(collection=_collection("images"))
        for attachment_id, value in images.items():
            if value.get("page_id") == page_id:
                self.kvstore.delete(attachment_id, collection=_collection("images"))
        self.kvstore.delete(page_id, collection=_collection("documents"))


def _collection(name: str) -> str:
    return f"{NAMESPACE}/{name}"


def _scope_collection(scope: str) -> str:
    return _collection("scope/" + hashlib.sha256(scope.encode()).hexdigest()[:24])


def _kvstore_in(folder: Path | None, name: str) -> BaseKVStore:
    path = None if folder is None else folder / name
    if path is not None and path.exists():
        return SimpleKVStore.from_persist_path(str(path))
    return SimpleKVStore()


def _packed(vector: Sequence[float]) -> str:
    return base64.b64encode(array.array("f", vector).tobytes()).decode("ascii")


def _unpacked(text: str) -> list[float]:
    return array.array("f", base64.b64decode(text)).tolist()
