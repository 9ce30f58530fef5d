"""The import screen as a new user meets it (issue 28), in headless Chromium: feedback next to
what caused it, a tree whose ticks say what they cover, a count before importing, progress with
a bar and cancel that survives a reload, a summary by title, and credentials that are checked,
never silently replaced, and can be deleted. Screenshots go to the test's temporary folder."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from llama_index_readers_confluence_v2 import ConfluenceCredential, CredentialStore
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.webui import running

from .test_ui import browser, store_demo_token  # noqa: F401  (the module's browser fixture)


@pytest.fixture
def site() -> Iterator[Emulator]:
    emulator = Emulator(pages=60)
    with emulator.serve():
        yield emulator


@pytest.fixture
def store(tmp_path: Path, site: Emulator) -> CredentialStore:
    stored = CredentialStore(tmp_path / "credentials.json", use_keyring=False)
    store_demo_token(stored, site)
    return stored


@pytest.fixture
def screen(site: Emulator, store: CredentialStore, tmp_path: Path) -> Iterator[str]:
    options = {"api_gateway_url": site.gateway_url, "auth_server_url": site.auth_url}
    with running(store, tmp_path / "wiki.sqlite", reader_options=options) as url:
        yield url


@pytest.fixture
def page(browser: Browser, screen: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    opened = context.new_page()
    opened.goto(screen)
    yield opened
    context.close()


def browse(page: Page, address: str) -> None:
    page.locator("#url").fill(address)
    page.locator("#browse").click()
    expect(page.locator("#tree > [role=treeitem]").first).to_be_visible()


def near(page: Page, first: str, second: str, within: float = 120) -> bool:
    a, b = page.locator(first).bounding_box(), page.locator(second).bounding_box()
    assert a and b
    return abs(a["y"] - b["y"]) < within


def test_feedback_shows_next_to_what_caused_it(page: Page, site: Emulator, tmp_path: Path) -> None:
    browse(page, f"{site.base_url}/spaces/DOCS")
    page.locator("#add").click()  # nothing ticked
    message = page.locator("#import-message")
    expect(message).to_contain_text("Tick at least one")
    assert near(page, "#add", "#import-message")
    expect(page.locator("#message")).to_be_hidden()  # not at the top of the page
    page.locator("#query").fill("zzzznothing")
    page.locator("#search-form button").click()
    expect(page.locator("#search-message")).to_contain_text("nothing imported into wiki.sqlite")
    assert near(page, "#search-form", "#search-message")
    page.screenshot(path=tmp_path / "feedback.png", full_page=True)


def test_collapsing_hides_children_and_the_keyboard_moves_over_what_is_seen(
    page: Page, site: Emulator
) -> None:
    browse(page, site.base_url)
    docs = page.locator("#tree > [role=treeitem][data-id=DOCS]")
    docs.locator(".twisty").first.click()
    child = docs.locator("[role=group] > [role=treeitem]").first
    expect(child).to_be_visible()
    docs.locator(".twisty").first.click()  # collapse
    expect(child).to_be_hidden()
    docs.locator(".title").first.click()
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.dataset.id")
    following = page.locator("#tree > [role=treeitem]").nth(1).get_attribute("data-id")
    assert focused == following  # the next space, not a hidden child of DOCS


def test_ticks_say_what_they_cover_and_the_count_says_what_will_be_imported(
    page: Page, site: Emulator, tmp_path: Path
) -> None:
    browse(page, f"{site.base_url}/spaces/DOCS")
    home = page.locator("#tree > [role=treeitem]").first
    sub = home.locator(":scope > .node .with-children")
    expect(sub).to_be_hidden()  # no "with sub-pages" on a page that is not ticked
    home.locator(".twisty").first.click()
    child = home.locator("[role=group] > [role=treeitem]").first
    expect(child).to_be_visible()
    home.locator(".title").first.click()
    page.keyboard.press(" ")  # tick from the keyboard
    expect(sub).to_be_visible()
    expect(sub).to_be_checked()
    child_box = child.locator(":scope > .node > input[type=checkbox]")
    expect(child_box).to_be_checked()  # covered by its parent's tick
    expect(child_box).to_be_disabled()
    expect(page.locator("#selection-count")).to_have_text("Will import: 1 page (1 with sub-pages).")
    page.keyboard.press("Shift+Space")  # sub-pages off, from the keyboard
    expect(sub).not_to_be_checked()
    expect(child_box).not_to_be_checked()
    expect(child_box).to_be_enabled()
    expect(page.locator("#selection-count")).to_have_text("Will import: 1 page.")
    page.screenshot(path=tmp_path / "ticks.png", full_page=True)


def test_every_space_of_a_site_at_once_and_a_filter_of_several_words(
    page: Page, site: Emulator
) -> None:
    page.locator("#filter").fill("docs eng")
    browse(page, site.base_url)
    keys = page.locator("#tree > [role=treeitem]").evaluate_all("els => els.map(e => e.dataset.id)")
    assert sorted(keys) == ["DOCS", "ENG"]  # any of the words
    expect(page.locator("#tree-title")).to_have_text("2 spaces")
    page.locator("#filter").fill("docs")
    browse(page, site.base_url)
    expect(page.locator("#tree-title")).to_have_text("1 space")
    page.locator("#filter").fill("")
    browse(page, site.base_url)
    page.locator("#all-spaces").click()
    spaces = page.locator("#tree > [role=treeitem]").count()
    expect(page.locator("#selection-count")).to_have_text(f"Will import: {spaces} spaces.")


def test_an_import_shows_progress_survives_a_reload_and_a_re_import_counts_unchanged(
    page: Page, site: Emulator, tmp_path: Path
) -> None:
    site.faults.latency = 0.05  # slow enough to reload while it runs
    browse(page, f"{site.base_url}/spaces/DOCS")
    page.locator("#tree > [role=treeitem]").first.locator("input[type=checkbox]").first.check()
    page.locator("input[name=include_attachments]").uncheck()
    page.locator("#add").click()
    expect(page.locator("#progress-bar")).to_be_visible()
    expect(page.locator("#cancel")).to_be_visible()
    page.screenshot(path=tmp_path / "running.png", full_page=True)
    page.reload()  # the running import is picked up again
    expect(page.locator("#progress-line")).to_contain_text("Importing into")
    expect(page.locator("#import-message")).to_contain_text("Done.", timeout=60_000)
    summary = page.locator("#summary")
    expect(summary).to_contain_text("new pages")
    added = int(summary.locator("dt:text-is('new pages') + dd").inner_text())
    assert added > 5
    site.faults.latency = 0.0
    browse(page, f"{site.base_url}/spaces/DOCS")
    expect(page.locator("#tree > [role=treeitem]").first.locator(".kind.imported")).to_be_visible()
    page.locator("#tree > [role=treeitem]").first.locator("input[type=checkbox]").first.check()
    page.locator("input[name=include_attachments]").uncheck()  # the same selection as before
    page.locator("#add").click()
    expect(page.locator("#import-message")).to_contain_text("Done.", timeout=60_000)
    expect(page.locator("#progress-line")).to_contain_text(
        f"0 new or changed pages, {added} unchanged"
    )
    page.screenshot(path=tmp_path / "reimported.png", full_page=True)


def test_a_cancelled_import_stops_and_says_so(page: Page, site: Emulator) -> None:
    site.faults.latency = 0.1
    browse(page, f"{site.base_url}/spaces/DOCS")
    page.locator("#tree > [role=treeitem]").first.locator("input[type=checkbox]").first.check()
    page.locator("#add").click()
    expect(page.locator("#progress-line")).to_contain_text("Importing into")
    page.locator("#cancel").click()
    expect(page.locator("#import-message")).to_contain_text("Cancelled", timeout=60_000)
    expect(page.locator("#add")).to_be_enabled()


def test_credentials_are_checked_never_silently_replaced_and_can_be_deleted(
    page: Page, site: Emulator, store: CredentialStore, tmp_path: Path
) -> None:
    account = site.user()
    form = page.locator("#token-form")
    page.locator("#add-token summary").click()

    def add(name: str, token: str) -> None:
        form.locator("[name=id]").fill(name)
        form.locator("[name=site]").fill(site.base_url)
        form.locator("[name=email]").fill(account.email)
        form.locator("[name=token]").fill(token)
        form.locator("button").click()

    add("bogus", "not-a-token")
    message = page.locator("#credential-message")
    expect(message).to_contain_text("Confluence refused this API token")
    expect(message).to_contain_text("Nothing was stored")
    assert "not-a-token" not in message.inner_text()
    assert [c.id for c in store.list()] == ["demo"]

    page.once("dialog", lambda dialog: dialog.dismiss())  # "Replace it?" -> no
    add("demo", "not-a-token")
    expect(message).to_contain_text("Nothing was stored: choose another name")
    kept = store.load("demo")
    assert isinstance(kept, ConfluenceCredential) and kept.password == account.api_token

    page.once("dialog", lambda dialog: dialog.accept())  # "Delete ...?" -> yes
    page.locator("#delete-credential").click()
    expect(message).to_contain_text("Deleted credential demo")
    assert store.list() == []
    page.screenshot(path=tmp_path / "credentials.png", full_page=True)


def test_a_sign_in_that_never_comes_back_does_not_hold_the_callback_port(
    page: Page, site: Emulator, store: CredentialStore
) -> None:
    """A wrong client id: the authorization server never redirects back. Signing in again at
    once (right client) works: the first sign-in gives its callback address up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redirect = f"http://127.0.0.1:{port}/callback"
    app = site.oauth.register_app([redirect])
    page.locator("#sign-in summary").click()
    form = page.locator("#oauth-form")

    def sign_in(client_id: str) -> Page:
        form.locator("[name=id]").fill("work-oauth")
        form.locator("[name=client_id]").fill(client_id)
        form.locator("[name=client_secret]").fill(app.client_secret)
        form.locator("[name=redirect_uri]").fill(redirect)
        with page.context.expect_page() as opened:
            form.locator("button").click()
        return opened.value

    wrong = sign_in("no-such-client")
    time.sleep(1)  # it waits on the callback port for an answer that never comes
    wrong.close()
    right = sign_in(app.client_id)
    expect(right.locator("h1")).to_have_text("Signed in to Confluence", timeout=20_000)
    expect(page.locator("#credential-message")).to_contain_text("stored credential work-oauth")
