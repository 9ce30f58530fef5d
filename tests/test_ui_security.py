"""The import screen against hostile local pages and bad input (issue 28): a page on another
loopback port (same site, so the browser sends it our cookie) can drive no route, GET included;
files are created only where the screen was started; malformed requests get a 4xx that says
what is wrong; an unresponsive h2oGPTe address leaves the screen answering."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from llama_index_readers_confluence_v2 import ConfluenceCredential, CredentialStore
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.webui import running

from .test_ui import browser, session_of  # noqa: F401  (the module's browser fixture)


@pytest.fixture
def site() -> Iterator[Emulator]:
    emulator = Emulator(pages=30)
    with emulator.serve():
        yield emulator


@pytest.fixture
def store(tmp_path: Path, site: Emulator) -> CredentialStore:
    stored = CredentialStore(tmp_path / "credentials.json", use_keyring=False)
    account = site.user()
    credential = ConfluenceCredential(account.email, account.api_token)
    stored.save("demo", credential, site=site.base_url)
    return stored


@pytest.fixture
def screen(site: Emulator, store: CredentialStore, tmp_path: Path) -> Iterator[str]:
    options = {"api_gateway_url": site.gateway_url, "auth_server_url": site.auth_url}
    folder = tmp_path / "collections"
    folder.mkdir()
    with running(store, folder / "wiki.sqlite", reader_options=options) as url:
        yield url


@pytest.fixture
def signed(screen: str) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """A client signed in as the screen's own page is: its cookie and its session header."""
    origin = screen.split("/?", 1)[0]
    with httpx.Client(base_url=origin, follow_redirects=True) as client:
        page = client.get(screen)
        yield client, session_of(page.text)


def importing(target: dict[str, str], **more: Any) -> dict[str, Any]:
    """An import request's body: the demo credential, the DOCS space, into `target`."""
    return {
        "credential": "demo",
        "picks": [{"kind": "space", "id": "DOCS"}],
        "target": target,
        **more,
    }


def a_victim_database(path: Path) -> bytes:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.execute("INSERT INTO notes VALUES ('keep me as I am')")
    return path.read_bytes()


class HostilePage(BaseHTTPRequestHandler):
    """A page on another loopback port that tries every route the screen has."""

    target = ""
    victim = ""

    def do_GET(self) -> None:
        base, victim = self.target, self.victim
        script = f"""
        <img src="{base}/api/search?q=x&path={victim}">
        <img src="{base}/api/credentials">
        <script>
        window.results = [];
        const done = (r) => window.results.push(r);
        const body = JSON.stringify({{id: "evil", site: "https://acme.confluence.test/wiki",
                                     email: "e@x.test", token: "t"}});
        fetch("{base}/api/search?q=x&path={victim}", {{credentials: "include", mode: "no-cors"}})
          .then(r => done(r.type), e => done(String(e)));
        fetch("{base}/api/credentials", {{credentials: "include"}})
          .then(r => r.text().then(t => done("read: " + t)), e => done("blocked"));
        for (const type of ["text/plain", "application/json"]) {{
          fetch("{base}/api/credentials", {{method: "POST", credentials: "include",
                mode: "no-cors", headers: {{"Content-Type": type}}, body}})
            .then(r => done(r.type), e => done(String(e)));
        }}
        </script>"""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(script.encode())

    def log_message(self, *args: Any) -> None:
        pass


