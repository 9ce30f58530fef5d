"""The embedded local collection: one SQLite file, searchable, the CLI's default target.

Documents, images, metadata and sync state live in one file (WAL journal). Each page is written
with its images in one transaction, so a crash loses at most the page in flight. FTS5 indexes
titles, paths and page text for `search`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_index.core.schema import Document, ImageDocument

from ..audience import Viewer
from ..errors import BadArgumentError, ConfluenceError

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- 'page', 'image' or 'attachment'
    page_id TEXT NOT NULL,
    title TEXT NOT NULL,
    path TEXT NOT NULL,
    url TEXT NOT NULL,
    space_key TEXT,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,          -- JSON
    image BLOB,
    mimetype TEXT
);
CREATE INDEX IF NOT EXISTS documents_page ON documents(page_id);
CREATE TABLE IF NOT EXISTS scope_pages (
    scope TEXT NOT NULL,
    page_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (scope, page_id)
);
CREATE TABLE IF NOT EXISTS attachment_state (   -- an image or file document's fingerprint
    attachment_id TEXT PRIMARY KEY,
    page_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scopes (
    scope TEXT PRIMARY KEY,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (        -- where the next sync of a scope starts from
    scope TEXT PRIMARY KEY,
    checkpoint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kept_trees (         -- the tree's parents, for the next changes-only sync
    scope TEXT PRIMARY KEY,
    tree TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS pages_fts USING fts5(
    page_id UNINDEXED, title, path, text, tokenize = 'unicode61 remove_diacritics 2'
);
"""


@dataclass(frozen=True)
class SearchHit:
    page_id: str
    title: str
    path: str
    url: str
    snippet: str
    score: float


