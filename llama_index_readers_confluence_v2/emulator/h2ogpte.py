"""A loopback stand-in for an h2oGPTe server: exactly the routes the `h2ogpte` client calls to
create a collection, upload files, ingest them with metadata, poll jobs, list and delete
documents (see shared/reference/connectors-and-h2ogpte.md, part B.3), with their status codes.

The real client (`requests`, urllib3) needs real sockets: serve it with `H2OGPTeEmulator.serve()`.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VERSION = "1.7.5"


@dataclass
class StoredDocument:
    id: str
    name: str
    collection_id: str
    uri: str
    size: int
    content: bytes = field(repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class H2OGPTeLog:
    method: str
    path: str
    query: dict[str, str]
    status: int = 0


class H2OGPTeEmulator:
    """State and routes; `api_key` is what the client must send as `Bearer`."""

    def __init__(self) -> None:
        self.api_key = "sk-" + secrets.token_hex(16)
        self.collections: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, tuple[str, bytes, str]] = {}
        self.documents: dict[str, StoredDocument] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.log: list[H2OGPTeLog] = []
        self.fail_next_ingest: str | None = None
        self.fail_next_delete: str | None = None
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/rpc/meta", self.meta),
                Route("/rpc/fs", self.upload, methods=["PUT"]),
                Route("/api/v1/collections", self.create_collection, methods=["POST"]),
                Route("/api/v1/collections", self.list_collections),
                Route("/api/v1/collections/{cid}", self.get_collection),
                Route(
                    "/api/v1/collections/{cid}/metadata",
                    self.update_collection_metadata,
                    methods=["PUT"],
                ),
                Route("/api/v1/collections/{cid}/metadata", self.collection_metadata),
                Route("/api/v1/collections/{cid}/settings", self.collection_settings),
                Route("/api/v1/collections/{cid}/chat_settings", self.collection_settings),
                Route("/api/v1/collections/{cid}/documents", self.list_documents),
                Route(
                    "/api/v1/collections/{cid}/documents/delete_job",
                    self.delete_from_collection,
                    methods=["POST"],
                ),
                Route("/api/v1/documents/delete_job", self.delete_documents, methods=["POST"]),
                Route("/api/v1/documents/{did}/metadata", self.update_metadata, methods=["PUT"]),
                Route("/api/v1/uploads/{ids}/ingest/job", self.ingest, methods=["POST"]),
                Route("/api/v1/jobs/{jid}", self.job),
            ]
        )
        self.address = ""

    def documents_in(self, collection_id: str) -> list[StoredDocument]:
        return [d for d in self.documents.values() if d.collection_id == collection_id]

    @contextmanager
    def serve(self) -> Iterator[H2OGPTeEmulator]:
        from ..serving import serve_app

        with serve_app(self._asgi, 1) as origins:
            self.address = origins[0]
            yield self

    async def _asgi(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        entry = H2OGPTeLog(request.method, request.url.path, dict(request.query_params))
        self.log.append(entry)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            entry.status = 401
            await JSONResponse({"code": 401, "message": "Unauthorized"}, 401)(scope, receive, send)
            return

        async def recording(message: Any) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        await self.app(scope, receive, recording)

    # ---- routes -------------------------------------------------------------------------------

    async def meta(self, request: Request) -> Response:
        ui = {
            "logo": "",
            "chat_logo": "",
            "primary_color": "",
            "chat_name": "h2oGPTe",
            "greeting": "",
            "show_private_button": False,
            "show_workers_status": False,
            "show_live_logs": False,
            "show_eval": False,
            "show_extractors": False,
            "public_mode": False,
        }
        return JSONResponse(
            {
                "version": VERSION,
                "build": "emulator",
                "username": "tester",
                "user_id": "u1",
                "subject": "u1",
                "email": "tester@example.com",
                "is_guest": False,
                "license_expired": False,
                "license_expiry_date": "2099-01-01",
                "global_configs": [],
                "user_configs": [],
                "picture": None,
                "groups": [],
                "workspaces": [],
                "permissions": [],
                "ui_config": ui,
            }
        )

    async def create_collection(self, request: Request) -> Response:
        body = await request.json()
        collection_id = secrets.token_hex(8)
        self.collections[collection_id] = {
            "name": body.get("name", ""),
            "description": body.get("description", ""),
            "metadata": {},
        }
        return JSONResponse(self._collection(collection_id), 201)

    async def list_collections(self, request: Request) -> Response:
        """`list_recent_collections`: the caller's collections, newest first, offset-paged."""
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 100))
        ids = list(reversed(self.collections))[offset : offset + limit]
        return JSONResponse([self._collection(collection_id) for collection_id in ids])

    async def update_collection_metadata(self, request: Request) -> Response:
        collection = self.collections.get(request.path_params["cid"])
        if collection is None:
            return JSONResponse({"code": 404, "message": "collection not found"}, 404)
        collection["metadata"] = await request.json()
        return Response(status_code=204)

    async def collection_metadata(self, request: Request) -> Response:
        collection = self.collections.get(request.path_params["cid"])
        if collection is None:
            return JSONResponse({"code": 404, "message": "collection not found"}, 404)
        return JSONResponse(collection.get("metadata") or {})

    async def collection_settings(self, request: Request) -> Response:
        """`get_collection` also asks for the collection's settings: none are emulated."""
        if request.path_params["cid"] not in self.collections:
            return JSONResponse({"code": 404, "message": "collection not found"}, 404)
        return JSONResponse({})

    async def get_collection(self, request: Request) -> Response:
        collection_id = request.path_params["cid"]
        if collection_id not in self.collections:
            return JSONResponse({"code": 404, "message": "collection not found"}, 404)
        return JSONResponse(self._collection(collection_id))

    def _collection(self, collection_id: str) -> dict[str, Any]:
        info = self.collections[collection_id]
        docs = self.documents_in(collection_id)
        return {
            "id": collection_id,
            "name": info["name"],
            "description": info["description"],
            "embedding_model": "emulated",
            "document_count": len(docs),
            "document_size": sum(d.size for d in docs),
            "created_at": _now(),
            "updated_at": _now(),
            "user_count": 1,
            "is_public": False,
            "username": "tester",
            "sessions_count": 0,
            "status": "completed",
            "metadata_dict": info.get("metadata") or {},
        }

    async def upload(self, request: Request) -> Response:
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return JSONResponse({"error": "no file"}, 400)
        upload_id = secrets.token_hex(8)
        self.uploads[upload_id] = (
            upload.filename or "file",
            await upload.read(),
            str(form.get("uri") or ""),
        )
        return JSONResponse({"id": upload_id})

    async def ingest(self, request: Request) -> Response:
        collection_id = request.query_params.get("collection_id", "")
        if collection_id not in self.collections:
            return JSONResponse({"code": 404, "message": "collection not found"}, 404)
        upload_ids = request.path_params["ids"].split(",")
        body = json.loads((await request.body()) or b"{}")
        metadata = body.get("metadata") or {}
        failure, self.fail_next_ingest = self.fail_next_ingest, None
        if failure is None:
            for upload_id in upload_ids:
                name, content, uri = self.uploads.pop(upload_id)
                document_id = secrets.token_hex(8)
                self.documents[document_id] = StoredDocument(
                    document_id,
                    name,
                    collection_id,
                    uri,
                    len(content),
                    content,
                    dict(metadata.get(upload_id) or {}),
                )
        return JSONResponse(self._job("IngestUploadsJob", failure), 201)

    async def job(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["jid"])
        if job is None:
            return JSONResponse({"code": 404, "message": "job not found"}, 404)
        return JSONResponse(job)

    def _job(self, kind: str, failure: str | None = None) -> dict[str, Any]:
        job_id = secrets.token_hex(8)
        job = {
            "id": job_id,
            "name": kind,
            "overall_status": "failed" if failure else "completed",
            "passed_percentage": 0.0 if failure else 1.0,
            "failed_percentage": 1.0 if failure else 0.0,
            "progress": 1.0,
            "created_at": _now(),
            "updated_at": _now(),
            "kind": kind,
            "statuses": [{"id": job_id, "status": "failed" if failure else "completed"}],
            "errors": [failure] if failure else [],
            "duration": "0s",
            "duration_seconds": 0.0,
        }
        self.jobs[job_id] = job
        return job

    async def list_documents(self, request: Request) -> Response:
        collection_id = request.path_params["cid"]
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 100))
        wanted = json.loads(request.query_params.get("metadata_filter") or "{}")
        docs = [
            d
            for d in self.documents_in(collection_id)
            if all(d.metadata.get(k) == v for k, v in wanted.items())
        ]
        page = docs[offset : offset + limit]
        return JSONResponse(
            [
                {
                    "id": d.id,
                    "name": d.name,
                    "username": "tester",
                    "type": d.name.rsplit(".", 1)[-1],
                    "size": d.size,
                    "page_count": 1,
                    "status": "completed",
                    "created_at": _now(),
                    "updated_at": _now(),
                    "uri": d.uri,
                    "metadata_dict": d.metadata,
                }
                for d in page
            ]
        )

    async def update_metadata(self, request: Request) -> Response:
        document = self.documents.get(request.path_params["did"])
        if document is None:
            return JSONResponse({"code": 404, "message": "document not found"}, 404)
        document.metadata = await request.json()
        return Response(status_code=204)

    async def delete_from_collection(self, request: Request) -> Response:
        failure, self.fail_next_delete = self.fail_next_delete, None
        if failure is not None:  # as if the client died before its delete went through
            return JSONResponse(self._job("DeleteDocumentsFromCollectionJob", failure), 201)
        ids = (await request.json()).get("document_ids", [])
        for document_id in ids:
            document = self.documents.get(document_id)
            if document is not None and document.collection_id == request.path_params["cid"]:
                del self.documents[document_id]
        return JSONResponse(self._job("DeleteDocumentsFromCollectionJob"), 201)

    async def delete_documents(self, request: Request) -> Response:
        for document_id in (await request.json()).get("document_ids", []):
            self.documents.pop(document_id, None)
        return JSONResponse(self._job("DeleteDocumentsJob"), 201)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
