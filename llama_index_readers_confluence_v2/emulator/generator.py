"""A deterministic, seedable sample site, from 10 to 50,000 pages.

Every run with the same arguments builds the same tree, titles, labels and attachments. Bodies
and image bytes are produced on demand from the page (or attachment) id, so they cost no memory
until served.
"""

from __future__ import annotations

import io
import random
import zlib
from collections.abc import Callable
from functools import lru_cache

from .model import Attachment, Content, Site, Space

WORDS = [
    "deploy",
    "cluster",
    "runbook",
    "latency",
    "budget",
    "incident",
    "review",
    "rollout",
    "schema",
    "migration",
    "cache",
    "gateway",
    "token",
    "quota",
    "backup",
    "restore",
    "replica",
    "shard",
    "index",
    "search",
    "vector",
    "embedding",
    "pipeline",
    "release",
    "checklist",
    "onboarding",
    "policy",
    "audit",
    "metrics",
    "dashboard",
    "alert",
    "escalation",
    "capacity",
]
UNICODE_TITLES = (
    "Überblick & Ziele",
    "設計ドキュメント",
    "운영 가이드",
    "Café ☕ notes",
    "План релиза",
)
USERS = (
    ("alice@example.com", "Alice Admin", "557058:1f2e3d4c-aaaa-4b5b-8c8c-000000000001"),
    ("bob@example.com", "Bob Builder", "557058:1f2e3d4c-bbbb-4b5b-8c8c-000000000002"),
)
BIG_PAGE_ID = "4819617065"  # above 2**32, as real Cloud ids can be
OVERSIZED_BYTES = 24 * 1024 * 1024