class LocalCollection:
    """A Confluence import in one SQLite file: `sync` into it, `search` it."""

    original_files: frozenset[str] = frozenset()  # attached files are stored as their text

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            raise BadArgumentError(
                f"{self.path} is a directory; pass a file path such as wiki.sqlite"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfluenceError(f"{self.path} is not a usable collection file: {exc}") from None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalCollection({str(self.path)!r})"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LocalCollection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the sync target ----------------------------------------------------------------------

    def known(self, scope: str) -> dict[str, str]:
        rows = self._db.execute(
            "SELECT page_id, fingerprint FROM scope_pages WHERE scope = ?", (scope,)
        )
        return dict(rows.fetchall())

    def known_attachments(self, scope: str) -> dict[str, str]:
        rows = self._db.execute(
            """
            SELECT a.attachment_id, a.fingerprint FROM attachment_state a
            JOIN scope_pages s ON s.page_id = a.page_id
            JOIN documents d ON d.id = a.attachment_id
            WHERE s.scope = ?
            """,
            (scope,),
        )
        return dict(rows.fetchall())

    def begin(self, scope: str, description: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO scopes VALUES (?, ?)", (scope, description))

    def checkpoint(self, scope: str) -> str | None:
        row = self._db.execute(
            "SELECT checkpoint FROM checkpoints WHERE scope = ?", (scope,)
        ).fetchone()
        return None if row is None else str(row[0])

    def save_checkpoint(self, scope: str, checkpoint: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?)", (scope, checkpoint))

    def kept_tree(self, scope: str) -> str | None:
        row = self._db.execute("SELECT tree FROM kept_trees WHERE scope = ?", (scope,)).fetchone()
        return None if row is None else str(row[0])

    def save_kept_tree(self, scope: str, tree: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO kept_trees VALUES (?, ?)", (scope, tree))

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
        """Replace a page and its images and files (but those `kept`), and record it in the
        scope: one transaction."""
        page_id = page.id_
        with self._transaction() as db:
            self._delete_documents(db, page_id, keep=kept)
            db.execute(
                "INSERT INTO documents VALUES (?, 'page', ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (page_id, page_id, *_columns(page), page.text, json.dumps(page.metadata)),
            )
            db.execute(
                "INSERT INTO pages_fts (page_id, title, path, text) VALUES (?, ?, ?, ?)",
                (page_id, page.metadata.get("title", ""), page.metadata.get("path", ""), page.text),
            )
            for attached in images:
                if not isinstance(attached, ImageDocument):
                    self._insert_attachment(db, page_id, attached)
                    continue
                image = attached
                db.execute(
                    "INSERT OR REPLACE INTO documents VALUES (?, 'image', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        image.id_,
                        page_id,
                        *_columns(image),
                        image.text,
                        json.dumps(image.metadata),
                        image.image,
                        image.image_mimetype,
                    ),
                )
            db.executemany(
                "INSERT OR REPLACE INTO attachment_state VALUES (?, ?, ?)",
                [(key, page_id, value) for key, value in (fingerprints or {}).items()],
            )
            db.execute(
                "INSERT OR REPLACE INTO scope_pages VALUES (?, ?, ?)", (scope, page_id, fingerprint)
            )

    @staticmethod
    def _insert_attachment(db: sqlite3.Connection, page_id: str, document: Document) -> None:
        """An attached file's text: stored with its page, searchable like a page, and titled by
        its file name and its page's title."""
        title = f"{document.metadata.get('file_name', '')} ({document.metadata.get('title', '')})"
        _, path, url, space_key = _columns(document)
        db.execute(
            "INSERT OR REPLACE INTO documents VALUES (?, 'attachment', ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            (
                document.id_,
                page_id,
                title,
                path,
                url,
                space_key,
                document.text,
                json.dumps(document.metadata),
            ),
        )
        db.execute(
            "INSERT INTO pages_fts (page_id, title, path, text) VALUES (?, ?, ?, ?)",
            (document.id_, title, document.metadata.get("path", ""), document.text),
        )

    def relabel(
        self, scope: str, page_id: str, metadata: Mapping[str, Any], fingerprint: str
    ) -> None:
        """A page's audience changed: its documents (page, images, files) take the new
        permission metadata; bodies and text stay. One transaction."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, metadata FROM documents WHERE page_id = ?", (page_id,)
            ).fetchall()
            db.executemany(
                "UPDATE documents SET metadata = ? WHERE id = ?",
                [(json.dumps({**json.loads(meta), **metadata}), doc_id) for doc_id, meta in rows],
            )
            db.execute(
                "INSERT OR REPLACE INTO scope_pages VALUES (?, ?, ?)", (scope, page_id, fingerprint)
            )

    def remove(self, scope: str, page_id: str) -> None:
        """Drop a page from the scope; its documents go when no other scope holds it."""
        with self._transaction() as db:
            db.execute("DELETE FROM scope_pages WHERE scope = ? AND page_id = ?", (scope, page_id))
            still_held = db.execute(
                "SELECT 1 FROM scope_pages WHERE page_id = ? LIMIT 1", (page_id,)
            ).fetchone()
            if not still_held:
                self._delete_documents(db, page_id)

    def finish(self) -> None:
        """Every page is committed as it arrives: nothing is left to flush."""

    @staticmethod
    def _delete_documents(db: sqlite3.Connection, page_id: str, keep: Collection[str] = ()) -> None:
        """A page's documents, but its images and files named in `keep`."""
        db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (id TEXT PRIMARY KEY)")
        db.execute("DELETE FROM keep")
        db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(key,) for key in keep])
        doomed = "SELECT id FROM documents WHERE page_id = ? AND id NOT IN (SELECT id FROM keep)"
        db.execute(f"DELETE FROM pages_fts WHERE page_id IN ({doomed})", (page_id,))
        db.execute("DELETE FROM pages_fts WHERE page_id = ?", (page_id,))
        db.execute(
            "DELETE FROM attachment_state WHERE page_id = ? "
            "AND attachment_id NOT IN (SELECT id FROM keep)",
            (page_id,),
        )
        db.execute(f"DELETE FROM documents WHERE id IN ({doomed})", (page_id,))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    # ---- reading ------------------------------------------------------------------------------

    def search(
        self, query: str, limit: int = 10, *, viewer: Viewer | None = None
    ) -> list[SearchHit]:
        """Full-text search over titles, paths and page text, best first. With `viewer`, only
        what that user may read (documents imported with include_permissions; others admit
        nobody); without, everything stored (the importing user's own view)."""
        terms = _fts_query(query)
        if not terms:
            raise BadArgumentError("search needs at least one word")
        audience, params = _audience_clause(viewer)
        rows = self._db.execute(
            f"""
            SELECT f.page_id, d.title, d.path, d.url,
                   snippet(pages_fts, 3, '[', ']', ' … ', 12), bm25(pages_fts, 0.0, 10.0, 3.0, 1.0)
            FROM pages_fts f JOIN documents d ON d.id = f.page_id
            WHERE pages_fts MATCH ? AND {audience}
            ORDER BY bm25(pages_fts, 0.0, 10.0, 3.0, 1.0) LIMIT ?
            """,
            (terms, *params, int(limit)),
        ).fetchall()
        return [SearchHit(row[0], row[1], row[2], row[3], row[4], -float(row[5])) for row in rows]

    def holding(self, page_ids: Iterable[str]) -> set[str]:
        """Which of these pages (or blog posts) the collection holds."""
        wanted = list(dict.fromkeys(page_ids))
        held: set[str] = set()
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT id FROM documents WHERE kind = 'page' AND id IN ({marks})", batch
            )
            held |= {str(row[0]) for row in rows}
        return held

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT kind, COUNT(*) FROM documents GROUP BY kind").fetchall()
        found = dict(rows)
        return {
            "pages": found.get("page", 0),
            "images": found.get("image", 0),
            "attachments": found.get("attachment", 0),
        }

    def documents(self, kind: str = "page") -> Iterator[Document]:
        """The stored documents, as LlamaIndex documents again."""
        rows = self._db.execute(
            "SELECT id, text, metadata, image, mimetype FROM documents WHERE kind = ? ORDER BY rowid",
            (kind,),
        )
        for doc_id, text, metadata, image, mimetype in rows:
            meta: dict[str, Any] = json.loads(metadata)
            if kind == "image":
                yield ImageDocument(
                    id_=doc_id, text=text, metadata=meta, image=image, image_mimetype=mimetype
                )
            else:
                yield Document(id_=doc_id, text=text, metadata=meta)

    def page_ids(self) -> list[str]:
        return [
            row[0]
            for row in self._db.execute("SELECT id FROM documents WHERE kind = 'page' ORDER BY id")
        ]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error; one writer at a time."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()


def _columns(document: Document) -> tuple[str, str, str, str | None]:
    metadata = document.metadata
    return (
        str(metadata.get("title", "")),
        str(metadata.get("path", "")),
        str(metadata.get("url", "")),
        metadata.get("space_key"),
    )


def _audience_clause(viewer: Viewer | None) -> tuple[str, list[str]]:
    """SQL over a document's stored metadata (`d.metadata`) saying the viewer may read it, as
    `audience.may_read` says: the account or one of its group tokens named (whole
    comma-separated tokens, never substrings)."""
    if viewer is None:
        return "1", []
    account_id, groups = viewer.tokens()
    named = "instr(',' || json_extract(d.metadata, '$.{key}') || ',', ',' || ? || ',') > 0"
    clauses = [named.format(key="allowed_groups")] * len(groups)
    params = list(groups)
    if account_id is not None:
        clauses.append(named.format(key="allowed_users"))
        params.append(account_id)
    return "(" + " OR ".join(clauses) + ")", params


def _fts_query(query: str) -> str:
    """Words as FTS5 string tokens (quoted), so user input never becomes FTS syntax."""
    words = [word for word in query.replace('"', " ").split() if word.strip()]
    return " ".join(f'"{word}"' for word in words)
