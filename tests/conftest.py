"""Shared fixtures: every test talks to the bundled emulator, never to a real host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llama_index_readers_confluence_v2 import (
    DEFAULT_SCOPES,
    ConfluenceReader,
    OAuthCredential,
    RetryPolicy,
)
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.h2ogpte import H2OGPTeEmulator

FAST_RETRY = RetryPolicy(max_attempts=6, backoff_base=0.01, backoff_max=0.05, retry_after_max=0.05)


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(pages=60)


@pytest.fixture
def served(emulator: Emulator) -> Iterator[Emulator]:
    with emulator.serve():
        yield emulator


@pytest.fixture
def h2o() -> Iterator[H2OGPTeEmulator]:
    """The h2oGPTe emulator on loopback, for the real `h2ogpte` client."""
    fake = H2OGPTeEmulator()
    with fake.serve():
        yield fake


def make_reader(emulator: Emulator, *, in_process: bool = True, **kwargs: Any) -> ConfluenceReader:
    account = emulator.user()
    options: dict[str, Any] = {
        "user_name": account.email,
        "api_token": account.api_token,
        "api_gateway_url": emulator.gateway_url,
        "auth_server_url": emulator.auth_url,
        "retry": FAST_RETRY,
    }
    if in_process:
        options["transport"] = emulator.transport()
    options.update(kwargs)
    return ConfluenceReader(emulator.base_url, **options)


def api_client(emulator: Emulator, auth: Any = None, **kwargs: Any) -> httpx.AsyncClient:
    """A plain httpx client on the emulator's site origin (in-process)."""
    account = emulator.user()
    return httpx.AsyncClient(
        transport=emulator.transport(),
        base_url=emulator.origins.site,
        auth=auth if auth is not None else (account.email, account.api_token),
        **kwargs,
    )


QUOTA_RETRY = RetryPolicy(max_attempts=6, backoff_base=0.01, backoff_max=0.05)  # max_wait 300 s


def oauth_reader(emulator: Emulator, **options: Any) -> ConfluenceReader:
    """A reader signed in through OAuth 2.0 (the traffic Atlassian's points quota applies to)."""
    app = emulator.oauth.register_app()
    tokens = emulator.oauth.issue_tokens(
        emulator.user().account_id, app.client_id, " ".join(DEFAULT_SCOPES)
    )
    credential = OAuthCredential(
        app.client_id, app.client_secret, tokens["access_token"], tokens["refresh_token"]
    )
    options.setdefault("retry", QUOTA_RETRY)
    return make_reader(emulator, credentials=credential, user_name=None, api_token=None, **options)


def to_the_top_of_an_hour(emulator: Emulator) -> None:
    """Move the emulator's clock just past a quota reset, so a whole hour lies ahead."""
    emulator.advance(3600 - emulator.app.now() % 3600 + 1)
