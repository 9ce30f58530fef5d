"""Credentials and how they are attached to requests (only ever to the origins they belong to)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from .errors import BadArgumentError


def origin_of(url: str | httpx.URL) -> str:
    parts = urlsplit(str(url))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


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
