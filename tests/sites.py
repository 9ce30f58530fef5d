"""Small purpose-built sites for reader tests (the generator covers the broad sample)."""

from __future__ import annotations

from llama_index_readers_confluence_v2.emulator import Content, Emulator, Site
from llama_index_readers_confluence_v2.emulator.generator import USERS, attachment_bytes


def empty_site() -> tuple[Site, str]:
    site = Site()
    alice = site.add_account(*USERS[0])
    site.add_account(*USERS[1])
    site.body_factory = lambda content: f"<p>Body of {content.title}.</p>"
    site.bytes_factory = attachment_bytes
    return site, alice.account_id


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
