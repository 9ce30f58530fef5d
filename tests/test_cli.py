"""Every `confluence-v2` command against the emulator over loopback, good input and bad."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llama_index_readers_confluence_v2 import DEFAULT_SCOPES, OAuthCredential
from llama_index_readers_confluence_v2.cli import main
from llama_index_readers_confluence_v2.credential_store import CredentialStore
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import BIG_PAGE_ID
from llama_index_readers_confluence_v2.emulator.h2ogpte import H2OGPTeEmulator
from llama_index_readers_confluence_v2.sinks import LocalCollection

from .sites import imaged_space

README = Path(__file__).parent.parent / "README.md"


@pytest.fixture
def env(served: Emulator, tmp_path: Path) -> dict[str, str | None]:
    user = served.user()
    return {
        "CONFLUENCE_USERNAME": user.email,
        "CONFLUENCE_API_TOKEN": user.api_token,
        "CONFLUENCE_BASE_URL": served.base_url,
        "CONFLUENCE_API_GATEWAY_URL": served.gateway_url,
        "CONFLUENCE_AUTH_SERVER_URL": served.auth_url,
        "CONFLUENCE_V2_CREDENTIALS": str(tmp_path / "credentials.json"),
    }


def run(
    args: list[str], env: dict[str, str | None] | None = None, input: str | None = None
) -> Result:
    return CliRunner().invoke(main, args, env=env, input=input, catch_exceptions=True)


def assert_clean_failure(result: Result, pattern: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert re.search(pattern, lines[0]), lines[0]


def test_demo_imports_offline_and_searches(tmp_path: Path) -> None:
    result = run(["demo", "--pages", "80", "--to", str(tmp_path / "demo.sqlite")])
    assert result.exit_code == 0, result.output
    assert re.search(r"Imported space DOCS: \d+ added, 0 updated, 0 deleted", result.output)
    assert re.search(r"\d+ pages, [1-9]\d* images, [1-9]\d* attached files", result.output)
    assert (
        "skipped attachment on page" in result.output and "locked.pdf: encrypted" in result.output
    )
    assert "Product Docs > Product Docs Home" in result.output
    assert 'Search "incident runbook":' in result.output
    assert "[incident]" in result.output.lower() or "[runbook]" in result.output.lower()
    assert (tmp_path / "demo.sqlite").exists()


def test_ingest_into_a_vector_index_then_again_then_search_it(
    served: Emulator, env: dict[str, str | None], tmp_path: Path
) -> None:
    folder = str(tmp_path / "wiki-index")
    ingest = ["ingest", f"{served.base_url}/spaces/DOCS", "--to-index", folder]
    first = run(ingest, env)
    served.site.edit_page(BIG_PAGE_ID, body="<p>The wombat migration plan.</p>")
    second = run(ingest, env)
    found = run(["search", folder, "wombat", "migration", "--limit", "1"], env)
    mixed = run([*ingest, "--embed-model", "no_such_module:Embedding"], env)
    both = run([*ingest, "--to", str(tmp_path / "x.sqlite")], env)
    assert first.exit_code == 0 and f"Imported into vector index {folder}" in first.output
    assert second.exit_code == 0 and "1 updated" in second.output, second.output
    assert found.exit_code == 0 and "Big Id Page" in found.output and "1 results" in found.output
    assert_clean_failure(mixed, r"no_such_module:Embedding.*could not be loaded")
    assert_clean_failure(both, r"choose one target")


def test_demo_into_a_vector_index(tmp_path: Path) -> None:
    result = run(["demo", "--pages", "60", "--to-index", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    assert re.search(r"Vector index .*: \d+ added.*; [1-9]\d* chunks embedded", result.output)
    assert 'Nearest to "incident runbook":' in result.output


def test_browse_lists_spaces_and_trees(served: Emulator, env: dict[str, str | None]) -> None:
    spaces = run(["browse", served.base_url], env)
    personal = run(["browse", served.base_url, "--personal", "--filter", "alice"], env)
    tree = run(["browse", f"{served.base_url}/spaces/DOCS"], env)
    page = run(["browse", BIG_PAGE_ID], env)
    assert spaces.exit_code == 0 and "DOCS" in spaces.output and "~" not in spaces.output
    assert "4 spaces" in spaces.output
    assert (
        personal.exit_code == 0
        and "Alice Admin" in personal.output
        and "1 spaces" in personal.output
    )
    assert (
        tree.exit_code == 0
        and "[folder] Architecture" in tree.output
        and f"({BIG_PAGE_ID})" in tree.output
    )
    assert page.exit_code == 0 and page.output.startswith("Big Id Page")


def test_ingest_then_re_ingest_then_search(
    served: Emulator, env: dict[str, str | None], tmp_path: Path
) -> None:
    target = str(tmp_path / "wiki.sqlite")
    first = run(["ingest", f"{served.base_url}/spaces/DOCS", "--to", target], env)
    second = run(["ingest", f"{served.base_url}/spaces/DOCS", "--to", target], env)
    by_id = run(["ingest", BIG_PAGE_ID, "--no-children", "--no-images", "--to", target], env)
    found = run(["search", target, "Big", "Id"], env)
    assert first.exit_code == 0, first.output
    assert re.search(
        r"Imported into .*wiki.sqlite: [1-9]\d* added, 0 updated, 0 deleted, 0 unchanged",
        first.output,
    )
    assert "skipped image" in first.output and "decompression bomb" in first.output
    assert re.search(r"0 added, 0 updated, 0 deleted, [1-9]\d* unchanged", second.output)
    assert by_id.exit_code == 0 and "1 added" in by_id.output
    assert (
        found.exit_code == 0 and "Big Id Page" in found.output and "Product Docs >" in found.output
    )


def test_a_re_ingest_between_full_listings_asks_only_for_changes(
    served: Emulator, env: dict[str, str | None], tmp_path: Path
) -> None:
    target = str(tmp_path / "wiki.sqlite")
    space = f"{served.base_url}/spaces/DOCS"
    first = run(["ingest", space, "--to", target, "--full-every", "7"], env)
    changed = next(c for c in served.site.contents.values() if c.title == "Big Id Page")
    served.site.edit_page(changed.id, body="<p>Now about the axolotl.</p>")
    second = run(["ingest", space, "--to", target, "--full-every", "7"], env)
    found = run(["search", target, "axolotl"], env)
    assert first.exit_code == 0 and "asked only for changes" not in first.output, first.output
    assert second.exit_code == 0, second.output
    assert re.search(r"0 added, 1 updated, 0 deleted, [1-9]\d* unchanged", second.output)
    assert "asked only for changes since 2026-" in second.output
    assert "Big Id Page" in found.output


def test_ingest_into_h2ogpte(served: Emulator, env: dict[str, str | None]) -> None:
    import h2ogpte

    fake = H2OGPTeEmulator()
    with fake.serve():
        collection_id = h2ogpte.H2OGPTE(
            address=fake.address, api_key=fake.api_key
        ).create_collection(name="c", description="")
        result = run(
            ["ingest", BIG_PAGE_ID, "--h2ogpte", fake.address, "--collection", collection_id],
            {**env, "H2OGPTE_API_KEY": fake.api_key},
        )
    assert result.exit_code == 0, result.output
    assert f"h2oGPTe collection {collection_id}" in result.output
    assert {d.metadata["page_id"] for d in fake.documents_in(collection_id)} >= {BIG_PAGE_ID}


def test_auth_add_list_use_remove(
    served: Emulator, env: dict[str, str | None], tmp_path: Path
) -> None:
    user = served.user()
    no_token_env = {
        k: v
        for k, v in env.items()
        if k not in ("CONFLUENCE_USERNAME", "CONFLUENCE_API_TOKEN", "CONFLUENCE_BASE_URL")
    }
    added = run(
        ["auth", "add-token", "--id", "acme", "--site", served.base_url, "--email", user.email],
        no_token_env,
        input=user.api_token + "\n",
    )
    listed = run(["auth", "list"], no_token_env)
    used = run(
        [
            "ingest",
            BIG_PAGE_ID,
            "--credential",
            "acme",
            "--no-children",
            "--to",
            str(tmp_path / "w.sqlite"),
        ],
        no_token_env,
    )
    removed = run(["auth", "remove", "acme"], no_token_env)
    assert added.exit_code == 0, added.output
    assert (
        "acme" in listed.output
        and "api-token" in listed.output
        and served.base_url in listed.output
    )
    assert user.api_token not in added.output + listed.output
    assert used.exit_code == 0 and "1 added" in used.output, used.output
    assert removed.exit_code == 0
    assert "0 stored" in run(["auth", "list"], no_token_env).output


def test_auth_login_runs_the_browser_flow(
    served: Emulator, env: dict[str, str | None], tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    app = served.oauth.register_app([redirect_uri])
    browser = tmp_path / "browser.py"
    browser.write_text("import sys, httpx\nhttpx.get(sys.argv[1], follow_redirects=True)\n")
    result = run(
        [
            "auth",
            "login",
            "--id",
            "oauth-acme",
            "--client-id",
            app.client_id,
            "--redirect-uri",
            redirect_uri,
        ],
        {**env, "BROWSER": f"{sys.executable} {browser} %s"},
        input=app.client_secret + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Signed in" in result.output and app.client_secret not in result.output
    listed = run(["auth", "list"], env)
    assert "oauth-acme" in listed.output and "oauth" in listed.output
    used = run(["browse", f"{served.base_url}/spaces/DOCS", "--credential", "oauth-acme"], env)
    assert used.exit_code == 0 and "Product Docs Home" in used.output


def test_bad_input_gives_one_clear_line(
    served: Emulator, env: dict[str, str | None], tmp_path: Path
) -> None:
    target = ["--to", str(tmp_path / "x.sqlite")]
    assert_clean_failure(
        run(["ingest", "https://elsewhere.example/wiki/spaces/X", *target], env),
        "elsewhere.example",
    )
    assert_clean_failure(
        run(["ingest", f"{served.base_url}/admin/settings", *target], env),
        "not a page, blog post, space",
    )
    assert_clean_failure(run(["ingest", "999999", *target], env), "page 999999 does not exist")
    assert_clean_failure(
        run(["ingest", BIG_PAGE_ID, "--credential", "nope", *target], env),
        "no stored credential 'nope'",
    )
    assert_clean_failure(
        run(["ingest", BIG_PAGE_ID, *target], {**env, "CONFLUENCE_API_TOKEN": "wrong"}),
        "refused the credentials",
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    unconfigured = {**env, "CONFLUENCE_BASE_URL": None}
    assert_clean_failure(
        run(["browse", f"http://127.0.0.1:{dead}/wiki/spaces/X"], unconfigured), "could not reach"
    )
    assert_clean_failure(
        run(["search", str(tmp_path / "missing.sqlite"), "x"], env), "no collection file"
    )
    assert_clean_failure(
        run(["ingest", BIG_PAGE_ID, "--h2ogpte", "http://127.0.0.1:1"], env), "--collection"
    )


def test_ingest_by_label_cql_and_with_blog_posts(
    served: Emulator, env: dict[str, str | None], tmp_path: Path
) -> None:
    target = str(tmp_path / "wiki.sqlite")
    labelled = run(["ingest", "DOCS", "--label", "adr", "--no-images", "--to", target], env)
    queried = run(["ingest", "--cql", 'title = "Big Id Page"', "--to", target], env)
    folder = run(["ingest", "--cql", 'title = "Architecture"', "--to", target], env)
    posts = run(
        ["ingest", "DOCS", "--blog-posts", "--comments", "--no-images", "--to", target], env
    )
    nothing = run(["ingest", "--to", target], env)
    assert labelled.exit_code == 0 and "1 added, 0 updated" in labelled.output, labelled.output
    assert queried.exit_code == 0 and "1 added, 0 updated" in queried.output, queried.output
    assert "skipped content" in folder.output and "not a page or blog post" in folder.output
    assert posts.exit_code == 0, posts.output
    found = run(["search", target, "legacy", "sync", "service"], env)
    assert "Product Docs > Blog > Quarterly engineering update" in found.output
    discussed = run(["search", target, "single", "sign-on", "revision"], env)
    assert "Getting Started Guide" in discussed.output
    assert_clean_failure(nothing, "say what to import")


def test_debug_shows_the_traceback(env: dict[str, str | None], tmp_path: Path) -> None:
    result = run(["--debug", "ingest", "999999", "--to", str(tmp_path / "x.sqlite")], env)
    assert result.exit_code == 1 and result.exception is not None
    assert type(result.exception).__name__ == "NotFoundError"


def test_every_command_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    commands = [name for name in main.commands if name != "auth"]
    commands += [f"auth {name}" for name in main.commands["auth"].commands]  # type: ignore[attr-defined]
    missing = [name for name in commands if f"confluence-v2 {name}" not in readme]
    assert not missing, f"README does not show: {missing}"


def test_ingest_with_permissions_then_search_as_each_user(
    served: Emulator, env: dict[str, str | None], tmp_path: Path
) -> None:
    site = served.site
    alice, bob = served.user().account_id, served.user("bob@example.com").account_id
    guide = next(c for c in site.contents.values() if c.title == "Getting Started Guide")
    site.restrict(guide.id, users=[alice])
    target = str(tmp_path / "wiki.sqlite")
    imported = run(["ingest", "DOCS", "--permissions", "--no-images", "--to", target], env)
    assert imported.exit_code == 0, imported.output

    def titles(*who: str) -> str:
        found = run(["search", target, "Getting", "Started", "Guide", *who], env)
        assert found.exit_code == 0, found.output
        return found.output

    assert "Getting Started Guide  [" in titles("--as", alice)
    groups = [arg for g in sorted(site.groups_of(bob)) for arg in ("--group", g)]
    assert "Getting Started Guide  [" not in titles("--as", bob, *groups)
    assert "0 results" in titles("--anonymous")
    assert "Getting Started Guide  [" in titles()  # no one named: the importer's own view
    assert_clean_failure(run(["search", target, "x", "--group", "g"], env), "--as ACCOUNT_ID")
    assert_clean_failure(
        run(["ingest", "DOCS", "--split-by-audience", "--to", target], env), "--h2ogpte"
    )


def _oauth_env(emulator: Emulator, tmp_path: Path) -> dict[str, str | None]:
    """The environment of a user whose store holds an OAuth credential (`work`) for the site."""
    app = emulator.oauth.register_app()
    account = emulator.user().account_id
    tokens = emulator.oauth.issue_tokens(account, app.client_id, " ".join(DEFAULT_SCOPES))
    store = CredentialStore(tmp_path / "credentials.json", use_keyring=False)
    credential = OAuthCredential(
        app.client_id, app.client_secret, tokens["access_token"], tokens["refresh_token"]
    )
    store.save("work", credential, site=emulator.base_url)
    return {
        "CONFLUENCE_API_GATEWAY_URL": emulator.gateway_url,
        "CONFLUENCE_AUTH_SERVER_URL": emulator.auth_url,
        "CONFLUENCE_V2_CREDENTIALS": str(tmp_path / "credentials.json"),
    }


def test_ingest_stops_on_a_spent_hour_saying_when_and_how_to_spread_the_run(
    tmp_path: Path,
) -> None:
    emulator = imaged_space(500)
    emulator.advance(3600 - emulator.app.now() % 3600 + 1)  # a whole hour ahead
    quota = emulator.points_quota(limit=65_000)
    quota.charge(65_000 - 950)  # other apps of the tenant spent most of this hour
    target = tmp_path / "wiki.sqlite"
    with emulator.serve():
        env = _oauth_env(emulator, tmp_path)
        stopped = run(["ingest", "FAULT", "--credential", "work", "--to", str(target)], env)
        assert_clean_failure(stopped, r"quota is spent: no request may be sent before 20\d\d-")
        assert "ingest --max-points-per-hour N" in stopped.output
        with LocalCollection(target) as collection:
            kept = collection.page_ids()
        assert kept, "what was imported before the hour ran out is kept"
        emulator.advance(3600)
        again = run(["ingest", "FAULT", "--credential", "work", "--to", str(target)], env)
    assert again.exit_code == 0, again.output
    assert re.search(rf"{len(kept)} unchanged", again.output), again.output


def test_ingest_spreads_a_run_over_a_points_budget(tmp_path: Path) -> None:
    emulator = imaged_space(100)
    quota = emulator.points_quota(limit=10_000_000)
    budget = ["--max-points-per-hour", "54000"]  # 15 points a second
    with emulator.serve():
        env = _oauth_env(emulator, tmp_path)
        refused = run(
            ["ingest", "FAULT", "--credential", "work", "--max-points-per-hour", "5"], env
        )
        spread = run(
            [
                "ingest",
                "FAULT",
                "--credential",
                "work",
                *budget,
                "--to",
                str(tmp_path / "w.sqlite"),
            ],
            env,
        )
    assert refused.exit_code == 2 and "--max-points-per-hour" in refused.output
    assert spread.exit_code == 0, spread.output
    log = emulator.log
    took = log[-1].arrived - log[0].arrived
    paced_seconds = (quota.total - 150 - 4 * 4) / 15  # ten seconds' worth may go at once
    assert paced_seconds > 2, quota.total
    assert took >= 0.9 * paced_seconds, (took, quota.total)
