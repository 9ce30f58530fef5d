"""What the emulator's route groups share with the app that mounts them, without importing it:
the API's error and its JSON body, the caller, the origins, and `Gate` (what a route group
needs of the app: the site, the clock, authentication and scopes, the OAuth tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .model import Site


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Origins:
    site: str
    gateway: str
    media: str
    auth: str

    def role_of(self, netloc: str) -> str:
        for role in ("site", "gateway", "media", "auth"):
            if urlsplit(getattr(self, role)).netloc == netloc:
                return role
        return "unknown"


@dataclass
class Caller:
    account_id: str | None
    kind: str
    scopes: frozenset[str] | None = None  # an OAuth token's scopes; None: not scoped


class Gate(Protocol):
    """What a route group (v1, permissions, OAuth) is given of the app that mounts it."""

    site: Site
    origins: Origins
    legacy_downloads: bool
    bearer_tokens: dict[str, tuple[str, float]]
    bearer_scopes: dict[str, frozenset[str]]

    def now(self) -> float: ...

    def authenticate(self, request: Request) -> Caller: ...

    def require_scope(self, caller: Caller, *accepted: str) -> None: ...


def error_response(error: ApiError) -> Response:
    """Confluence's error body for an API error (and Basic's challenge with a 401)."""
    body = {
        "errors": [
            {
                "status": error.status,
                "code": _code(error.status),
                "title": error.message,
                "detail": None,
            }
        ]
    }
    headers = dict(error.headers)
    if error.status == 401:
        headers.setdefault("WWW-Authenticate", 'Basic realm="Confluence"')
    return JSONResponse(body, error.status, headers)


def _code(status: int) -> str:
    return {400: "INVALID_REQUEST_PARAMETER", 401: "UNAUTHORIZED", 404: "NOT_FOUND"}.get(
        status, "ERROR"
    )
