"""Transclusion: include and excerpt-include expanded where the macro stands, as Confluence shows
them, never leaking what the importing user may not read, and kept in sync (issue 27)."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.schema import Document

from llama_index_readers_confluence_v2 import LocalCollection, sync
from llama_index_readers_confluence_v2.emulator import Content, Emulator, Site

from .conftest import api_client, make_reader

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import fidelity

from .sites import USERS, empty_site, include_macro, include_site

SECRET = "zebra-falcon"


@pytest.fixture
def site() -> tuple[Emulator, dict[str, Content]]:
    return include_site()


def texts(documents: list[Document]) -> dict[str, str]:
    return {d.metadata["title"]: d.text for d in documents}


def test_a_page_built_from_includes_carries_the_included_words(
    site: tuple[Emulator, dict[str, Content]],
) -> None:
    emulator, _ = site
    found = texts(make_reader(emulator).load_data(space_key="ENG"))
    runbook = found["Runbook"]
    order = ["Start here.", "Rotate the signing keys", "Then read the terms.", "A runbook is"]
    assert [runbook.index(part) for part in order] == sorted(runbook.index(p) for p in order)
    # excerpt-include: only the named excerpt, none of the rest of the page
    assert "General glossary excerpt" not in runbook
    assert "glossary body itself" not in runbook
    # the included page is still its own document
    assert "Rotate the signing keys every quarter." in found["Shared snippet"]


def test_an_include_cycle_ends(site: tuple[Emulator, dict[str, Content]]) -> None:
    emulator, _ = site
    found = texts(make_reader(emulator).load_data(space_key="ENG"))
    assert found["Cycle A"].count("Alpha words.") == 1
    assert found["Cycle A"].count("Beta words.") == 1
    assert found["Cycle B"].count("Beta words.") == 1


@pytest.mark.parametrize("permissions", [False, True])
@pytest.mark.parametrize("selection", ["space", "page", "url", "cql", "subtree"])
def test_a_target_the_user_may_not_read_leaks_nothing_by_any_selection(
    site: tuple[Emulator, dict[str, Content]], selection: str, permissions: bool
) -> None:
    emulator, made = site
    leaky = made["Leaky page"]
    chosen: dict[str, Any] = {
        "space": {"space_key": "ENG"},
        "page": {"page_ids": [leaky.id]},
        "url": {"url": f"{emulator.base_url}/spaces/ENG/pages/{leaky.id}"},
        "cql": {"cql": 'space = ENG and title = "Leaky page"'},
        "subtree": {"page_ids": [made["Home"].id], "include_children": True},
    }[selection]
    reader = make_reader(emulator)
    documents = reader.load_data(**chosen, include_permissions=permissions)
    assert "Public intro." in texts(documents)["Leaky page"]
    assert not [d for d in documents if SECRET in d.text]
    reasons = [s.reason for s in reader.last_report.skipped if s.page_id == leaky.id]
    assert reasons == [
        "include of 'Secret snippet' (space ENG) brings nothing: no such page, or this user may "
        "not read it"
    ]


def test_a_missing_target_brings_nothing_and_is_reported(
    site: tuple[Emulator, dict[str, Content]],
) -> None:
    emulator, made = site
    reader = make_reader(emulator)
    [document] = reader.load_data(page_ids=[made["Dangling"].id])
    assert document.text.strip().endswith("Dangling intro.")
    assert [s.page_id for s in reader.last_report.skipped] == [made["Dangling"].id]


def test_an_includers_audience_is_narrowed_by_what_it_carries(
    site: tuple[Emulator, dict[str, Content]],
) -> None:
    emulator, _ = site
    hr = next(g.id for g in emulator.site.groups.values() if g.name == "hr")
    everyone = emulator.site.all_users.id
    found = {
        d.metadata["title"]: d.metadata
        for d in make_reader(emulator).load_data(space_key="ENG", include_permissions=True)
    }
    assert (found["Home"]["restricted"], found["Home"]["allowed_groups"]) == (False, everyone)
    benefits = found["Benefits"]
    assert (benefits["restricted"], benefits["allowed_groups"]) == (True, hr)
    # narrowing only: a page that includes an open page keeps its own audience
    assert found["Runbook"]["allowed_groups"] == everyone


def site_of(pages: int, *, including: bool) -> Emulator:
    site, _ = empty_site()
    space = site.add_space("WIDE", "Wide")
    home = site.add_content(space, "Home", body="<p>Home.</p>")
    site.add_content(space, "Snippet", home.id, body="<p>The shared snippet text.</p>")
    macro = include_macro("Snippet") if including else ""
    for index in range(pages):
        site.add_content(space, f"Page {index}", home.id, body=f"<p>Page {index}.</p>{macro}")
    return Emulator(site)


def test_forty_pages_including_one_snippet_cost_a_handful_of_requests_more() -> None:
    plain, including = site_of(40, including=False), site_of(40, including=True)
    counts = []
    for emulator in (plain, including):
        reader = make_reader(emulator)
        documents = reader.load_data(space_key="WIDE")
        counts.append(reader.last_report.requests)
    assert sum("The shared snippet text." in d.text for d in documents) == 41
    assert counts[1] - counts[0] <= 3, counts  # a title search and one body fetch, not 40


def stored(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT page_id, fingerprint FROM scope_pages").fetchall())


def rename(site: Site, page: Content) -> None:
    site.edit_page(page.id, title=f"{page.title} (old)")


def restrict(site: Site, page: Content) -> None:
    site.restrict(page.id, users=[USERS[1][2]])  # bob only: the importing user loses it


FULL, CHANGES = timedelta(0), timedelta(days=7)  # a full listing every run; changes only


# deletions and restriction changes have no "modified since" to ask for: like every deletion,
# they wait for the periodic full listing (README, Collections and incremental sync)
@pytest.mark.parametrize(
    ("change", "every"),
    [
        ("edit", FULL),
        ("rename", FULL),
        ("delete", FULL),
        ("restrict", FULL),
        ("edit", CHANGES),
        ("rename", CHANGES),
    ],
    ids=["edit", "rename", "delete", "restrict", "edit-changes-only", "rename-changes-only"],
)
def test_a_change_to_an_included_page_re_imports_its_includers_and_nothing_else(
    site: tuple[Emulator, dict[str, Content]], tmp_path: Path, change: str, every: timedelta
) -> None:
    emulator, made = site
    reader = make_reader(emulator)
    snippet = made["Shared snippet"]
    path = tmp_path / "wiki.sqlite"
    with LocalCollection(path) as collection:
        sync(reader, collection, space_key="ENG", full_every=every)
        before = stored(path)
        if change == "edit":
            emulator.site.edit_page(snippet.id, body="<p>Rotate keys monthly now.</p>")
        elif change == "rename":
            rename(emulator.site, snippet)
        elif change == "delete":
            emulator.site.delete_content(snippet.id)
        else:
            restrict(emulator.site, snippet)
        report = sync(reader, collection, space_key="ENG", full_every=every)
        runbook = next(d for d in collection.documents() if d.metadata["title"] == "Runbook")
    after = stored(path)
    rewritten = {i for i in after if i in before and after[i] != before[i]}
    gone = change in ("delete", "restrict")
    # the includer is re-imported, the included page itself when it is still there, no other
    assert rewritten == {made["Runbook"].id} | (set() if gone else {snippet.id})
    assert report.updated == len(rewritten)
    assert ("Rotate keys monthly now." in runbook.text) == (change == "edit")
    assert "Rotate the signing keys" not in runbook.text  # the old text is gone everywhere
    assert "Then read the terms." in runbook.text


def test_the_emulator_shows_included_text_where_confluence_does(
    site: tuple[Emulator, dict[str, Content]],
) -> None:
    """The rendered body (Confluence's `view`) carries the included words, and the error box for
    a target the viewer may not read: what the fidelity measure scores against."""
    emulator, made = site

    async def view(page: Content) -> str:
        async with api_client(emulator) as client:
            answer = await client.get(
                f"/wiki/api/v2/pages/{page.id}", params={"body-format": "view"}
            )
        return str(answer.json()["body"]["view"]["value"])

    runbook = asyncio.run(view(made["Runbook"]))
    assert "Rotate the signing keys every quarter." in runbook
    assert "A runbook is a checklist for operators." in runbook
    assert "General glossary excerpt" not in runbook and "glossary body" not in runbook
    leaky = asyncio.run(view(made["Leaky page"]))
    assert SECRET not in leaky and "Unable to render {include}" in leaky
    glossary = asyncio.run(view(made["Glossary"]))
    assert "General glossary excerpt" not in glossary  # hidden on its own page
    markdown = texts(make_reader(emulator).load_data(page_ids=[made["Runbook"].id]))["Runbook"]
    # the fidelity measure of benchmarks/fidelity.py: every word shown is kept, nothing added
    score = fidelity.measure(
        fidelity.rendered_words(runbook), fidelity.markdown_words(markdown.split("\n", 1)[1])
    )
    assert (score.recall, score.noise) == (1.0, 0.0), score
