"""Who may read each document: the audience on every document, honoured by every search path.

The emulator's own access model (`Site.visible`: space permission, then every restriction on the
way down) is the ground truth; documents must never admit a user it refuses.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import h2ogpte
import pytest
from llama_index.core.schema import Document

from llama_index_readers_confluence_v2 import (
    DEFAULT_SCOPES,
    BadArgumentError,
    LocalCollection,
    OAuthCredential,
    Viewer,
    may_read,
    sync,
)
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.h2ogpte import H2OGPTeEmulator
from llama_index_readers_confluence_v2.sinks.h2ogpte import AudienceCollections, H2OGPTeCollection

from .conftest import make_reader
from .sites import PEOPLE, USERS, empty_site, permission_site

ALICE, BOB = USERS[0][2], USERS[1][2]
CAROL, DAVE, ERIN = (PEOPLE[name][2] for name in ("carol", "dave", "erin"))
EVERYONE = (ALICE, BOB, CAROL, DAVE, ERIN)
KEYS = ("restricted", "allowed_users", "allowed_groups", "anonymous")


def audiences(documents: list[Document]) -> dict[str, tuple[Any, ...]]:
    return {d.metadata["title"]: tuple(d.metadata[key] for key in KEYS) for d in documents}


def viewer(emulator: Emulator, account_id: str | None) -> Viewer:
    """A user and their groups as Confluence knows them (what an application passes in)."""
    if account_id is None:
        return Viewer.anonymous_user()
    return Viewer(account_id, tuple(sorted(emulator.site.groups_of(account_id))))


@pytest.fixture
def site() -> tuple[Emulator, dict[str, Any]]:
    return permission_site()


def load(emulator: Emulator, *keys: str, **options: Any) -> list[Document]:
    reader = make_reader(emulator)
    documents: list[Document] = []
    for key in keys:
        documents += reader.load_data(space_key=key, include_permissions=True, **options)
    return documents


def test_each_rule_of_confluences_model(site: tuple[Emulator, dict[str, Any]]) -> None:
    emulator, _ = site
    groups = {group.name: group.id for group in emulator.site.groups.values()}
    everyone, hr, eng = groups["confluence-users"], groups["hr"], groups["eng"]
    found = audiences(load(emulator, "SEC", "PUB", "ENG"))
    assert found == {
        # no restriction: the space's readers (every account, by its group)
        "Home": (False, "", everyone, False),
        "Open page": (False, "", everyone, False),
        # a group restriction reaches the deepest page below it; an empty list inherits
        "People": (True, "", hr, False),
        "Salaries": (True, "", hr, False),
        "Pay bands": (True, "", hr, False),
        # a user restriction below a group restriction: the users of both (dave is not in hr)
        "Bob's review": (True, f"{ALICE},{BOB}", "", False),
        # a folder's restriction to legal: erin is in legal but may not read the space
        "Contract": (True, f"{ALICE},{CAROL}", "", False),
        "HR and legal": (True, f"{ALICE},{CAROL}", "", False),
        # an ancestor whose restrictions cannot be read (trashed): unknown, so nobody
        "Orphan": (True, "", "", False),
        # anonymous access only where the space grants it, and never below a restriction
        "Welcome": (False, "", ",".join(sorted([everyone, "anonymous-users"])), True),
        "Internal": (True, "", eng, False),
        "Build": (False, ALICE, eng, False),
    }


@pytest.mark.parametrize("shown_in_v2", [False, True])
def test_a_public_spaces_documents_are_anonymous_wherever_the_api_shows_it(
    site: tuple[Emulator, dict[str, Any]], shown_in_v2: bool
) -> None:
    """v2 space permissions name users, groups and roles: anonymous access is read from v1
    `space/{key}?expand=permissions` (`anonymousAccess`), unless v2 already shows it."""
    emulator, _ = site
    emulator.site.anonymous_in_v2_permissions = shown_in_v2
    found = audiences(load(emulator, "PUB"))
    assert found["Welcome"][3] is True  # readable by anyone, signed in or not
    assert found["Internal"][3] is False  # restricted below the space: never anonymous
    v1_reads = [e for e in emulator.log if e.path.endswith("/rest/api/space/PUB")]
    assert len(v1_reads) == (0 if shown_in_v2 else 1)


def test_anonymous_access_unreadable_in_v1_narrows_and_the_import_goes_on(
    site: tuple[Emulator, dict[str, Any]],
) -> None:
    """A user who does not administer the space gets its v1 permissions empty: its documents
    are not taken for public (narrower, never wider), and nothing else is lost."""
    emulator, _ = site
    carol = emulator.user(PEOPLE["carol"][0])
    reader = make_reader(emulator, user_name=carol.email, api_token=carol.api_token)
    documents = reader.load_data(space_key="PUB", include_permissions=True)
    assert audiences(documents)["Welcome"][3] is False
    assert {d.metadata["title"] for d in documents} == {"Welcome"}  # carol is not in eng
    assert not reader.last_report.failures


def test_no_document_admits_a_user_confluence_refuses(
    site: tuple[Emulator, dict[str, Any]],
) -> None:
    emulator, made = site
    documents = load(emulator, "SEC", "PUB", "ENG")
    for document in documents:
        content = made[document.metadata["title"]]
        for account_id in (*EVERYONE, None):
            allowed = may_read(document.metadata, viewer(emulator, account_id))
            truth = emulator.site.visible(content, account_id)
            if document.metadata["title"] == "Orphan":  # unknown: narrower, never wider
                assert not allowed
            else:
                assert allowed == truth, (document.metadata["title"], account_id)


def test_an_unknown_audience_is_reported(site: tuple[Emulator, dict[str, Any]]) -> None:
    emulator, made = site
    reader = make_reader(emulator)
    reader.load_data(space_key="SEC", include_permissions=True)
    [unknown] = reader.last_report.unknown_audiences
    assert unknown.page_id == made["Orphan"].id
    assert made["Trashed parent"].id in unknown.reason and "could not be read" in unknown.reason


def test_images_files_and_comments_carry_their_pages_audience() -> None:
    emulator = Emulator(pages=60)
    space = emulator.site.space_of("DOCS")
    assert space is not None
    emulator.site.grant_space(space, users=[ALICE])
    documents = make_reader(emulator).load_data(
        space_key="DOCS", include_permissions=True, include_attachments=True, include_comments=True
    )
    pages = {d.id_: d for d in documents if d.metadata["content_type"] in ("page", "blogpost")}
    attached = [d for d in documents if d.metadata["content_type"] in ("image", "attachment")]
    assert attached and any("## Comments" in page.text for page in pages.values())
    for document in attached:
        page = pages[document.metadata["page_id"]]
        assert [document.metadata[k] for k in KEYS] == [page.metadata[k] for k in KEYS]
    assert {page.metadata["allowed_users"] for page in pages.values()} == {ALICE}
    assert all(key in page.excluded_embed_metadata_keys for key in KEYS)


def restricted_space(pages: int, every: int) -> tuple[Emulator, int]:
    """A space of `pages` pages in subtrees of ten under folders; one subtree in `every` is
    restricted to a group at its top. Returns the emulator and the number of folders."""
    site, alice = empty_site()
    team = site.add_group("team", alice, USERS[1][2])
    space = site.add_space("WIDE", "Wide", author_id=alice)
    home = site.add_content(space, "Home")
    folders = 0
    top = home
    for index in range(1, pages):
        if index % 10 == 1:
            subtree = index // 10
            if subtree % 5 == 0:
                folders += 1
                top = site.add_content(space, f"Shelf {subtree}", home.id, kind="folder")
            head = site.add_content(space, f"Topic {subtree}", top.id)
            if subtree % every == 0:
                site.restrict(head.id, groups=[team])
            continue
        site.add_content(space, f"Page {index}", head.id)
    return Emulator(site), folders


def test_a_spaces_restrictions_cost_one_search_per_200_pages_and_each_folder_once() -> None:
    emulator, folders = restricted_space(400, every=20)  # 5% of the subtrees restricted
    documents = load(emulator, "WIDE")
    assert len(documents) == 400
    restricted = [d for d in documents if d.metadata["restricted"]]
    assert len(restricted) == 2 * 10  # two subtrees of ten, down to their leaves
    log = emulator.log
    searches = [
        e for e in log if e.path.endswith("/content/search") and "restrictions" in str(e.query)
    ]
    one_by_one = [e.path for e in log if "/restriction/" in e.path]
    assert len(searches) == math.ceil(400 / 200)
    assert len(one_by_one) == folders == len(set(one_by_one))  # folders only, each once
    assert len([e for e in log if e.path.endswith("/permissions")]) == 1
    members = [e for e in log if "/group/" in e.path or "/memberof" in e.path]
    assert len(members) == 1 + 2  # the team's members, then the groups of each of them


def test_pages_selected_one_by_one_ask_each_ancestor_once(
    site: tuple[Emulator, dict[str, Any]],
) -> None:
    emulator, made = site
    wanted = [made[title].id for title in ("Pay bands", "Bob's review", "Salaries")]
    documents = make_reader(emulator).load_data(page_ids=wanted, include_permissions=True)
    assert {d.metadata["title"] for d in documents if d.metadata["restricted"]} == {
        "Pay bands",
        "Bob's review",
        "Salaries",
    }
    asked = [e.path.split("/")[-4] for e in emulator.log if "/restriction/" in e.path]
    expected = {made[t].id for t in ("Home", "People", "Salaries", "Pay bands", "Bob's review")}
    assert sorted(asked) == sorted(expected)  # every node once, shared by the three pages


@pytest.mark.parametrize("listed", [True, False], ids=["roles listed", "roles not listed"])
def test_a_role_based_space(site: tuple[Emulator, dict[str, Any]], listed: bool) -> None:
    emulator, _ = site
    emulator.site.role_mode = "ROLES"
    emulator.site.roles_listed_in_permissions = listed
    reader = make_reader(emulator)
    documents = reader.load_data(space_key="PUB", include_permissions=True)
    welcome = next(d for d in documents if d.metadata["title"] == "Welcome")
    if listed:  # the read role's holders: the account group, and anonymous users
        assert welcome.metadata["anonymous"] is True
        groups = {emulator.site.all_users.id, "anonymous-users"}
        assert set(welcome.metadata["allowed_groups"].split(",")) == groups
        assert not reader.last_report.unknown_audiences
    else:  # refused with a clear message, never guessed
        assert [welcome.metadata[k] for k in KEYS] == [True, "", "", False]
        reasons = {failure.reason for failure in reader.last_report.unknown_audiences}
        assert len(reasons) == 1 and "name no one who may read it" in reasons.pop()


def oauth_reader_without(emulator: Emulator, *dropped: str) -> Any:
    app = emulator.oauth.register_app()
    scopes = " ".join(s for s in DEFAULT_SCOPES if s not in dropped)
    tokens = emulator.oauth.issue_tokens(ALICE, app.client_id, scopes)
    credential = OAuthCredential(
        app.client_id, app.client_secret, tokens["access_token"], tokens["refresh_token"]
    )
    return make_reader(emulator, credentials=credential, user_name=None, api_token=None)


@pytest.mark.parametrize(
    "dropped",
    [("read:group:confluence",), ("read:content-details:confluence",)],
    ids=["no group scope", "no restriction scope"],
)
def test_a_look_up_that_fails_never_widens_an_audience(
    site: tuple[Emulator, dict[str, Any]], dropped: tuple[str, ...]
) -> None:
    emulator, made = site
    documents = oauth_reader_without(emulator, *dropped).load_data(
        space_key="SEC", include_permissions=True
    )
    narrower = 0
    for document in documents:
        content = made[document.metadata["title"]]
        for account_id in EVERYONE:
            allowed = may_read(document.metadata, viewer(emulator, account_id))
            assert not allowed or emulator.site.visible(content, account_id)
            narrower += emulator.site.visible(content, account_id) and not allowed
    assert narrower > 0


def test_the_viewer_helper_reads_a_users_groups(site: tuple[Emulator, dict[str, Any]]) -> None:
    emulator, _ = site
    found = make_reader(emulator).viewer(CAROL)
    names = {emulator.site.groups[g].name for g in found.groups}
    assert found.account_id == CAROL and names == {"confluence-users", "hr", "legal"}


# ---- search paths ----------------------------------------------------------------------------


def test_the_local_collection_answers_each_user_with_what_they_may_read(
    site: tuple[Emulator, dict[str, Any]], tmp_path: Path
) -> None:
    emulator, made = site
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        for key in ("SEC", "PUB", "ENG"):
            sync(reader, collection, space_key=key, include_permissions=True)
        for account_id in (*EVERYONE, None):
            hits = collection.search("body", limit=50, viewer=viewer(emulator, account_id))
            titles = {hit.title for hit in hits}
            expected = {
                title
                for title, content in made.items()
                if content.kind == "page"
                and content.status == "current"
                and title != "Orphan"
                and emulator.site.visible(content, account_id)
            }
            assert titles == expected, account_id
        assert len(collection.search("body", limit=50)) == 12  # no viewer: the importer's view


def test_a_restriction_added_then_synced_shuts_out_who_could_read_before(
    site: tuple[Emulator, dict[str, Any]], tmp_path: Path
) -> None:
    emulator, made = site
    reader = make_reader(emulator)
    bob = viewer(emulator, BOB)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="SEC", include_permissions=True)
        assert "Open page" in {h.title for h in collection.search("Open page", viewer=bob)}
        emulator.site.restrict(made["Home"].id, users=[ALICE, CAROL])
        emulator.clear_log()
        report = sync(reader, collection, space_key="SEC", include_permissions=True)
        assert "Open page" not in {h.title for h in collection.search("Open page", viewer=bob)}
        # each page whose audience changed is re-labelled (Contract and "HR and legal" already
        # admitted alice and carol only, the orphan stays unknown), none fetched again
        assert (report.relabeled, report.updated, report.added) == (6, 0, 0)
        assert not [e for e in emulator.log if "body-format" in e.query]
        emulator.site.restrict(made["Home"].id)  # removed again
        assert sync(reader, collection, space_key="SEC", include_permissions=True).relabeled == 6
        assert "Open page" in {h.title for h in collection.search("Open page", viewer=bob)}


def test_a_change_of_space_permissions_re_labels_without_refetching(
    site: tuple[Emulator, dict[str, Any]], tmp_path: Path
) -> None:
    emulator, _ = site
    reader = make_reader(emulator)
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="ENG", include_permissions=True)
        space = emulator.site.space_of("ENG")
        assert space is not None
        emulator.site.grant_space(space, users=[ALICE])
        emulator.clear_log()
        report = sync(reader, collection, space_key="ENG", include_permissions=True)
        assert report.relabeled == 1 and not [e for e in emulator.log if "body-format" in e.query]
        assert not collection.search("Build", viewer=viewer(emulator, DAVE))
        assert collection.search("Build", viewer=viewer(emulator, ALICE))
        unchanged = sync(reader, collection, space_key="ENG", include_permissions=True)
        assert (unchanged.relabeled, unchanged.unchanged) == (0, 1)


def test_a_restriction_added_mid_run_is_caught_by_the_next_sync(
    site: tuple[Emulator, dict[str, Any]], tmp_path: Path
) -> None:
    emulator, made = site
    reader = make_reader(emulator)
    carol = viewer(emulator, CAROL)
    emulator.faults.on_request(
        lambda: emulator.site.restrict(made["Open page"].id, users=[ALICE]),
        path="/spaces/",  # once the restrictions were read, while pages are listed
        after=3,
    )
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        sync(reader, collection, space_key="SEC", include_permissions=True)
        report = sync(reader, collection, space_key="SEC", include_permissions=True)
        assert not collection.search("Open page", viewer=carol)
        assert report.relabeled + report.updated + report.deleted >= 1


def vector_documents(emulator: Emulator) -> list[Document]:
    return load(emulator, "SEC", "PUB", "ENG")


def readable_titles(emulator: Emulator, made: dict[str, Any], account_id: str | None) -> set[str]:
    return {
        t
        for t, c in made.items()
        if c.kind == "page"
        and c.status == "current"
        and t != "Orphan"
        and emulator.site.visible(c, account_id)
    }


def test_metadata_filters_in_the_in_memory_vector_store(
    site: tuple[Emulator, dict[str, Any]],
) -> None:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding

    from llama_index_readers_confluence_v2 import audience_filters

    emulator, made = site
    index = VectorStoreIndex.from_documents(
        vector_documents(emulator), embed_model=MockEmbedding(embed_dim=8)
    )
    for account_id in (*EVERYONE, None):
        retriever = index.as_retriever(
            similarity_top_k=50, filters=audience_filters(viewer(emulator, account_id))
        )
        titles = {n.node.metadata["title"] for n in retriever.retrieve("pay and contracts")}
        assert titles == readable_titles(emulator, made, account_id), account_id


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_metadata_filters_in_qdrant_local_mode_with_the_exact_check_after(
    site: tuple[Emulator, dict[str, Any]],
) -> None:
    """Qdrant flattens metadata into a payload and matches text by words; its filter finds
    the candidates and the postprocessor applies the exact rule."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from llama_index_readers_confluence_v2 import AudiencePostprocessor, audience_filters

    emulator, made = site
    client = QdrantClient(location=":memory:")
    store = QdrantVectorStore(client=client, collection_name="wiki")
    index = VectorStoreIndex.from_documents(
        vector_documents(emulator),
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=MockEmbedding(embed_dim=8),
    )
    try:
        for account_id in (*EVERYONE, None):
            who = viewer(emulator, account_id)
            retriever = index.as_retriever(similarity_top_k=50, filters=audience_filters(who))
            found = AudiencePostprocessor(viewer=who).postprocess_nodes(retriever.retrieve("pay"))
            titles = {n.node.metadata["title"] for n in found}
            assert titles == readable_titles(emulator, made, account_id), account_id
    finally:
        client.close()


