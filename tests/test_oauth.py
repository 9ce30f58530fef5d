"""OAuth 2.0 (3LO): the browser flow, refresh under load and across a crash, the credential store."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from llama_index_readers_confluence_v2 import (
    DEFAULT_SCOPES,
    AuthError,
    BadArgumentError,
    ConfluenceClient,
    ConfluenceCredential,
    ConfluenceReader,
    CredentialStore,
    OAuthCredential,
    login,
)
from llama_index_readers_confluence_v2.emulator import Emulator, OAuthApp
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID
from llama_index_readers_confluence_v2.signin import AUDIENCE, authorization_request

from .conftest import FAST_RETRY
from .sites import current_ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def registered(emulator: Emulator) -> tuple[OAuthApp, str]:
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    return emulator.oauth.register_app([redirect_uri]), redirect_uri


def sign_in(served: Emulator, open_browser: object = None, **options: object) -> OAuthCredential:
    """Register an app on the emulated auth server and run the real sign-in flow against it."""
    app, redirect_uri = registered(served)
    return login(
        app.client_id,
        app.client_secret,
        redirect_uri=redirect_uri,
        auth_server_url=served.auth_url,
        api_gateway_url=served.gateway_url,
        open_browser=open_browser or browser,  # type: ignore[arg-type]
        timeout=10,
        **options,  # type: ignore[arg-type]
    )


def browser(url: str) -> None:
    """Stands in for the user's browser: follows the consent redirect to the callback."""
    response = httpx.get(url, follow_redirects=True, timeout=10)
    assert response.status_code == 200


def oauth_credential(
    emulator: Emulator, app: OAuthApp | None = None
) -> tuple[OAuthCredential, OAuthApp]:
    app = app or emulator.oauth.register_app()
    tokens = emulator.oauth.issue_tokens(
        emulator.user().account_id, app.client_id, " ".join(DEFAULT_SCOPES)
    )
    credential = OAuthCredential(
        app.client_id,
        app.client_secret,
        tokens["access_token"],
        tokens["refresh_token"],
        emulator.app.now() + tokens["expires_in"],
    )
    return credential, app


def gateway_client(emulator: Emulator, credential: OAuthCredential) -> ConfluenceClient:
    """The reader's own client on an OAuth credential, talking to the in-process emulator."""
    return ConfluenceReader(
        emulator.base_url,
        credentials=credential,
        api_gateway_url=emulator.gateway_url,
        auth_server_url=emulator.auth_url,
        transport=emulator.transport(),
        retry=FAST_RETRY,
    ).client()


