"""Credentials: an API token (plain or scoped) and an OAuth 2.0 (3LO) consent.

Credentials hold secrets and build `Authorization` headers; they send nothing themselves (the
client does, and only to the origins they belong to). An OAuth credential refreshes through the
client: Atlassian rotates the refresh token on every use and revokes the whole family when an old
one is reused, so the new refresh token is handed to `on_refresh` (the credential store writes it
atomically) before the new access token is used, and one refresh runs at a time.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import AuthError, BadArgumentError
from .urls import site_origin

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
    "read:content-details:confluence",  # v1 CQL search (attachments, comments); restrictions
    "read:group:confluence",  # v1 groups of a user, members of a group (include_permissions)
    "read:user:confluence",
    "read:space.permission:confluence",  # v2 role assignments of role-based spaces
    "offline_access",
)

REFRESH_MARGIN = 60.0
SIGN_IN_AGAIN = "sign in again (confluence-v2 auth login)"


@dataclass(frozen=True)
class ConfluenceCredential:
    """An Atlassian account e-mail and API token (sent as HTTP Basic).

    `scoped=True` says the token is a scoped API token, which Atlassian accepts only through the
    API gateway; `None` (the default) lets the reader find out on the first 401.
    """

    username: str
    password: str = field(repr=False)
    scoped: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not self.username.strip():
            raise BadArgumentError(
                "ConfluenceCredential needs username= (your Atlassian account e-mail)"
            )
        if not isinstance(self.password, str) or not self.password.strip():
            raise BadArgumentError(
                "ConfluenceCredential needs password= (an API token from "
                "id.atlassian.com > Security > API tokens)"
            )

    def __repr__(self) -> str:
        return f"ConfluenceCredential(username={self.username!r}, password='***', scoped={self.scoped!r})"

    @property
    def kind(self) -> str:
        return "scoped-token" if self.scoped else "api-token"

    @property
    def cloud_id(self) -> None:
        return None

    def authorization(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def credential_from_arguments(
    user_name: str | None,
    api_token: str | None,
    password: str | None,
    credentials: ConfluenceCredential | None,
    scoped_token: bool | None,
) -> ConfluenceCredential:
    """The constructor's arguments (then the environment) as one credential, checked up front."""
    if credentials is not None:
        if not isinstance(credentials, ConfluenceCredential):
            raise BadArgumentError(
                "credentials= takes a ConfluenceCredential(username=..., password=...)"
            )
        if scoped_token is not None and credentials.scoped is None:
            return ConfluenceCredential(credentials.username, credentials.password, scoped_token)
        return credentials
    if api_token and password:
        raise BadArgumentError("pass the API token once: api_token= or password=, not both")
    user_name = user_name or os.environ.get("CONFLUENCE_USERNAME")
    token = api_token or password or os.environ.get("CONFLUENCE_API_TOKEN")
    if not user_name or not token:
        missing = "user_name" if not user_name else "api_token"
        raise BadArgumentError(
            f"{missing} is missing: pass user_name='you@example.com' and api_token='...' "
            "(or credentials=ConfluenceCredential(...), oauth2=..., credential_id=...), or set "
            "CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN"
        )
    return ConfluenceCredential(user_name, token, scoped_token)


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
        self.client_id = client_id
        self.site_url = site_url
        self.cloud_id = cloud_id
        for value, name in ((client_id, "client_id"), (access_token, "access_token")):
            if not isinstance(value, str) or not value:
                raise BadArgumentError(f"an OAuth credential needs {name}")
        if not isinstance(client_secret, str):
            raise BadArgumentError("client_secret must be a string (empty: no refresh)")
        self._client_secret = client_secret
        self._access_token = access_token
        self._refresh_token = refresh_token
        self.expires_at = float(expires_at) if expires_at is not None else None
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

    @property
    def can_refresh(self) -> bool:
        """A refresh needs the refresh token and the app's secret (the incumbent's oauth2 dict
        often has neither: its access token works until it expires)."""
        return bool(self._refresh_token and self._client_secret)

    @property
    def access_token(self) -> str:
        return self._access_token

    def authorization(self) -> str:
        return f"Bearer {self._access_token}"

    def refresh_grant(self) -> dict[str, Any]:
        """The body of the token request that refreshes this credential."""
        if not self.can_refresh:
            missing = "refresh token" if not self._refresh_token else "client secret"
            raise AuthError(
                f"the OAuth access token expired or was refused and there is no {missing} to "
                f"renew it (pass client_secret and the refresh_token in oauth2=); {SIGN_IN_AGAIN}"
            )
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }

    def refreshed(self, tokens: dict[str, Any]) -> None:
        """Take the token endpoint's answer; the new refresh token is saved before any use."""
        self.apply(tokens)
        self.refresh_count += 1
        self._persist()

    def refresh_lock(self) -> asyncio.Lock:
        """One refresh at a time per credential and event loop (single flight)."""
        loop_id = id(asyncio.get_running_loop())
        with self._guard:
            return self._locks.setdefault(loop_id, asyncio.Lock())

    def apply(self, tokens: dict[str, Any]) -> None:
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


Credential = ConfluenceCredential | OAuthCredential


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