def test_a_page_on_another_loopback_port_drives_no_route(
    browser: Browser,  # noqa: F811
    screen: str,
    store: CredentialStore,
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim.sqlite"
    before = a_victim_database(victim)
    origin = screen.split("/?", 1)[0]
    context = browser.new_context()
    context.new_page().goto(screen)  # signed in: the cookie is in this browser
    HostilePage.target, HostilePage.victim = origin, str(victim)
    hostile = ThreadingHTTPServer(("127.0.0.1", 0), HostilePage)
    threading.Thread(target=hostile.serve_forever, daemon=True).start()
    try:
        attacker = context.new_page()
        attacker.goto(f"http://127.0.0.1:{hostile.server_address[1]}/")
        attacker.wait_for_function("window.results.length === 4")
        results = attacker.evaluate("window.results")
    finally:
        hostile.shutdown()
        hostile.server_close()
        context.close()
    assert not [r for r in results if str(r).startswith("read:")]  # nothing read back
    assert victim.read_bytes() == before  # not turned into a collection
    assert not victim.with_name("victim.sqlite-wal").exists()
    assert [c.id for c in store.list()] == ["demo"]  # nothing it sent was taken


def test_every_route_needs_the_session_header_and_our_origin(
    signed: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, session = signed
    assert client.get("/api/credentials", headers=session).status_code == 200
    cookie_only = client.get("/api/credentials")
    cross_site = client.get(
        "/api/credentials",
        headers={**session, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    same_site = client.get("/api/search?q=x", headers={**session, "Sec-Fetch-Site": "same-site"})
    assert (cookie_only.status_code, cross_site.status_code, same_site.status_code) == (
        403,
        403,
        403,
    )
    assert "session header" in cookie_only.json()["error"]
    rebound = client.get("/api/credentials", headers={**session, "Host": "evil.example"})
    forged = client.post(
        "/api/credentials", json={"id": "x"}, headers={**session, "Origin": "http://evil.example"}
    )
    origin = str(client.base_url).rstrip("/")
    unsigned = httpx.get(f"{origin}/api/credentials", headers=session)  # no cookie
    wrong = httpx.get(f"{origin}/?token=guess", follow_redirects=False)
    assert [r.status_code for r in (rebound, forged, unsigned, wrong)] == [403] * 4


def test_every_answer_carries_the_headers_of_a_local_app(
    signed: tuple[httpx.Client, dict[str, str]], screen: str
) -> None:
    client, session = signed
    for answer in (client.get(screen), client.get("/api/credentials", headers=session)):
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["/etc/cron.d/x", "../../etc/deep/x.sqlite", "sub/x.sqlite", ".hidden", "a\\b"]
)
def test_the_page_cannot_choose_where_a_collection_is_created_or_opened(
    signed: tuple[httpx.Client, dict[str, str]], tmp_path: Path, path: str
) -> None:
    client, session = signed
    started = client.post(
        "/api/import", headers=session, json=importing({"kind": "local", "path": path})
    )
    searched = client.get("/api/search", params={"q": "x", "path": path}, headers=session)
    assert started.status_code == 400 and "file name such as wiki.sqlite" in started.json()["error"]
    assert searched.status_code == 400
    assert sorted(p.name for p in (tmp_path / "collections").iterdir()) == []


def test_a_file_name_makes_a_collection_beside_the_default_one(
    signed: tuple[httpx.Client, dict[str, str]], tmp_path: Path
) -> None:
    client, session = signed
    started = client.post(
        "/api/import", headers=session, json=importing({"kind": "local", "path": "team"})
    )
    assert started.status_code == 200, started.text
    job = started.json()["job"]
    for _ in range(200):
        state = client.get(f"/api/jobs/{job}", headers=session).json()
        if state["state"] != "running":
            break
        time.sleep(0.05)
    assert state["state"] == "done", state
    assert (tmp_path / "collections" / "team.sqlite").is_file()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"credential": "demo", "picks": "abc"}, '"picks" must be a list'),
        ({"credential": "demo", "picks": ["abc"]}, '"picks" holds objects'),
        (
            {"credential": "demo", "picks": [{"kind": "page", "id": "1"}], "target": "x"},
            '"target" must be an object',
        ),
        (
            {"credential": "demo", "picks": [{"kind": "page", "id": "1"}], "options": "x"},
            '"options" must be an object',
        ),
        ({"credential": 5, "picks": []}, '"credential" must be text'),
        ({"credential": "demo", "picks": [{"kind": "disk", "id": "1"}]}, "cannot import disk"),
    ],
)
def test_a_malformed_request_gets_a_4xx_that_says_what_is_wrong(
    signed: tuple[httpx.Client, dict[str, str]], body: dict[str, Any], says: str
) -> None:
    client, session = signed
    answer = client.post("/api/import", headers=session, json=body)
    assert answer.status_code == 400 and says in answer.json()["error"], answer.text


def test_bodies_are_json_objects_of_bounded_size(
    signed: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, session = signed
    disguised = client.post(
        "/api/credentials",
        headers={**session, "Content-Type": "text/plain; a=application/json"},
        content=b'{"id": "x"}',
    )
    huge = client.post(
        "/api/browse",
        headers={**session, "Content-Type": "application/json"},
        content=b'{"url": "' + b"a" * 70_000 + b'"}',
    )
    broken = client.post(
        "/api/browse", headers={**session, "Content-Type": "application/json"}, content=b"{"
    )
    assert disguised.status_code == 400 and "Content-Type: application/json" in disguised.text
    assert huge.status_code == 413
    assert broken.status_code == 400 and "not valid JSON" in broken.text


def a_server_that_never_answers() -> tuple[socket.socket, str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections (the kernel does), never reads or answers
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_an_unresponsive_h2ogpte_address_leaves_the_screen_answering(
    signed: tuple[httpx.Client, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_index_readers_confluence_v2 import app

    monkeypatch.setattr(app, "H2OGPTE_CONNECT_SECONDS", 2.0)
    client, session = signed
    listener, address = a_server_that_never_answers()
    try:
        started = client.post(
            "/api/import",
            headers=session,
            json={
                "credential": "demo",
                "picks": [{"kind": "space", "id": "DOCS"}],
                "target": {
                    "kind": "h2ogpte",
                    "address": address,
                    "collection": "c",
                    "api_key": "k",
                },
            },
        )
        assert started.status_code == 200
        began = time.monotonic()
        answered = client.get("/api/credentials", headers=session, timeout=5)
        assert answered.status_code == 200 and time.monotonic() - began < 2
        job = started.json()["job"]
        for _ in range(100):
            state = client.get(f"/api/jobs/{job}", headers=session).json()
            if state["state"] != "running":
                break
            time.sleep(0.1)
    finally:
        listener.close()
    assert state["state"] == "failed" and "did not answer within 2 s" in state["error"]


def test_an_h2ogpte_address_over_plain_http_gets_no_api_key(
    signed: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, session = signed
    plain = {"kind": "h2ogpte", "address": "http://h2ogpte.example.com"}
    answer = client.post(
        "/api/import", headers=session, json=importing({**plain, "collection": "c", "api_key": "k"})
    )
    assert answer.status_code == 400 and "https://" in answer.json()["error"]


def test_sigterm_cleans_up_the_demos_credential_store(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "llama_index_readers_confluence_v2.cli", "ui", "--demo"]
    command += ["--no-open", "--to", str(tmp_path / "wiki.sqlite")]
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = {**os.environ, "TMPDIR": str(temporary)}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert any("The import screen is at" in line for line in lines)
        assert [p.name for p in temporary.iterdir() if p.name.startswith("confluence-v2-ui-")]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert not [p for p in temporary.iterdir() if p.name.startswith("confluence-v2-ui-")]
