"""The browse-and-pick screen in a real browser: headless Chromium (Debian's package) driven by
Playwright, against the emulator over loopback. Screenshots of each step go to the test's
temporary folder."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import h2ogpte
import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from llama_index_readers_confluence_v2.credential_store import CredentialStore
from llama_index_readers_confluence_v2.credentials import ConfluenceCredential
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.h2ogpte import H2OGPTeEmulator
from llama_index_readers_confluence_v2.webui import running

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "the browser tests need Debian's chromium package (.ci/run installs it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def site() -> Iterator[Emulator]:
    emulator = Emulator(pages=60)
    with emulator.serve():
        yield emulator


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return CredentialStore(tmp_path / "credentials.json", use_keyring=False)


@pytest.fixture
def screen(site: Emulator, store: CredentialStore, tmp_path: Path) -> Iterator[str]:
    options = {"api_gateway_url": site.gateway_url, "auth_server_url": site.auth_url}
    with running(store, tmp_path / "wiki.sqlite", reader_options=options) as url:
        yield url


@pytest.fixture
def page(browser: Browser, screen: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    opened = context.new_page()
    opened.goto(screen)
    yield opened
    context.close()


def session_of(page_html: str) -> dict[str, str]:
    """The header the screen's own page sends with every request (its per-run secret)."""
    found = re.search(r'<meta name="session" content="([^"]+)">', page_html)
    assert found, "the page carries its session secret"
    return {"X-Confluence-V2-Session": found[1]}


def store_demo_token(store: CredentialStore, site: Emulator, name: str = "demo") -> None:
    account = site.user()
    store.save(name, ConfluenceCredential(account.email, account.api_token), site=site.base_url)


def test_from_an_empty_store_to_search_results(
    page: Page, site: Emulator, store: CredentialStore, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    expect(page.locator("#credential")).to_contain_text("no stored credential")
    expect(page.locator("#add-token")).to_have_attribute("open", "")
    account = site.user()
    form = page.locator("#token-form")
    form.locator("[name=id]").fill("work")
    form.locator("[name=site]").fill(site.base_url)
    form.locator("[name=email]").fill(account.email)
    form.locator("[name=token]").fill(account.api_token)
    page.screenshot(path=shots / "1-add-token.png")
    form.locator("button").click()
    expect(page.locator("#credential-message")).to_contain_text("Stored credential work")
    expect(page.locator("#credential")).to_have_value("work")
    assert [c.id for c in store.list()] == ["work"]
    assert account.api_token not in page.content()  # the secret is not sent back

    page.locator("#browse").click()  # the address field took the site's address
    expect(page.locator("#tree-title")).to_contain_text("spaces")
    docs = page.locator("#tree > [role=treeitem][data-id=DOCS]")
    expect(docs).to_be_visible()
    docs.locator(".twisty").first.click()
    expect(docs).to_have_attribute("aria-expanded", "true")
    home = docs.locator("[role=group] > [role=treeitem]").first
    expect(home).to_be_visible()
    home.locator("input[type=checkbox]").first.check()  # the space's home page, with sub-pages
    post = docs.locator("[role=group] > [role=treeitem][data-kind=blogpost]").first
    expect(post).to_contain_text("blog post")
    post.locator("input[type=checkbox]").check()
    page.screenshot(path=shots / "2-tree.png")

    page.locator("#add").click()
    expect(page.locator("#import-message")).to_contain_text("Done.", timeout=60_000)
    expect(page.locator("#progress-line")).to_contain_text("wiki.sqlite: ")
    page.screenshot(path=shots / "3-imported.png")
    imported = int(page.locator("#progress-line").inner_text().split(": ")[1].split(" ")[0])
    assert imported > 10

    page.locator("#query").fill("Architecture")
    page.locator("#search-form button").click()
    first = page.locator("#hits > li").first
    expect(first).to_contain_text("Product Docs >")
    assert first.locator("a").get_attribute("href", timeout=5_000).startswith(site.base_url)
    page.locator("#query").fill(post.locator(".title").inner_text())
    page.locator("#search-form button").click()
    expect(page.locator("#hits > li").first).to_contain_text("Product Docs > Blog >")
    page.screenshot(path=shots / "4-search.png", full_page=True)
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-add-token.png",
        "2-tree.png",
        "3-imported.png",
        "4-search.png",
    ]


def test_the_tree_is_driven_by_the_keyboard(
    page: Page, site: Emulator, store: CredentialStore
) -> None:
    store_demo_token(store, site)
    page.reload()
    page.locator("#url").fill(f"{site.base_url}/spaces/DOCS")
    site.clear_log()
    page.locator("#browse").click()
    root = page.locator("#tree > [role=treeitem]").first
    expect(root).to_be_visible()
    listings = [e.query for e in site.log if e.path.endswith("/pages")]
    assert listings and all(q.get("depth") == "root" for q in listings)  # not the whole space
    site.clear_log()
    root.focus()
    page.keyboard.press("ArrowRight")  # expands, its children loaded then
    expect(root).to_have_attribute("aria-expanded", "true")
    assert [e.path.rsplit("/", 1)[-1] for e in site.log] == ["descendants"]
    page.keyboard.press("ArrowRight")  # into the first child
    child = root.locator("[role=group] > [role=treeitem]").first
    expect(child).to_be_focused()
    page.keyboard.press(" ")
    expect(child).to_have_attribute("aria-checked", "true")
    page.keyboard.press("ArrowDown")
    expect(root.locator("[role=group] > [role=treeitem]").nth(1)).to_be_focused()
    page.keyboard.press("ArrowLeft")  # a leaf, or collapsed: to its parent
    expect(root).to_be_focused()
    page.keyboard.press("ArrowLeft")  # collapses
    expect(root).to_have_attribute("aria-expanded", "false")