# ---- h2oGPTe ---------------------------------------------------------------------------------


def test_h2ogpte_documents_carry_the_audience_and_are_re_labelled_in_place(
    site: tuple[Emulator, dict[str, Any]], h2o: H2OGPTeEmulator
) -> None:
    emulator, made = site
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    target = H2OGPTeCollection.create(client, "Security wiki")
    reader = make_reader(emulator)
    sync(reader, target, space_key="SEC", include_permissions=True)

    def open_page() -> dict[str, Any]:
        stored = h2o.documents_in(target.collection_id)
        return next(d.metadata for d in stored if d.metadata["title"] == "Open page")

    assert may_read(open_page(), viewer(emulator, BOB))
    emulator.site.restrict(made["Open page"].id, users=[ALICE])
    uploads = sum(entry.path == "/rpc/fs" for entry in h2o.log)
    report = sync(reader, target, space_key="SEC", include_permissions=True)
    assert report.relabeled == 1 and sum(e.path == "/rpc/fs" for e in h2o.log) == uploads
    assert not may_read(open_page(), viewer(emulator, BOB))
    assert open_page()["allowed_users"] == ALICE and open_page()["kind"] == "page"


def test_h2ogpte_one_collection_per_audience(
    site: tuple[Emulator, dict[str, Any]], h2o: H2OGPTeEmulator
) -> None:
    emulator, made = site
    client = h2ogpte.H2OGPTE(address=h2o.address, api_key=h2o.api_key)
    reader = make_reader(emulator)
    target = AudienceCollections(client, "Security wiki")
    sync(reader, target, space_key="SEC", include_permissions=True)

    def titles_by_collection() -> dict[str, set[str]]:
        held: dict[str, set[str]] = {}
        for document in h2o.documents.values():
            held.setdefault(document.collection_id, set()).add(document.metadata["title"])
        return held

    first = titles_by_collection()
    assert sorted(map(sorted, first.values())) == sorted(
        [
            ["Home", "Open page"],
            ["Pay bands", "People", "Salaries"],
            ["Bob's review"],
            ["Contract", "HR and legal"],
            ["Orphan"],
        ]
    )
    for collection_id in first:  # each collection names the audience to share it with
        metadata = h2o.collections[collection_id]["metadata"]
        assert {"allowed_users", "allowed_groups", "restricted", "anonymous"} <= set(metadata)
    emulator.site.restrict(made["Open page"].id, users=[ALICE, CAROL])
    again = AudienceCollections(client, "Security wiki")  # a later run finds its collections
    report = sync(reader, again, space_key="SEC", include_permissions=True)
    moved = titles_by_collection()
    assert report.updated == 1 and len(moved) == len(first)
    assert next(ts for ts in moved.values() if "Open page" in ts) == {
        "Open page",
        "Contract",
        "HR and legal",
    }
    with pytest.raises(BadArgumentError, match="include_permissions=True"):
        sync(reader, AudienceCollections(client, "Other"), space_key="SEC")
