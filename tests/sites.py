"""Small purpose-built sites for reader tests (the generator covers the broad sample)."""

from __future__ import annotations

import random
from typing import Any

from llama_index_readers_confluence_v2.emulator import Content, Emulator, Site, populate_space
from llama_index_readers_confluence_v2.emulator.generator import USERS, attachment_bytes, page_body


def empty_site() -> tuple[Site, str]:
    site = Site()
    alice = site.add_account(*USERS[0])
    site.add_account(*USERS[1])
    site.body_factory = lambda content: f"<p>Body of {content.title}.</p>"
    site.bytes_factory = attachment_bytes
    return site, alice.account_id


def imaged_space(pages: int, key: str = "FAULT") -> Emulator:
    """One generated space of `pages` pages, about three embedded images each."""
    site = Site()
    alice = site.add_account(*USERS[0])
    site.add_account(*USERS[1])
    site.body_factory = lambda content: page_body(content, site, 3)
    site.bytes_factory = attachment_bytes
    space = site.add_space(key, "Fault Space", author_id=alice.account_id)
    populate_space(site, space, pages, random.Random(5))
    return Emulator(site)


def wide_space(pages: int, folders: int = 1) -> Emulator:
    """A space of `pages` pages: a homepage, `folders` folders under it, pages spread below."""
    site, author = empty_site()
    space = site.add_space("BIG", "Big Space", author_id=author)
    home = site.add_content(space, "Home")
    containers = [home] + [
        site.add_content(space, f"Shelf {n}", home.id, kind="folder") for n in range(folders)
    ]
    made = [home]
    for index in range(1, pages):
        parent = containers[index % len(containers)] if index < 50 else made[index // 3]
        made.append(site.add_content(space, f"Page {index}", parent.id))
    return Emulator(site)


def deep_chain() -> tuple[Emulator, list[Content]]:
    """Root > A > [folder F1] > B > [folder F2] > [folder F3] > C > D > E > G: pages 9 deep."""
    site, author = empty_site()
    space = site.add_space("DEEP", "Deep Space", author_id=author)
    home = site.add_content(space, "Home")
    chain = [home]
    for title, kind in [
        ("A", "page"),
        ("F1", "folder"),
        ("B", "page"),
        ("F2", "folder"),
        ("F3", "folder"),
        ("C", "page"),
        ("D", "page"),
        ("E", "page"),
        ("G", "page"),
    ]:
        chain.append(site.add_content(space, title, chain[-1].id, kind=kind))
    site.add_content(space, "A sibling", home.id)
    return Emulator(site), chain


def current_ids(emulator: Emulator, key: str | None = None) -> set[str]:
    """Ids of the current pages of a space (the first one when no key) that alice may see."""
    site = emulator.site
    space = site.space_of(key) if key else next(iter(site.spaces.values()))
    assert space is not None
    alice = emulator.user().account_id
    return {
        str(i)
        for i in site.space_pages[space.id]
        if site.contents[str(i)].status == "current" and site.visible(site.contents[str(i)], alice)
    }


PEOPLE = {  # e-mail, display name, account id (the shape of real ids: 557058:<uuid>)
    "carol": ("carol@example.com", "Carol Counsel", "557058:1f2e3d4c-cccc-4b5b-8c8c-000000000003"),
    "dave": ("dave@example.com", "Dave Dev", "557058:1f2e3d4c-dddd-4b5b-8c8c-000000000004"),
    "erin": ("erin@example.com", "Erin Extern", "557058:1f2e3d4c-eeee-4b5b-8c8c-000000000005"),
}


def permission_site() -> tuple[Emulator, dict[str, Content]]:
    """Three spaces whose audiences exercise every rule of Confluence's model.

    SEC (every account may read): People [group hr] > Salaries > Pay bands (inherit);
    Salaries > Bob's review [alice, bob, dave: dave is not in hr]; folder Legal [group legal] >
    Contract > HR and legal [group hr]; Open page; Trashed parent (trashed) > Orphan.
    PUB (anonymous users too): Welcome; Internal [group eng]. ENG (alice and group eng): Build.
    Members: hr = alice, bob, carol; legal = alice, carol, erin; eng = alice, dave. erin has no
    account group (an external collaborator), so she reads SEC only where a group of hers does.
    """
    site, alice = empty_site()
    bob = USERS[1][2]
    carol, dave, erin = (site.add_account(*PEOPLE[n]).account_id for n in ("carol", "dave", "erin"))
    site.all_users.members.discard(erin)
    hr = site.add_group("hr", alice, bob, carol)
    legal = site.add_group("legal", alice, carol, erin)
    eng = site.add_group("eng", alice, dave)
    sec = site.add_space("SEC", "Security", author_id=alice)
    made: dict[str, Content] = {}

    def page(space: Any, title: str, parent: Content | None = None, kind: str = "page") -> Content:
        made[title] = site.add_content(space, title, parent.id if parent else None, kind=kind)
        return made[title]

    home = page(sec, "Home")
    people = page(sec, "People", home)
    site.restrict(people.id, groups=[hr])
    salaries = page(sec, "Salaries", people)
    page(sec, "Pay bands", salaries)
    review = page(sec, "Bob's review", salaries)
    site.restrict(review.id, users=[alice, bob, dave])
    folder = page(sec, "Legal", home, kind="folder")
    site.restrict(folder.id, groups=[legal])
    contract = page(sec, "Contract", folder)
    both = page(sec, "HR and legal", contract)
    site.restrict(both.id, groups=[hr])
    page(sec, "Open page", home)
    trashed = page(sec, "Trashed parent", home)
    page(sec, "Orphan", trashed)
    trashed.status = "trashed"
    pub = site.add_space("PUB", "Public", author_id=alice)
    site.grant_space(pub, groups=[site.all_users], anonymous=True)
    welcome = page(pub, "Welcome")
    internal = page(pub, "Internal", welcome)
    site.restrict(internal.id, groups=[eng])
    eng_space = site.add_space("ENG", "Engineering", author_id=alice)
    site.grant_space(eng_space, users=[alice], groups=[eng])
    page(eng_space, "Build")
    return Emulator(site), made


def content_tree_site() -> tuple[Emulator, dict[str, Content]]:
    """Pages beneath every kind of tree node, in space TREE ("Content tree"):

    Home > Board [whiteboard] > Sketch notes > Sketch detail;
    Home > Catalog [database] > Service A;
    Home > Status [embed -> https://status.example.com/] > Incident log;
    Home > L1 > L2 > L3 > L4 > Inventory [database] > Deep entry (the database on the fifth
    level below Home, the last one `descendants` reaches: what is beneath it takes another).
    """
    site, _ = empty_site()
    space = site.add_space("TREE", "Content tree")
    made: dict[str, Content] = {}

    def add(title: str, parent: str | None, kind: str = "page", **more: Any) -> Content:
        parent_id = made[parent].id if parent else None
        made[title] = site.add_content(space, title, parent_id, kind=kind, **more)
        return made[title]

    add("Home", None)
    add("Board", "Home", "whiteboard")
    add("Sketch notes", "Board")
    add("Sketch detail", "Sketch notes")
    add("Catalog", "Home", "database")
    add("Service A", "Catalog")
    add("Status", "Home", "embed", embed_url="https://status.example.com/")
    add("Incident log", "Status")
    parent = "Home"
    for level in range(1, 5):
        add(f"L{level}", parent)
        parent = f"L{level}"
    add("Inventory", "L4", "database")
    add("Deep entry", "Inventory")
    return Emulator(site), made


def include_macro(
    title: str, space_key: str = "", *, excerpt: str | None = None, panel: bool = True
) -> str:
    """An `include` (or, with `excerpt`, an `excerpt-include` of that excerpt name) in storage
    format, as Confluence writes it."""
    space = f' ri:space-key="{space_key}"' if space_key else ""
    link = f'<ac:parameter ac:name=""><ac:link><ri:page{space} ri:content-title="{title}" /></ac:link></ac:parameter>'
    if excerpt is None:
        return f'<ac:structured-macro ac:name="include" ac:schema-version="1">{link}</ac:structured-macro>'
    named = f'<ac:parameter ac:name="name">{excerpt}</ac:parameter>' if excerpt else ""
    nopanel = "" if panel else '<ac:parameter ac:name="nopanel">true</ac:parameter>'
    return (
        f'<ac:structured-macro ac:name="excerpt-include" ac:schema-version="1">{named}{nopanel}'
        f"{link}</ac:structured-macro>"
    )


def excerpt_macro(text: str, name: str = "", hidden: bool = False) -> str:
    named = f'<ac:parameter ac:name="name">{name}</ac:parameter>' if name else ""
    hide = '<ac:parameter ac:name="hidden">true</ac:parameter>' if hidden else ""
    return (
        f'<ac:structured-macro ac:name="excerpt" ac:schema-version="1">{named}{hide}'
        f"<ac:rich-text-body><p>{text}</p></ac:rich-text-body></ac:structured-macro>"
    )


def include_site() -> tuple[Emulator, dict[str, Content]]:
    """Pages built from includes (alice imports; bob is the other account).

    ENG: Home; Shared snippet (an excerpt inside); Runbook (includes Shared snippet, and the
    "terms" excerpt of OPS Glossary without a panel); Cycle A <-> Cycle B (each includes the
    other); Secret snippet [bob only] and Leaky page (includes it); HR snippet [group hr: alice,
    bob] and Benefits (includes it); Dangling (includes a page that does not exist).
    OPS: Glossary (a hidden unnamed excerpt, and one named "terms").
    """
    site, alice = empty_site()
    bob = USERS[1][2]
    hr = site.add_group("hr", alice, bob)
    eng = site.add_space("ENG", "Engineering", author_id=alice)
    ops = site.add_space("OPS", "Operations", author_id=alice)
    made: dict[str, Content] = {}

    def page(space: Any, title: str, body: str, parent: str | None = "Home") -> Content:
        parent_id = made[parent].id if parent else None
        made[title] = site.add_content(space, title, parent_id, body=body)
        return made[title]

    page(eng, "Home", "<p>Welcome to engineering.</p>", None)
    page(
        eng,
        "Shared snippet",
        "<p>Rotate the signing keys every quarter.</p>"
        + excerpt_macro("Keys rotate quarterly.")
        + "<p>Ask security before rotating.</p>",
    )
    page(
        eng,
        "Runbook",
        "<p>Start here.</p>"
        + include_macro("Shared snippet")
        + "<p>Then read the terms.</p>"
        + include_macro("Glossary", "OPS", excerpt="terms", panel=False),
    )
    page(eng, "Cycle A", "<p>Alpha words.</p>" + include_macro("Cycle B"))
    page(eng, "Cycle B", "<p>Beta words.</p>" + include_macro("Cycle A"))
    page(eng, "Secret snippet", "<p>The vault combination is zebra-falcon.</p>")
    site.restrict(made["Secret snippet"].id, users=[bob])
    page(eng, "Leaky page", "<p>Public intro.</p>" + include_macro("Secret snippet"))
    page(eng, "HR snippet", "<p>Salary bands are reviewed in March.</p>")
    site.restrict(made["HR snippet"].id, groups=[hr])
    page(eng, "Benefits", "<p>Our benefits.</p>" + include_macro("HR snippet"))
    page(eng, "Dangling", "<p>Dangling intro.</p>" + include_macro("No such page"))
    page(
        ops,
        "Glossary",
        excerpt_macro("General glossary excerpt.", hidden=True)
        + excerpt_macro("A runbook is a checklist for operators.", "terms")
        + "<p>The glossary body itself.</p>",
        None,
    )
    return Emulator(site), made