def test_a_root_page_opened_with_nothing_under_it_becomes_a_leaf(
    page: Page, site: Emulator, store: CredentialStore
) -> None:
    docs = site.site.space_of("DOCS")
    assert docs is not None
    site.site.add_content(docs, "Loose note")  # a root page, under no other: not known empty
    store_demo_token(store, site)
    page.reload()
    page.locator("#url").fill("DOCS")
    page.locator("#browse").click()
    loose = page.locator("#tree > [role=treeitem]", has_text="Loose note")
    expect(loose).to_have_attribute("aria-expanded", "false")
    expect(loose.locator(".with-children")).to_have_count(1)
    loose.locator(".twisty").click()
    expect(loose).not_to_have_attribute("aria-expanded", re.compile(".*"))
    expect(loose.locator(".with-children")).to_have_count(0)
    expect(loose.locator("[role=group]")).to_have_count(0)


def test_a_bad_address_and_a_refused_credential_are_shown(
    page: Page, site: Emulator, store: CredentialStore
) -> None:
    store_demo_token(store, site)
    account = site.user()
    store.save("stale", ConfluenceCredential(account.email, "revoked-token"), site=site.base_url)
    page.reload()
    page.locator("#url").fill("https://elsewhere.example.com/wiki/spaces/ENG")
    page.locator("#browse").click()
    expect(page.locator("#message")).to_contain_text("elsewhere.example.com")
    page.locator("#url").fill(f"{site.base_url}/spaces/NOSUCHSPACE")
    page.locator("#browse").click()
    expect(page.locator("#message")).to_contain_text("NOSUCHSPACE")
    page.locator("#credential").select_option("stale")
    page.locator("#url").fill(site.base_url)
    page.locator("#browse").click()
    shown = page.locator("#message")
    expect(shown).to_contain_text("refused the credentials of 'alice@example.com'")
    expect(shown).to_contain_text("check the e-mail and the API token")
    assert "user_name" not in shown.inner_text() and "scoped_token" not in shown.inner_text()
    assert "revoked-token" not in shown.inner_text()


def test_the_command_serves_the_screen_until_stopped(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "llama_index_readers_confluence_v2.cli", "ui", "--demo"]
    command += ["--no-open", "--to", str(tmp_path / "wiki.sqlite")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        printed = next(line for line in lines if "The import screen is at" in line)
        url = printed.split(" at ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        with httpx.Client(follow_redirects=True) as client:
            opened = client.get(url)
            spaces = client.get(
                url.split("/?", 1)[0] + "/api/credentials", headers=session_of(opened.text)
            )
        assert opened.status_code == 200 and "Import from Confluence" in opened.text
        assert [c["id"] for c in spaces.json()["credentials"]] == ["demo"]
        assert "api_token" not in spaces.text and "token" not in spaces.json()["credentials"][0]
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "stopped" in out


def test_sign_in_with_oauth_from_the_screen_then_browse(
    page: Page, site: Emulator, store: CredentialStore
) -> None:
    with socket.socket() as probe:  # a free loopback port for the app's callback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redirect = f"http://127.0.0.1:{port}/callback"
    app = site.oauth.register_app([redirect])
    page.locator("#sign-in summary").click()
    form = page.locator("#oauth-form")
    form.locator("[name=id]").fill("work-oauth")
    form.locator("[name=client_id]").fill(app.client_id)
    form.locator("[name=client_secret]").fill(app.client_secret)
    form.locator("[name=redirect_uri]").fill(redirect)
    with page.context.expect_page() as opened:
        form.locator("button").click()
    consent = opened.value
    expect(consent.locator("h1")).to_have_text("Signed in to Confluence", timeout=20_000)
    expect(page.locator("#credential-message")).to_contain_text("stored credential work-oauth")
    expect(page.locator("#credential")).to_have_value("work-oauth")
    assert [(c.id, c.kind) for c in store.list()] == [("work-oauth", "oauth")]
    assert app.client_secret not in page.content()
    page.locator("#url").fill(site.base_url)
    page.locator("#browse").click()
    expect(page.locator("#tree > [role=treeitem][data-id=DOCS]")).to_be_visible()


def test_an_import_into_h2ogpte_from_the_screen(
    page: Page, site: Emulator, store: CredentialStore, h2o: H2OGPTeEmulator
) -> None:
    store_demo_token(store, site)
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    collection_id = str(client.create_collection(name="Wiki", description="from the screen"))
    page.reload()
    page.locator("#url").fill(f"{site.base_url}/spaces/DOCS")
    page.locator("#browse").click()
    page.locator("#tree > [role=treeitem]").first.locator("input[type=checkbox]").first.check()
    page.locator("input[name=include_attachments]").uncheck()
    page.locator("input[name=target][value=h2ogpte]").check()
    page.locator("#h2o-address").fill(h2o.address)
    page.locator("#h2o-collection").fill(collection_id)
    page.locator("#h2o-key").fill(h2o.api_key)
    page.locator("#add").click()
    expect(page.locator("#import-message")).to_contain_text("Done.", timeout=60_000)
    documents = h2o.documents_in(collection_id)
    assert len(documents) > 10 and all(d.name.endswith(".md") for d in documents)
    assert h2o.api_key not in page.locator("#progress").inner_text()  # never echoed back
