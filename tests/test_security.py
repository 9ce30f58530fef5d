"""Origin pinning, TLS, and secrets: credentials go only where they belong and are never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import trustme

from llama_index_readers_confluence_v2 import (
    DEFAULT_SCOPES,
    BadURLError,
    ConfluenceCredential,
    ConfluenceReader,
    CredentialStore,
    OAuthCredential,
    TransportError,
)
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID
from llama_index_readers_confluence_v2.sinks import LocalCollection
from llama_index_readers_confluence_v2.sync import sync

from .conftest import FAST_RETRY, make_reader


def gallery(emulator: Emulator) -> str:
    return next(c.id for c in emulator.site.contents.values() if c.title == "Image Gallery")


def test_credentials_reach_only_their_own_origin(served: Emulator) -> None:
    make_reader(served, in_process=False).load_data(space_key="DOCS", include_attachments=True)
    assert {e.origin for e in served.log if e.has_authorization} == {"site"}
    assert all(
        e.has_authorization
        for e in served.log
        if e.origin == "site" and e.path.startswith("/wiki/")
    )
    assert served.requests(origin="media") and not any(
        e.has_authorization for e in served.requests(origin="media")
    )


def test_oauth_tokens_reach_only_the_gateway_and_secrets_only_the_auth_server(
    served: Emulator,
) -> None:
    app = served.oauth.register_app()
    tokens = served.oauth.issue_tokens(
        served.user().account_id, app.client_id, " ".join(DEFAULT_SCOPES)
    )
    credential = OAuthCredential(
        app.client_id, app.client_secret, tokens["access_token"], tokens["refresh_token"], 0
    )
    reader = ConfluenceReader(
        served.base_url,
        credentials=credential,
        api_gateway_url=served.gateway_url,
        auth_server_url=served.auth_url,
        retry=FAST_RETRY,
    )
    reader.load_data(page_ids=[gallery(served)], include_attachments=True)
    assert {e.origin for e in served.log if e.has_authorization} == {"gateway"}
    assert [e.path for e in served.log if e.origin == "auth"] == [
        "/oauth/token"
    ]  # the refresh, secret in the body
    assert not any(e.origin == "site" and e.path.startswith("/wiki/") for e in served.log)


async def test_a_redirect_elsewhere_is_followed_without_credentials_and_plain_http_is_refused() -> (
    None
):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "acme.confluence.test" and request.url.path.endswith("/download"):
            target = (
                "https://files.elsewhere.example/blob?sig=1"
                if "att1" in request.url.path
                else "http://plain.example/x"
            )
            return httpx.Response(302, headers={"Location": target})
        return httpx.Response(200, content=b"\\x89PNG data")

    credential = ConfluenceCredential("a@example.com", "pinned-token-value")
    client = ConfluenceReader(
        "https://acme.confluence.test/wiki",
        credentials=credential,
        api_gateway_url="https://api.confluence.test",
        transport=httpx.MockTransport(handler),
        retry=FAST_RETRY,
    ).client()
    async with client:
        data = await client.download("1", "att1", 1000)
        with pytest.raises(BadURLError, match="https"):
            await client.download("1", "att2", 1000)
    assert data == b"\\x89PNG data"
    first, second = seen[0], seen[1]
    assert first.headers.get("authorization", "").startswith("Basic ")
    assert second.url.host == "files.elsewhere.example" and "authorization" not in second.headers
    assert not any(r.url.host == "plain.example" for r in seen)


@pytest.mark.parametrize("argument", ["base_url", "api_gateway_url", "auth_server_url"])
def test_plain_http_is_refused_for_every_endpoint_except_loopback(argument: str) -> None:
    options = {
        "base_url": "https://acme.atlassian.net/wiki",
        "user_name": "a@b.c",
        "api_token": "t",
    }
    options[argument] = "http://acme.example"
    with pytest.raises(BadURLError, match=argument):
        ConfluenceReader(**options)  # type: ignore[arg-type]


def test_tls_is_verified_by_default_and_a_ca_bundle_can_be_given(
    emulator: Emulator, tmp_path: Path
) -> None:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(cert))
    certificate.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    with emulator.serve(tls=(str(cert), str(key))):
        assert emulator.base_url.startswith("https://127.0.0.1:")
        default = make_reader(emulator, in_process=False)
        assert default.settings.connection.http.verify is True
        with pytest.raises(TransportError, match=r"could not be verified.*verify="):
            default.load_data(page_ids=[BIG_PAGE_ID])
        trusted = make_reader(emulator, in_process=False, verify=str(ca))
        assert trusted.load_data(page_ids=[BIG_PAGE_ID])[0].id_ == BIG_PAGE_ID


def test_no_secret_in_logs_errors_reprs_or_the_collection(
    served: Emulator, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    user = served.user()
    app = served.oauth.register_app()
    tokens = served.oauth.issue_tokens(user.account_id, app.client_id, " ".join(DEFAULT_SCOPES))
    store = CredentialStore(tmp_path / "store.json", use_keyring=False)
    store.save(
        "oauth",
        OAuthCredential(
            app.client_id, app.client_secret, tokens["access_token"], tokens["refresh_token"], 0
        ),
    )
    secrets = [user.api_token, app.client_secret, tokens["access_token"], tokens["refresh_token"]]
    served.faults.rate_limit(times=3, retry_after="0", every=4)
    served.faults.drop_connection(times=2, path="/pages", every=5)
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        reader = make_reader(served, in_process=False)
        with LocalCollection(tmp_path / "wiki.sqlite") as collection:
            sync(reader, collection, space_key="DOCS", include_attachments=True)
        oauth_reader = ConfluenceReader(
            served.base_url,
            credential_id="oauth",
            credential_store=store,
            api_gateway_url=served.gateway_url,
            auth_server_url=served.auth_url,
        )
        oauth_reader.load_data(page_ids=[BIG_PAGE_ID])
        refreshed = store.load("oauth")
        assert isinstance(refreshed, OAuthCredential)
        secrets += list(refreshed.secrets())
        for bad in ({"api_token": "wrong-" + user.api_token}, {"user_name": "nobody@example.com"}):
            try:
                make_reader(served, in_process=False, **bad).load_data(space_key="DOCS")
            except Exception as error:
                texts.append(str(error))
                texts.append(repr(error))
    texts += [
        caplog.text,
        repr(reader),
        repr(oauth_reader),
        repr(store),
        repr(store.list()),
        repr(refreshed),
    ]
    collection_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("wiki.sqlite*"))
    for secret in secrets:
        assert all(secret not in text for text in texts)
        assert secret.encode() not in collection_bytes
    assert "HTTP 429" in caplog.text  # the logs did talk about the run
