"""OAuth 2.0 (3LO) sign-in through the browser: PKCE and state, a one-shot loopback callback,
the code exchange and the choice of site. The requests themselves go through the client.
"""

from __future__ import annotations

import base64
import hashlib
import html
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

from .bridge import run_sync
from .client import DEFAULT_AUTH_SERVER_URL, DEFAULT_GATEWAY_URL, HttpSession, HttpSettings
from .credentials import DEFAULT_SCOPES, OAuthCredential, choose_site
from .errors import AuthError, BadArgumentError, ConfluenceError
from .urls import check_scheme, is_loopback_host

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
AUDIENCE = "api.atlassian.com"  # what Atlassian's /authorize requires, whatever the gateway URL


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
    auth_server_url: str = DEFAULT_AUTH_SERVER_URL,
    api_gateway_url: str = DEFAULT_GATEWAY_URL,
    open_browser: Callable[[str], object] = webbrowser.open,
    timeout: float = 300.0,
    verify: bool | str = True,
    cancel: threading.Event | None = None,
) -> OAuthCredential:
    """Sign in through the browser and return a credential for one site (`cancel`, when set,
    gives up waiting at once and frees the callback address).

    A one-shot server on the loopback `redirect_uri` (register it in the developer console)
    receives the code; `state` is checked; the code is exchanged with PKCE; the site comes from
    `accessible-resources` (`site_url` picks one when the consent covers several).
    """
    check_scheme(auth_server_url, "auth_server_url")
    check_scheme(api_gateway_url, "api_gateway_url")
    request = authorization_request(auth_server_url, client_id, redirect_uri, scopes)
    with _CallbackServer(redirect_uri) as callback:
        open_browser(request.url)
        params = callback.wait(timeout, cancel)
    grant = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "code": _code_from(params, request.state),
        "redirect_uri": redirect_uri,
        "code_verifier": request.code_verifier,
    }

    async def exchange() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        endpoints = HttpSettings(api_gateway_url, auth_server_url, verify=verify)
        async with HttpSession(endpoints) as session:
            tokens = await session.token_request(grant)
            return tokens, await session.accessible_resources(f"Bearer {tokens['access_token']}")

    tokens, sites = run_sync(exchange)
    site = choose_site(sites, site_url)
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
    credential.apply(tokens)
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


# ---- the one-shot callback server --------------------------------------------------------------

CLOSE_TAB_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 3em"><h1>{title}</h1><p>{message}</p></body></html>"""


class _ReusingServer(HTTPServer):
    allow_reuse_address = True  # a retry right after a sign-in ends binds the same port


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
            self.server = _ReusingServer((parts.hostname, parts.port or 80), handler)
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
                    else "You may close this tab and return to where you started the sign-in."
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

    def wait(self, timeout: float, cancel: threading.Event | None = None) -> dict[str, str]:
        """The answer; given up on after `timeout`, or at once when `cancel` is set (a new
        sign-in on the same address replaces this one)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if cancel is not None and cancel.is_set():
                raise AuthError("the sign-in was replaced by a new one")
            try:
                return self.answers.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
        raise AuthError(f"no sign-in answer arrived within {timeout:.0f} seconds; try again")
