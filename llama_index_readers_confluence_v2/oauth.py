"""OAuth 2.0 (3LO) for Confluence Cloud: sign-in with PKCE and state, and a credential that
refreshes itself, rotating refresh tokens safely.

Atlassian rotates the refresh token on every use and revokes the whole family when an old one
is reused outside a short leeway, so a refreshed token that is not saved is an outage: the new
refresh token is handed to `on_refresh` (the credential store writes it atomically) before the
new access token is used. One refresh runs at a time per credential, however many requests
found the token expired.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import logging
import queue
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from .errors import AuthError, BadArgumentError, ConfluenceError
from .urls import check_scheme, is_loopback_host, site_origin

logger = logging.getLogger(__name__)

DEFAULT_SCOPES = (
    "read:me",
    "read:page:confluence",
    "read:space:confluence",
    "read:attachment:confluence",
    "read:hierarchical-content:confluence",
    "read:folder:confluence",  # GET /folders/{id}: folder titles in paths
    "read:content.metadata:confluence",  # GET /pages/{id}/ancestors
    "readonly:content.attachment:confluence",  # the v1 attachment download (images)
    "offline_access",
)
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
AUDIENCE = "api.atlassian.com"  # what Atlassian's /authorize requires, whatever the gateway URL
REFRESH_MARGIN = 60.0
SIGN_IN_AGAIN = "sign in again (confluence-v2 auth login)"


class OAuthCredential:
    """Tokens of one OAuth consent, for one site, refreshed when they expire."""

    kind = "oauth"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        access_token: str,
        refresh_token: str | None = None,
        expires_at: float | None = None,
        *,
        cloud_id: str | None = None,
        site_url: str | None = None,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        on_refresh: Callable[[OAuthCredential], None] | None = None,
    ) -> None:
        for value, name in (
            (client_id, "client_id"),
            (client_secret, "client_secret"),
            (access_token, "access_token"),
        ):
            if not isinstance(value, str) or not value:
                raise BadArgumentError(f"an OAuth credential needs {name}")
        self.client_id = client_id
        self._client_secret = client_secret
        self._access_token = access_token
        self._refresh_token = refresh_token
        self.expires_at = float(expires_at) if expires_at is not None else None
        self.cloud_id = cloud_id
        self.site_url = site_url
        self.scopes = tuple(scopes)
        self.on_refresh = on_refresh
        self.refresh_count = 0
        self._locks: dict[int, asyncio.Lock] = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"OAuthCredential(client_id={self.client_id!r}, site_url={self.site_url!r}, cloud_id={self.cloud_id!r})"

    @property
    def username(self) -> str:
        return f"the OAuth sign-in of app {self.client_id}"

    @classmethod
    def from_incumbent(cls, oauth2: dict[str, Any]) -> OAuthCredential:
        """The incumbent's `oauth2={"client_id", "token": {...}}`, plus what refresh needs."""
        if not isinstance(oauth2, dict) or not isinstance(oauth2.get("token"), dict):
            raise BadArgumentError(
                "oauth2 takes {'client_id': ..., 'client_secret': ..., 'token': {'access_token': ..., "
                "'refresh_token': ..., 'expires_at': ...}}"
            )
        token = oauth2["token"]
        return cls(
            str(oauth2.get("client_id") or ""),
            str(oauth2.get("client_secret") or ""),
            str(token.get("access_token") or ""),
            token.get("refresh_token"),
            token.get("expires_at"),
            cloud_id=oauth2.get("cloud_id"),
        )

    # ---- storage ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "access_token": self._access_token,
            "refresh_token": self._refresh_token,
            "expires_at": self.expires_at,
            "cloud_id": self.cloud_id,
            "site_url": self.site_url,
            "scopes": list(self.scopes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OAuthCredential:
        return cls(
            data["client_id"],
            data["client_secret"],
            data["access_token"],
            data.get("refresh_token"),
            data.get("expires_at"),
            cloud_id=data.get("cloud_id"),
            site_url=data.get("site_url"),
            scopes=data.get("scopes") or DEFAULT_SCOPES,
        )

    def secrets(self) -> tuple[str, ...]:
        """The values that must never be printed (for log scrubbing in tests and callers)."""
        return tuple(v for v in (self._client_secret, self._access_token, self._refresh_token) if v)

    # ---- use ----------------------------------------------------------------------------------

    def expired(self, margin: float = REFRESH_MARGIN) -> bool:
        return self.expires_at is not None and time.time() >= self.expires_at - margin

    async def authorization(self, http: httpx.AsyncClient, auth_server_url: str) -> str:
        if self.expired() and self._refresh_token:
            await self.refresh(http, auth_server_url, stale=self._access_token)
        return f"Bearer {self._access_token}"

    async def refresh(self, http: httpx.AsyncClient, auth_server_url: str, *, stale: str) -> None:
        """Refresh once for everyone who saw `stale`; later callers find it already done."""
        async with self._lock():
            if self._access_token != stale:
                return  # another request refreshed while this one waited
            if not self._refresh_token:
                raise AuthError(
                    f"the OAuth access token expired and there is no refresh token; {SIGN_IN_AGAIN}"
                )
            tokens = await _token_request(
                http,
                auth_server_url,
                {
                    "grant_type": "refresh_token",
                    "client_id": self.client_id,
                    "client_secret": self._client_secret,
                    "refresh_token": self._refresh_token,
                },
            )
            self._apply(tokens)
            self.refresh_count += 1
            self._persist()

    def _apply(self, tokens: dict[str, Any]) -> None:
        self._access_token = str(tokens["access_token"])
        self._refresh_token = str(tokens.get("refresh_token") or self._refresh_token or "") or None
        expires_in = tokens.get("expires_in")
        self.expires_at = (
            time.time() + float(expires_in) if isinstance(expires_in, (int, float)) else None
        )

    def _persist(self) -> None:
        if self.on_refresh is None:
            return
        try:
            self.on_refresh(self)
        except Exception as exc:
            logger.error(
                "the refreshed OAuth token could not be saved (%s); the next run must sign in again",
                exc,
            )

    def _lock(self) -> asyncio.Lock:
        loop_id = id(asyncio.get_running_loop())
        with self._guard:
            return self._locks.setdefault(loop_id, asyncio.Lock())


# ---- the sign-in flow ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    return verifier, challenge


def authorization_request(
    auth_server_url: str, client_id: str, redirect_uri: str, scopes: Sequence[str] = DEFAULT_SCOPES
) -> AuthorizationRequest:
    """The `/authorize` URL with an unguessable state and a PKCE S256 challenge."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    query = urlencode(
        {
            "audience": AUDIENCE,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
            "prompt": "consent",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return AuthorizationRequest(f"{auth_server_url.rstrip('/')}/authorize?{query}", state, verifier)


def login(
    client_id: str,
    client_secret: str,
    *,
    site_url: str | None = None,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
    auth_server_url: str = "https://auth.atlassian.com",
    api_gateway_url: str = "https://api.atlassian.com",
    open_browser: Callable[[str], object] = webbrowser.open,
    timeout: float = 300.0,
    verify: bool | str = True,
) -> OAuthCredential:
    """Sign in through the browser and return a credential for one site.

    A one-shot server on the loopback `redirect_uri` (register it in the developer console)
    receives the code; `state` is checked; the code is exchanged with PKCE; the site comes from
    `accessible-resources` (`site_url` picks one when the consent covers several).
    """
    check_scheme(auth_server_url, "auth_server_url")
    check_scheme(api_gateway_url, "api_gateway_url")
    request = authorization_request(auth_server_url, client_id, redirect_uri, scopes)
    with _CallbackServer(redirect_uri) as callback:
        open_browser(request.url)
        params = callback.wait(timeout)
    code = _code_from(params, request.state)
    from .client import tls_verification

    with httpx.Client(verify=tls_verification(verify), timeout=30) as http:
        tokens = _token_request_sync(
            http,
            auth_server_url,
            {
                "grant_type": "authorization_code",
                "client_id": client_id,
                "client_secret": client_secret,
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": request.code_verifier,
            },
        )
        site = choose_site(
            _accessible_resources_sync(http, api_gateway_url, str(tokens["access_token"])), site_url
        )
    credential = OAuthCredential(
        client_id,
        client_secret,
        str(tokens["access_token"]),
        tokens.get("refresh_token"),
        None,
        cloud_id=str(site["id"]),
        site_url=str(site.get("url") or ""),
        scopes=scopes,
    )
    credential._apply(tokens)
    return credential


def _code_from(params: dict[str, str], state: str) -> str:
    if not secrets.compare_digest(params.get("state", ""), state):
        raise AuthError("the sign-in answer carried the wrong state; it was refused (try again)")
    if params.get("error"):
        raise AuthError(
            f"the sign-in was not completed: {params['error']} (consent was denied or cancelled)"
        )
    if not params.get("code"):
        raise AuthError("the sign-in answer carried no authorization code")
    return params["code"]


def choose_site(sites: list[dict[str, Any]], site_url: str | None) -> dict[str, Any]:
    """The site of the consent: the one matching `site_url`, or the only one."""
    if site_url:
        wanted = site_origin(site_url)
        for site in sites:
            if site_origin(str(site.get("url", ""))) == wanted:
                return site
        raise AuthError(f"this sign-in does not cover {wanted}; it covers: {_site_list(sites)}")
    if len(sites) == 1:
        return sites[0]
    if not sites:
        raise AuthError(
            "this sign-in covers no Confluence site; check the app's scopes and consent"
        )
    raise BadArgumentError(
        f"this sign-in covers several sites; pass the site URL to pick one: {_site_list(sites)}"
    )


def _site_list(sites: list[dict[str, Any]]) -> str:
    return ", ".join(str(site.get("url")) for site in sites) or "none"


async def cloud_id_for(
    http: httpx.AsyncClient,
    api_gateway_url: str,
    credential: OAuthCredential,
    auth_server_url: str,
    base_url: str,
) -> str:
    """The cloud id of `base_url` among the consent's accessible resources."""
    header = await credential.authorization(http, auth_server_url)
    response = await http.get(
        f"{api_gateway_url.rstrip('/')}/oauth/token/accessible-resources",
        headers={"Authorization": header},
    )
    if response.status_code == 401:
        raise AuthError(f"the OAuth access token was refused; {SIGN_IN_AGAIN}")
    if response.status_code != 200:
        raise ConfluenceError(f"accessible-resources answered HTTP {response.status_code}")
    return str(choose_site(response.json(), base_url)["id"])


# ---- token endpoint -----------------------------------------------------------------------------


async def _token_request(
    http: httpx.AsyncClient, auth_server_url: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await http.post(f"{auth_server_url.rstrip('/')}/oauth/token", json=body)
    return _tokens_from(response)


def _token_request_sync(
    http: httpx.Client, auth_server_url: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = http.post(f"{auth_server_url.rstrip('/')}/oauth/token", json=body)
    return _tokens_from(response)


def _tokens_from(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code == 200 and isinstance(data, dict) and data.get("access_token"):
        return data
    error = data.get("error", "") if isinstance(data, dict) else ""
    if response.status_code == 401:
        raise AuthError(
            "the OAuth app's client id or secret was refused; check them in the developer console"
        )
    if response.status_code in (400, 403) and error in ("invalid_grant", "unauthorized_client"):
        raise AuthError(f"the OAuth sign-in has expired or was revoked ({error}); {SIGN_IN_AGAIN}")
    raise AuthError(
        f"the token endpoint answered HTTP {response.status_code} ({error or 'no error code'})"
    )


def _accessible_resources_sync(
    http: httpx.Client, api_gateway_url: str, access_token: str
) -> list[dict[str, Any]]:
    response = http.get(
        f"{api_gateway_url.rstrip('/')}/oauth/token/accessible-resources",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    if response.status_code != 200:
        raise AuthError(
            f"accessible-resources answered HTTP {response.status_code}; {SIGN_IN_AGAIN}"
        )
    sites = response.json()
    return [site for site in sites if isinstance(site, dict)] if isinstance(sites, list) else []


# ---- the one-shot callback server --------------------------------------------------------------

CLOSE_TAB_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 3em"><h1>{title}</h1><p>{message}</p></body></html>"""


class _CallbackServer:
    """Serves the redirect URI on loopback until one answer (code or error) arrives."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or not parts.hostname or not is_loopback_host(parts.hostname):
            raise BadArgumentError(
                "redirect_uri must be a loopback http:// address such as http://127.0.0.1:8765/callback "
                "(and registered as a callback URL of your OAuth app)"
            )
        self.path = parts.path or "/"
        self.answers: queue.Queue[dict[str, str]] = queue.Queue()
        handler = self._handler()
        try:
            self.server = HTTPServer((parts.hostname, parts.port or 80), handler)
        except OSError as exc:
            raise ConfluenceError(
                f"cannot listen on {parts.hostname}:{parts.port} for the sign-in answer: {exc}"
            ) from exc
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != owner.path:
                    self.send_error(404)
                    return
                params = {key: values[0] for key, values in parse_qs(parts.query).items()}
                failed = bool(params.get("error")) or not params.get("code")
                title = "Sign-in not completed" if failed else "Signed in to Confluence"
                message = (
                    f"The sign-in did not finish ({html.escape(params.get('error', 'no code'))}). You may close this tab."
                    if failed
                    else "You may close this tab and return to the terminal."
                )
                body = CLOSE_TAB_PAGE.format(title=title, message=message).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                owner.answers.put(params)

            def log_message(self, format: str, *args: Any) -> None:  # the query holds the code
                return

        return Handler

    def __enter__(self) -> _CallbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def wait(self, timeout: float) -> dict[str, str]:
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            raise AuthError(
                f"no sign-in answer arrived within {timeout:.0f} seconds; try again"
            ) from None