def oauth_reader(
    emulator: Emulator, credential: OAuthCredential, **kwargs: object
) -> ConfluenceReader:
    if emulator.base_url.startswith("https://"):  # in-process; served emulators are on loopback
        kwargs.setdefault("transport", emulator.transport())
    return ConfluenceReader(
        emulator.base_url,
        credentials=credential,
        api_gateway_url=emulator.gateway_url,
        auth_server_url=emulator.auth_url,
        retry=FAST_RETRY,
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_whole_flow_end_to_end(served: Emulator) -> None:
    credential = sign_in(served)
    assert credential.cloud_id == served.cloud_id
    assert credential.site_url == served.origins.site
    documents = oauth_reader(served, credential).load_data(page_ids=[BIG_PAGE_ID])
    assert documents[0].id_ == BIG_PAGE_ID
    api = [e for e in served.log if e.origin in ("site", "gateway")]
    assert all(e.origin == "gateway" and e.auth == "bearer" for e in api)
    authorize = next(e for e in served.log if e.path == "/authorize")
    assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["audience"] == AUDIENCE and authorize.query["prompt"] == "consent"
    assert set(authorize.query["scope"].split()) == set(DEFAULT_SCOPES)


def test_a_wrong_state_is_refused(served: Emulator) -> None:
    def tampering_browser(url: str) -> None:
        consent = httpx.get(url)
        location = urlsplit(consent.headers["location"])
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        query["state"] = "forged"
        httpx.get(f"{location.scheme}://{location.netloc}{location.path}?{urlencode(query)}")

    with pytest.raises(AuthError, match="wrong state"):
        sign_in(served, tampering_browser)
    assert not [e for e in served.log if e.path == "/oauth/token"]


def test_a_denied_consent_is_reported(served: Emulator) -> None:
    served.oauth.deny_next = True
    with pytest.raises(AuthError, match="access_denied"):
        sign_in(served)


def test_the_callback_page_tells_the_user_to_close_the_tab(served: Emulator) -> None:
    pages: list[str] = []
    sign_in(served, lambda url: pages.append(httpx.get(url, follow_redirects=True).text))
    assert "You may close this tab" in pages[0]


def test_an_access_token_expiring_mid_import_is_refreshed_once(emulator: Emulator) -> None:
    credential, _ = oauth_credential(emulator)
    emulator.faults.on_request(lambda: emulator.advance(3700), path="/pages", after=3)
    documents = oauth_reader(emulator, credential).load_data(space_key="DOCS")
    assert {d.id_ for d in documents} == current_ids(emulator, "DOCS")
    assert credential.refresh_count == 1 and emulator.oauth.refreshes == 1
    assert sum(e.status == 401 for e in emulator.log) == 1


async def test_eight_concurrent_requests_at_expiry_cause_one_refresh(emulator: Emulator) -> None:
    credential, _ = oauth_credential(emulator)
    async with gateway_client(emulator, credential) as client:
        await client.get_json("/wiki/api/v2/spaces")
        emulator.advance(3700)  # the server's clock: every token of the batch is now refused
        results = await asyncio.gather(
            *(client.get_json(f"/wiki/api/v2/pages/{BIG_PAGE_ID}") for _ in range(8))
        )
    assert all(r["id"] == BIG_PAGE_ID for r in results)
    assert emulator.oauth.refreshes == 1 and credential.refresh_count == 1


async def test_a_token_known_to_be_expired_is_refreshed_before_use(emulator: Emulator) -> None:
    credential, _ = oauth_credential(emulator)
    credential.expires_at = 0  # our clock says expired: refresh first, no 401 needed
    async with gateway_client(emulator, credential) as client:
        await asyncio.gather(*(client.get_json("/wiki/api/v2/spaces") for _ in range(8)))
    assert emulator.oauth.refreshes == 1
    assert not any(e.status == 401 for e in emulator.log)


def test_a_revoked_refresh_token_says_to_sign_in_again(emulator: Emulator) -> None:
    credential, app = oauth_credential(emulator)
    old_refresh = credential.to_dict()["refresh_token"]
    credential.expires_at = 0
    oauth_reader(emulator, credential).load_data(page_ids=[BIG_PAGE_ID])  # rotates
    emulator.advance(4000)  # past the access token's life and the reuse leeway
    stale = OAuthCredential(app.client_id, app.client_secret, "expired-access", old_refresh, 0)
    with pytest.raises(AuthError, match="sign in again"):
        oauth_reader(emulator, stale).load_data(page_ids=[BIG_PAGE_ID])
    # the reuse revoked the whole family: the current token no longer works either
    credential.expires_at = 0
    with pytest.raises(AuthError, match="sign in again"):
        oauth_reader(emulator, credential).load_data(page_ids=[BIG_PAGE_ID])


def test_reuse_within_the_leeway_is_tolerated(emulator: Emulator) -> None:
    credential, app = oauth_credential(emulator)
    old_refresh = credential.to_dict()["refresh_token"]
    credential.expires_at = 0
    oauth_reader(emulator, credential).load_data(page_ids=[BIG_PAGE_ID])
    again = OAuthCredential(app.client_id, app.client_secret, "x", old_refresh, 0)
    assert oauth_reader(emulator, again).load_data(page_ids=[BIG_PAGE_ID])


def test_the_incumbent_oauth2_dict_works(emulator: Emulator) -> None:
    credential, app = oauth_credential(emulator)
    data = credential.to_dict()
    reader = ConfluenceReader(
        emulator.base_url,
        oauth2={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "token": {
                "access_token": data["access_token"],
                "refresh_token": data["refresh_token"],
                "expires_at": data["expires_at"],
            },
        },
        api_gateway_url=emulator.gateway_url,
        auth_server_url=emulator.auth_url,
        transport=emulator.transport(),
    )
    assert reader.load_data(page_ids=[BIG_PAGE_ID])[0].id_ == BIG_PAGE_ID


def test_no_oauth_secret_in_logs_reprs_or_errors(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    credential, _ = oauth_credential(emulator)
    store = CredentialStore(tmp_path / "c.json", use_keyring=False)
    store.save("work", credential)
    loaded = store.load("work")
    assert isinstance(loaded, OAuthCredential)
    emulator.faults.on_request(lambda: emulator.advance(3700), path="/pages", after=1)
    with caplog.at_level(logging.DEBUG):
        reader = oauth_reader(emulator, loaded)
        reader.load_data(space_key="DOCS")
        with pytest.raises(AuthError) as caught:
            oauth_reader(
                emulator, OAuthCredential("x", "y-secret-value", "z-access-value", "w-refresh", 0)
            ).load_data(page_ids=[BIG_PAGE_ID])
    secrets = [
        *credential.secrets(),
        *loaded.secrets(),
        "y-secret-value",
        "z-access-value",
        "w-refresh",
    ]
    texts = [
        caplog.text,
        repr(reader),
        repr(loaded),
        repr(store),
        str(caught.value),
        repr(store.list()),
    ]
    for secret in secrets:
        for text in texts:
            assert secret not in text


def test_the_refresh_is_on_disk_before_a_crash(served: Emulator, tmp_path: Path) -> None:
    credential, _ = oauth_credential(served)
    store_path = tmp_path / "credentials.json"
    CredentialStore(store_path, use_keyring=False).save("crashy", credential)
    old_refresh = credential.to_dict()["refresh_token"]
    script = textwrap.dedent(f"""
        import asyncio, os, signal
        from llama_index_readers_confluence_v2 import CredentialStore
        from llama_index_readers_confluence_v2 import ConfluenceReader

        credential = CredentialStore({str(store_path)!r}, use_keyring=False).load("crashy")
        credential.expires_at = 0

        async def main():
            client = ConfluenceReader({served.base_url!r}, credentials=credential,
                                      api_gateway_url={served.gateway_url!r},
                                      auth_server_url={served.auth_url!r},
                                      cloud_id={served.cloud_id!r}).client()
            async with client:
                await client.authorization()  # the refresh
                os.kill(os.getpid(), signal.SIGKILL)  # dies before using the new access token

        asyncio.run(main())
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()
    saved = json.loads(store_path.read_text())["credentials"]["crashy"]["secret"]
    assert saved["refresh_token"] != old_refresh
    assert served.oauth.refresh_token_is_live(saved["refresh_token"])
    restored = CredentialStore(store_path, use_keyring=False).load("crashy")
    assert oauth_reader(served, restored).load_data(page_ids=[BIG_PAGE_ID])  # the next run works


# ---- the emulated authorization server ---------------------------------------------------------


async def test_token_endpoint_takes_form_bodies_checks_pkce_and_single_use_codes(
    emulator: Emulator,
) -> None:
    app = emulator.oauth.register_app(["http://127.0.0.1:9/cb"])
    request = authorization_request(emulator.auth_url, app.client_id, "http://127.0.0.1:9/cb")
    async with httpx.AsyncClient(transport=emulator.transport()) as http:
        consent = await http.get(request.url)
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        body = {
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/cb",
        }
        wrong_verifier = await http.post(
            f"{emulator.auth_url}/oauth/token", data={**body, "code_verifier": "nope"}
        )
        good = await http.post(
            f"{emulator.auth_url}/oauth/token",
            data={**body, "code_verifier": request.code_verifier},
        )
        reused = await http.post(
            f"{emulator.auth_url}/oauth/token",
            json={**body, "code_verifier": request.code_verifier},
        )
        bad_secret = await http.post(
            f"{emulator.auth_url}/oauth/token", json={**body, "client_secret": "x"}
        )
    assert wrong_verifier.status_code == 400
    assert good.status_code == 200 and {"access_token", "refresh_token", "expires_in"} <= set(
        good.json()
    )
    assert reused.status_code == 403 and reused.json()["error"] == "invalid_grant"
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "access_denied"


def test_several_sites_need_a_choice(served: Emulator) -> None:
    served.oauth.extra_sites.append(
        {"id": "other-cloud", "name": "Other", "url": "https://other.example", "scopes": []}
    )
    with pytest.raises(BadArgumentError, match="several sites"):
        sign_in(served)
    chosen = sign_in(served, site_url=served.base_url)
    assert chosen.cloud_id == served.cloud_id


# ---- the credential store -----------------------------------------------------------------------


def test_store_saves_lists_loads_and_deletes_without_showing_secrets(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "nested" / "credentials.json"
    store = CredentialStore(path, use_keyring=False)
    user = emulator.user()
    store.save(
        "acme-token", ConfluenceCredential(user.email, user.api_token), site=emulator.base_url
    )
    oauth, _ = oauth_credential(emulator)
    store.save("acme-oauth", oauth, site=emulator.base_url)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    listed = store.list()
    assert [(c.id, c.kind, c.site) for c in listed] == [
        ("acme-oauth", "oauth", emulator.base_url),
        ("acme-token", "api-token", emulator.base_url),
    ]
    assert user.api_token not in repr(listed) and oauth.secrets()[0] not in repr(listed)
    reader = ConfluenceReader(
        emulator.base_url,
        credential_id="acme-token",
        credential_store=store,
        transport=emulator.transport(),
    )
    assert reader.load_data(page_ids=[BIG_PAGE_ID])[0].id_ == BIG_PAGE_ID
    store.delete("acme-token")
    with pytest.raises(BadArgumentError, match="no stored credential 'acme-token'"):
        store.load("acme-token")
    assert [c.id for c in store.list()] == ["acme-oauth"]
    assert not list(tmp_path.glob("nested/.credentials.json.*.tmp"))


@pytest.mark.parametrize("bad_id", ["", "a b", "../escape", "x" * 65])
def test_store_refuses_odd_ids(tmp_path: Path, bad_id: str) -> None:
    with pytest.raises(BadArgumentError, match="credential id"):
        CredentialStore(tmp_path / "c.json", use_keyring=False).save(
            bad_id, ConfluenceCredential("a@b.c", "t")
        )


def test_the_store_path_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFLUENCE_V2_CREDENTIALS", str(tmp_path / "env.json"))
    store = CredentialStore(use_keyring=False)
    store.save("x", ConfluenceCredential("a@b.c", "t"))
    assert (tmp_path / "env.json").exists()