def generate_site(pages: int = 60, seed: int = 7) -> Site:
    """A site with `pages` pages across global and personal spaces (at least 10 pages)."""
    pages = max(10, int(pages))
    site = Site()
    rng = random.Random(seed)
    alice, bob = (site.add_account(*user) for user in USERS)
    site.body_factory = lambda content: page_body(content, site, seed)
    site.bytes_factory = attachment_bytes
    personal = max(2, pages // 100)
    showcase_pages = max(10, pages // 4)
    showcase = _build_showcase(site, showcase_pages, rng)
    rest = pages - showcase_pages - 2 * personal
    shares = [("ENG", "Engineering", 0.55), ("OPS", "Operations", 0.3), ("HR", "People Team", 0.15)]
    remaining = max(0, rest)
    for index, (key, name, share) in enumerate(shares):
        count = remaining if index == len(shares) - 1 else int(rest * share)
        remaining -= count
        if count > 0:
            populate_space(site, site.add_space(key, name, author_id=alice.account_id), count, rng)
    for account in (alice, bob):
        key = "~" + account.account_id.replace(":", "").replace("-", "")
        space = site.add_space(key, account.display_name, "personal", account.account_id)
        populate_space(site, space, personal, rng, folders=False)
    _restrict_some(site, showcase, bob.account_id)
    return site


def populate_space(
    site: Site, space: Space, count: int, rng: random.Random, *, folders: bool = True
) -> list[Content]:
    """Add `count` pages to `space`: a homepage, a tree at least 6 deep, folders, some archived."""
    home = site.add_content(space, f"{space.name} Home", labels=("home",))
    made = [home]
    containers: list[Content] = [home]
    for index in range(1, count):
        parent = _pick_parent(made, containers, index, rng)
        if folders and index % 40 == 7:
            folder = site.add_content(space, f"Folder {_words(rng, 2)}", parent.id, kind="folder")
            containers.append(folder)
            parent = folder
        title = _title(rng, index)
        page = site.add_content(space, title, parent.id, labels=_labels(rng))
        if index % 33 == 20:
            page.status = "archived"
        made.append(page)
        containers.append(page)
        if index % 10 == 3:
            add_images(site, page, rng)
    _move_under_newer(site, made)
    return made


def _move_under_newer(site: Site, made: list[Content]) -> None:
    """Listings are in id order, not tree order: an old leaf moved under the newest page is
    listed before its parent, as on real sites where pages are moved after they are written."""
    newest = made[-1]
    for page in made[9 : len(made) // 2]:
        if page.status == newest.status == "current" and not site.children.get(page.id):
            site.move_content(page.id, newest.id)
            return


def _pick_parent(
    made: list[Content], containers: list[Content], index: int, rng: random.Random
) -> Content:
    if index <= 8:  # a chain: the first pages nest 8 deep
        return made[-1]
    roll = rng.random()
    if roll < 0.15:
        return made[0]
    if roll < 0.6:
        return containers[-1 - rng.randrange(min(len(containers), 5))]
    return containers[rng.randrange(len(containers))]


def _title(rng: random.Random, index: int) -> str:
    if index % 17 == 5:
        return f"{UNICODE_TITLES[index % len(UNICODE_TITLES)]} {index}"
    return f"{_words(rng, 3).title()} {index}"


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _labels(rng: random.Random) -> tuple[str, ...]:
    if rng.random() < 0.25:
        return tuple(sorted({rng.choice(("runbook", "howto", "adr", "faq", "draft-review"))}))
    return ()


def add_images(site: Site, page: Content, rng: random.Random) -> list[Attachment]:
    kinds = [("png", "image/png"), ("jpeg", "image/jpeg"), ("gif", "image/gif")]
    made: list[Attachment] = []
    for number in range(1 + rng.randrange(3)):
        kind, media_type = kinds[(int(page.id) + number) % len(kinds)]
        name = f"diagram-{page.id}-{number}.{'jpg' if kind == 'jpeg' else kind}"
        made.append(site.add_attachment(page, name, media_type, kind))
    site.add_attachment(page, f"notes-{page.id}.pdf", "application/pdf", "pdf")
    return made


def _restrict_some(site: Site, pages: list[Content], account_id: str) -> None:
    for page in pages[-3:-1]:
        site.restrict(page.id, users=[account_id])
        page.title = f"Restricted {page.title}"


# ---- the showcase space: every construct the converter and the reader must handle ----------


def _build_showcase(site: Site, count: int, rng: random.Random) -> list[Content]:
    author = next(iter(site.accounts))
    space = site.add_space("DOCS", "Product Docs", author_id=author)
    home = site.add_content(space, "Product Docs Home", body=SHOWCASE_BODY, labels=("home",))
    guide = site.add_content(space, "Getting Started Guide", home.id, labels=("howto",))
    folder = site.add_content(space, "Architecture", guide.id, kind="folder")
    inner = site.add_content(space, "Decisions", folder.id, kind="folder")
    big = site.add_content(space, "Big Id Page", inner.id, content_id=BIG_PAGE_ID, labels=("adr",))
    gallery = site.add_content(space, "Image Gallery", home.id, body=GALLERY_BODY)
    _gallery_attachments(site, gallery)
    site.add_content(space, "Old Release Notes", home.id, status="archived")
    files = site.add_content(space, "Specs and Files", home.id, body=FILES_BODY)
    add_files(site, files)
    _add_blog_posts(site, space)
    _add_comments(site, guide)
    made = [home, guide, big, gallery, files]
    populated = populate_space_under(site, space, big, count - len(made) - 1, rng)
    return made + populated


RELEASE_POST_BODY = (
    "<p>Release 2.0 ships the new importer and a faster search.</p>"
    '<ac:image ac:alt="release banner"><ri:attachment ri:filename="release-banner.png" />'
    "</ac:image>"
)


def _add_blog_posts(site: Site, space: Space) -> None:
    """Two posts in the space's blog (not in the page tree): one with an image, one labelled."""
    post = site.add_content(space, "Release 2.0 is out", kind="blogpost", body=RELEASE_POST_BODY)
    site.add_attachment(post, "release-banner.png", "image/png", "png")
    site.add_content(
        space,
        "Quarterly engineering update",
        kind="blogpost",
        body="<p>This quarter we retired the legacy sync service.</p>",
        labels=("howto",),
    )


def _add_comments(site: Site, page: Content) -> None:
    """A footer thread with a reply, and a resolved inline comment on highlighted text."""
    author, asker = list(site.accounts)[:2]
    question = site.add_comment(
        page, "<p>Could we add a section on single sign-on?</p>", author_id=asker
    )
    site.add_comment(
        page, "<p>Yes: it is in the next revision.</p>", author_id=author, reply_to=question
    )
    site.add_comment(
        page,
        "<p>Which agent version does this need?</p>",
        author_id=asker,
        selection="install the agent",
        resolution="resolved",
    )


def populate_space_under(
    site: Site, space: Space, root: Content, count: int, rng: random.Random
) -> list[Content]:
    made: list[Content] = []
    parent = root
    for index in range(max(0, count)):
        parent = parent if index < 6 else rng.choice([root, *made[-5:]])
        page = site.add_content(space, _title(rng, index + 100), parent.id, labels=_labels(rng))
        if index % 10 == 3:
            add_images(site, page, rng)
        made.append(page)
        if index < 6:
            parent = page
    return made


FILES_BODY = (
    "<p>The specification is attached.</p>"
    '<ac:structured-macro ac:name="view-file"><ac:parameter ac:name="name">'
    '<ri:attachment ri:filename="spec.pdf" /></ac:parameter></ac:structured-macro>'
    '<p>See the <ac:link><ri:attachment ri:filename="plan.docx" />'
    "<ac:plain-text-link-body><![CDATA[delivery plan]]></ac:plain-text-link-body></ac:link>.</p>"
)
# every kind of attached file: (file name, media type, emulator kind)
FILE_KINDS = (
    ("spec.pdf", "application/pdf", "pdf"),
    (
        "plan.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    ("budget.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    (
        "roadmap.pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
    ),
    ("export.csv", "text/csv", "csv"),
    ("notes.html", "text/html", "html"),
    ("changelog.md", "text/markdown", "markdown"),
    ("readme-files.txt", "text/plain", "plain"),
    ("scan.pdf", "application/pdf", "scanned-pdf"),
    ("locked.pdf", "application/pdf", "encrypted-pdf"),
    ("damaged.pdf", "application/pdf", "corrupt-pdf"),
    (
        "bomb.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "zip-bomb",
    ),
    ("archive.zip", "application/zip", "zip"),
    ("old-screenshot.png", "image/png", "png"),
)
FILE_WORDS = {
    "pdf": "The specification requires quarterly encryption audits",
    "docx": "The delivery plan schedules the migration for April",
    "xlsx": "budget line hosting amount 1200",
    "pptx": "Roadmap: launch the mobile app in March",
    "csv": "region,revenue\nnorth,510\nsouth,420\n",
    "html": "<html><body><h1>Meeting notes</h1><p>Decided to adopt PostgreSQL.</p></body></html>",
    "markdown": "# Changelog\n\n- Added single sign-on\n",
    "plain": "Plain text readme: run the installer twice.\n",
}


def add_files(site: Site, page: Content) -> None:
    """Attach one file of every kind to `page` (spec.pdf and plan.docx are referenced in the
    default files body; the rest are merely attached)."""
    for file_name, media_type, kind in FILE_KINDS:
        site.add_attachment(page, file_name, media_type, kind)


def file_bytes(kind: str) -> bytes | None:
    """The bytes of an attached file of `kind`; None for kinds that are not files."""
    from . import documents

    words = FILE_WORDS.get(kind, "")
    made: dict[str, Callable[[], bytes]] = {
        "pdf": lambda: documents.make_pdf([[words], ["Appendix: retention is seven years"]]),
        "docx": lambda: documents.make_docx(["Delivery plan", words]),
        "xlsx": lambda: documents.make_xlsx([["budget line", "amount"], ["hosting", "1200"]]),
        "pptx": lambda: documents.make_pptx(["Roadmap", words]),
        "scanned-pdf": lambda: documents.make_pdf([[""]], drawing_only=True),
        "encrypted-pdf": lambda: documents.make_pdf([["secret salaries"]], encrypted=True),
        "corrupt-pdf": lambda: b"%PDF-1.7\n" + bytes(range(256)) * 4,
        "zip-bomb": documents.make_zip_bomb,
        "zip": lambda: documents.make_docx(["not an office file"]),
        "pdf-1mb": lambda: documents.make_pdf([[FILE_WORDS["pdf"]]], pad_to=1_000_000),
        "docx-200kb": lambda: documents.make_docx(
            ["Delivery plan", FILE_WORDS["docx"]], pad_to=200_000
        ),
    }
    if kind in made:
        return made[kind]()
    return words.encode() if kind in FILE_WORDS else None


def _gallery_attachments(site: Site, page: Content) -> None:
    site.add_attachment(page, "architecture.png", "image/png", "png")
    site.add_attachment(page, "photo.jpg", "image/jpeg", "jpeg")
    site.add_attachment(page, "spinner.gif", "image/gif", "gif")
    site.add_attachment(page, "logo.svg", "image/svg+xml", "svg")
    site.add_attachment(page, "broken.png", "image/png", "corrupt")
    site.add_attachment(page, "huge-scan.png", "image/png", "oversized")
    site.add_attachment(page, "bomb.png", "image/png", "bomb")
    site.add_attachment(page, "readme.txt", "text/plain", "text")
    site.add_attachment(page, "in-table.png", "image/png", "png")
    site.add_attachment(page, "in-panel.png", "image/png", "png")
    site.add_attachment(page, "in-layout.png", "image/png", "png")
    site.add_attachment(page, "unused.png", "image/png", "png")


SHOWCASE_BODY = """<p>Welcome to the <strong>Product Docs</strong> space&nbsp;&mdash; start here.</p>
<ac:structured-macro ac:name="toc" ac:schema-version="1"><ac:parameter ac:name="maxLevel">3</ac:parameter></ac:structured-macro>
<h1>Overview</h1>
<p>Owner: <ac:link><ri:user ri:account-id="557058:1f2e3d4c-aaaa-4b5b-8c8c-000000000001" /></ac:link>, due <time datetime="2026-03-15" />.</p>
<h2>Nested lists</h2>
<ul><li>First level<ul><li>Second level<ol><li>Third level one</li><li>Third level two</li></ol></li></ul></li><li>Back to first</li></ul>
<h2>Tables</h2>
<table><tbody><tr><th>Name</th><th>Role</th><th>Notes</th></tr>
<tr><td colspan="2">Spans two columns</td><td><p>Para one</p><p>Para two</p></td></tr>
<tr><td>Nested</td><td><table><tbody><tr><td>inner a</td><td>inner b</td></tr></tbody></table></td><td>x | y</td></tr></tbody></table>
<h2>Code</h2>
<ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">python</ac:parameter><ac:plain-text-body><![CDATA[if a < b and c & d:
    print("<tag>")]]></ac:plain-text-body></ac:structured-macro>
<h2>Panels</h2>
<ac:structured-macro ac:name="info"><ac:parameter ac:name="title">Heads up</ac:parameter><ac:rich-text-body><p>Info body text.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="note"><ac:rich-text-body><p>Note body text.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="warning"><ac:rich-text-body><p>Warning body text.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="tip"><ac:rich-text-body><p>Tip body text.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="panel"><ac:parameter ac:name="title">Panel title</ac:parameter><ac:parameter ac:name="bgColor">#DEEBFF</ac:parameter><ac:rich-text-body><p>Panel body text.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">Click to expand</ac:parameter><ac:rich-text-body><p>Hidden until expanded.</p></ac:rich-text-body></ac:structured-macro>
<p>Status: <ac:structured-macro ac:name="status"><ac:parameter ac:name="colour">Green</ac:parameter><ac:parameter ac:name="title">DONE</ac:parameter></ac:structured-macro> tracked in <ac:structured-macro ac:name="jira"><ac:parameter ac:name="server">System JIRA</ac:parameter><ac:parameter ac:name="key">ENG-42</ac:parameter></ac:structured-macro>.</p>
<ac:structured-macro ac:name="children" />
<p>See <ac:link><ri:page ri:content-title="Getting Started Guide" /><ac:plain-text-link-body><![CDATA[the guide]]></ac:plain-text-link-body></ac:link> and <a href="https://example.com/docs">external docs</a> <ac:emoticon ac:name="smile" ac:emoji-shortname=":slight_smile:" ac:emoji-fallback="🙂" /></p>
<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status><ac:task-body>Write the docs</ac:task-body></ac:task><ac:task><ac:task-id>2</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body> Review them</ac:task-body></ac:task></ac:task-list>
<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell><p>Left column first.</p></ac:layout-cell><ac:layout-cell><p>Right column second.</p></ac:layout-cell></ac:layout-section></ac:layout>
<p>External image: <ac:image><ri:url ri:value="https://example.com/logo.png" /></ac:image></p>
<script>alert("never leak")</script><style>.x{color:red}</style>
"""

GALLERY_BODY = """<p>Images of every kind.</p>
<ac:image ac:alt="System architecture"><ri:attachment ri:filename="architecture.png" ri:version-at-save="1" /><ac:caption><p>The whole system</p></ac:caption></ac:image>
<p><ac:image><ri:attachment ri:filename="photo.jpg" /></ac:image> and again <ac:image><ri:attachment ri:filename="architecture.png" /></ac:image></p>
<p><ac:image><ri:attachment ri:filename="spinner.gif" /></ac:image><ac:image><ri:attachment ri:filename="logo.svg" /></ac:image></p>
<p><ac:image><ri:attachment ri:filename="broken.png" /></ac:image><ac:image><ri:attachment ri:filename="huge-scan.png" /></ac:image><ac:image><ri:attachment ri:filename="bomb.png" /></ac:image><ac:image><ri:attachment ri:filename="readme.txt" /></ac:image></p>
<table><tbody><tr><td><ac:image><ri:attachment ri:filename="in-table.png" /></ac:image></td></tr></tbody></table>
<ac:structured-macro ac:name="info"><ac:rich-text-body><ac:structured-macro ac:name="expand"><ac:rich-text-body><p><ac:image><ri:attachment ri:filename="in-panel.png" /></ac:image></p></ac:rich-text-body></ac:structured-macro></ac:rich-text-body></ac:structured-macro>
<ac:layout><ac:layout-section ac:type="single"><ac:layout-cell><ac:image><ri:attachment ri:filename="in-layout.png" /></ac:image></ac:layout-cell></ac:layout-section></ac:layout>
<p><ac:image><ri:attachment ri:filename="elsewhere.png"><ri:page ri:content-title="Getting Started Guide" /></ri:attachment></ac:image></p>
"""


def page_body(content: Content, site: Site, seed: int) -> str:
    """A generated body: a few sections chosen from the page id, images for its attachments."""
    rng = random.Random(seed * 1_000_003 + int(content.id))
    parts = [f"<p>{content.title}: {_words(rng, 12)}.</p>", f"<h1>{_words(rng, 2).title()}</h1>"]
    parts.append(f"<p>{_words(rng, 30)} &amp; {_words(rng, 5)}&nbsp;done.</p>")
    choice = int(content.id) % 5
    if choice == 0:
        parts.append(f"<ul><li>{_words(rng, 4)}<ul><li>{_words(rng, 3)}</li></ul></li></ul>")
    elif choice == 1:
        parts.append(
            "<table><tbody><tr><th>Key</th><th>Value</th></tr>"
            f"<tr><td>{_words(rng, 1)}</td><td>{_words(rng, 4)}</td></tr></tbody></table>"
        )
    elif choice == 2:
        parts.append(
            '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>'
            f"<ac:plain-text-body><![CDATA[kubectl rollout status {_words(rng, 1)} && echo ok]]>"
            "</ac:plain-text-body></ac:structured-macro>"
        )
    elif choice == 3:
        parts.append(
            '<ac:structured-macro ac:name="info"><ac:rich-text-body>'
            f"<p>{_words(rng, 8)}</p></ac:rich-text-body></ac:structured-macro>"
        )
    for attachment_id in site.page_attachments.get(content.id, []):
        attachment = site.attachments[attachment_id]
        if attachment.media_type.startswith("image/"):
            parts.append(
                f'<p><ac:image ac:alt="{attachment.title}"><ri:attachment '
                f'ri:filename="{attachment.title}" /></ac:image></p>'
            )
    return "\n".join(parts)


def attachment_bytes(attachment: Attachment) -> bytes:
    if attachment.kind == "oversized":
        return _oversized()
    made = _file_bytes_cached(attachment.kind)
    if made is not None:
        return made
    return _made_bytes(attachment.kind, int(attachment.id[3:]) % 8)


@lru_cache(maxsize=32)
def _file_bytes_cached(kind: str) -> bytes | None:
    return file_bytes(kind)


@lru_cache(maxsize=64)
def _made_bytes(kind: str, variant: int) -> bytes:
    from PIL import Image

    color = (40 * variant % 256, 90, 200 - 20 * variant)
    buffer = io.BytesIO()
    if kind in ("png", "jpeg"):
        Image.new("RGB", (64 + variant, 48), color).save(buffer, format=kind.upper())
    elif kind == "gif":
        frames = [Image.new("P", (32, 32), index * 40) for index in range(3)]
        frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=80)
    elif kind == "svg":
        return b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="teal"/></svg>'
    elif kind == "corrupt":
        return b"\x89PNG\r\n\x1a\nthis is not really a png" + bytes(range(64))
    elif kind == "bomb":
        return _bomb_png()
    elif kind == "text":
        return b"plain text, not an image\n"
    else:
        return b"%PDF-1.4\n% sample\n"
    return buffer.getvalue()


@lru_cache(maxsize=1)
def _oversized() -> bytes:
    header = _made_bytes("png", 0)
    return header + bytes(OVERSIZED_BYTES - len(header))


def _bomb_png() -> bytes:
    """A PNG whose header claims 60,000 x 60,000 pixels: 3.6 gigapixels if decoded."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 60001 * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
