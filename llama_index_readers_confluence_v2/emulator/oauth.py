"""Atlassian's OAuth 2.0 (3LO) server, as the emulator plays it.

`/authorize` consents at once (or denies when told), `/oauth/token` takes JSON and form bodies
for the authorization_code and refresh_token grants (PKCE checked when a challenge was given),
refresh tokens rotate on every use with a reuse leeway, and reuse outside it revokes the whole
family. Access tokens expire on the emulator's clock, which tests move.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .api import Gate

REUSE_LEEWAY = 600.0
CODE_LIFETIME = 600.0


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class _Grant:
    """One consent: the family of refresh tokens that descend from it."""

    account_id: str
    client_id: str
    scope: str
    revoked: bool = False


@dataclass
class _RefreshToken:
    grant: _Grant
    rotated_at: float | None = None


@dataclass
class _Code:
    account_id: str
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    issued_at: float
    used: bool = False


class OAuthServer:
    """State and routes of the emulated authorization server."""

    def __init__(self, app: Gate) -> None:
        self.app = app
        self.apps: dict[str, OAuthApp] = {}
        self.access_ttl = 3600
        self.deny_next = False
        self.consenting_account: str | None = None
        self.extra_sites: list[dict[str, Any]] = []
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self.refreshes = 0

    def register_app(self, redirect_uris: list[str] | None = None) -> OAuthApp:
        oauth_app = OAuthApp(
            client_id=secrets.token_hex(8),
            client_secret=secrets.token_urlsafe(24),
            redirect_uris=list(redirect_uris or []),
        )
        self.apps[oauth_app.client_id] = oauth_app
        return oauth_app

    def issue_tokens(self, account_id: str, client_id: str, scope: str) -> dict[str, Any]:
        """Tokens as a fresh consent would give them (tests use this to skip the browser)."""
        return self._tokens(_Grant(account_id, client_id, scope))

    def routes(self) -> list[Route]:
        return [
            Route("/authorize", self.authorize),
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/token/accessible-resources", self.accessible_resources),
        ]

    # ---- /authorize ---------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        if request.scope["state"]["role"] != "auth":
            return JSONResponse({"message": "Not found"}, 404)
        query = request.query_params
        oauth_app = self.apps.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if oauth_app is None or redirect_uri not in oauth_app.redirect_uris:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "unknown client or redirect_uri"},
                400,
            )
        if query.get("response_type") != "code" or query.get("audience") != "api.atlassian.com":
            return self._redirect(
                redirect_uri, {"error": "invalid_request", "state": query.get("state", "")}
            )
        if self.deny_next:
            self.deny_next = False
            return self._redirect(
                redirect_uri, {"error": "access_denied", "state": query.get("state", "")}
            )
        if query.get("code_challenge") and query.get("code_challenge_method") != "S256":
            return self._redirect(
                redirect_uri, {"error": "invalid_request", "state": query.get("state", "")}
            )
        account_id = self.consenting_account or next(iter(self.app.site.accounts))
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(
            account_id,
            oauth_app.client_id,
            redirect_uri,
            query.get("scope", ""),
            query.get("code_challenge") or None,
            self.app.now(),
        )
        return self._redirect(redirect_uri, {"code": code, "state": query.get("state", "")})

    @staticmethod
    def _redirect(redirect_uri: str, params: dict[str, str]) -> Response:
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)

    # ---- /oauth/token -------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        if request.scope["state"]["role"] != "auth":
            return JSONResponse({"message": "Not found"}, 404)
        body = await _body(request)
        oauth_app = self.apps.get(str(body.get("client_id", "")))
        if oauth_app is None or not secrets.compare_digest(
            str(body.get("client_secret", "")), oauth_app.client_secret
        ):
            return _error(401, "access_denied", "Unauthorized")
        grant_type = body.get("grant_type")
        if grant_type == "authorization_code":
            return self._code_grant(body, oauth_app)
        if grant_type == "refresh_token":
            return self._refresh_grant(body, oauth_app)
        return _error(
            400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
        )

    def _code_grant(self, body: dict[str, Any], oauth_app: OAuthApp) -> Response:
        code = self._codes.get(str(body.get("code", "")))
        if (
            code is None
            or code.used
            or code.client_id != oauth_app.client_id
            or self.app.now() - code.issued_at > CODE_LIFETIME
        ):
            return _error(403, "invalid_grant", "authorization_code is invalid")
        if body.get("redirect_uri") != code.redirect_uri:
            return _error(403, "invalid_grant", "redirect_uri does not match")
        if (
            code.challenge is not None
            and _s256(str(body.get("code_verifier", ""))) != code.challenge
        ):
            return _error(400, "invalid_grant", "code_verifier does not match the code_challenge")
        code.used = True
        return JSONResponse(self._tokens(_Grant(code.account_id, code.client_id, code.scope)))

    def _refresh_grant(self, body: dict[str, Any], oauth_app: OAuthApp) -> Response:
        token = self._refresh.get(str(body.get("refresh_token", "")))
        if token is None or token.grant.client_id != oauth_app.client_id:
            return _error(403, "unauthorized_client", "refresh_token is invalid")
        if token.grant.revoked:
            return _error(403, "invalid_grant", "Unknown or invalid refresh token.")
        now = self.app.now()
        if token.rotated_at is not None and now - token.rotated_at > REUSE_LEEWAY:
            token.grant.revoked = True  # reuse outside the leeway: the whole family goes
            return _error(403, "unauthorized_client", "refresh_token is invalid")
        if token.rotated_at is None:
            token.rotated_at = now
        self.refreshes += 1
        return JSONResponse(self._tokens(token.grant))

    def _tokens(self, grant: _Grant) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        self.app.bearer_tokens[access] = (grant.account_id, self.app.now() + self.access_ttl)
        self.app.bearer_scopes[access] = frozenset(grant.scope.split())
        tokens: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.access_ttl,
            "scope": grant.scope,
            "token_type": "bearer",
        }
        if "offline_access" in grant.scope.split():
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = _RefreshToken(grant)
            tokens["refresh_token"] = refresh
        return tokens

    def refresh_token_is_live(self, token: str) -> bool:
        known = self._refresh.get(token)
        return known is not None and known.rotated_at is None and not known.grant.revoked

    # ---- accessible-resources (on the gateway) --------------------------------------------------

    async def accessible_resources(self, request: Request) -> Response:
        if request.scope["state"]["role"] != "gateway":
            return JSONResponse({"message": "Not found"}, 404)
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        grant = self.app.bearer_tokens.get(token)
        if grant is None or grant[1] <= self.app.now():
            return JSONResponse({"code": 401, "message": "Unauthorized"}, 401)
        site = {
            "id": self.app.site.cloud_id,
            "name": "Acme",
            "url": self.app.origins.site,
            "scopes": ["read:page:confluence", "read:space:confluence"],
            "avatarUrl": f"{self.app.origins.site}/avatar.png",
        }
        return JSONResponse([*self.extra_sites, site])


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    return {key: values[0] for key, values in form.items()}


def _error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
