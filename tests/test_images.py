"""Embedded images become ImageDocuments: resolved, downloaded, checked, linked to their page."""

from __future__ import annotations

import base64
import io
import re
import tracemalloc

import pytest
from llama_index.core.schema import Document, ImageDocument, NodeRelationship
from PIL import Image

from llama_index_readers_confluence_v2 import ImageRejected
from llama_index_readers_confluence_v2.emulator import Emulator
from llama_index_readers_confluence_v2.emulator.generator import attachment_bytes
from llama_index_readers_confluence_v2.images import check_image

from .conftest import make_reader
from .sites import empty_site

VALID_KINDS = {"png", "jpeg", "gif", "svg"}


def gallery_id(emulator: Emulator) -> str:
    return next(c.id for c in emulator.site.contents.values() if c.title == "Image Gallery")


def split(documents: list[Document]) -> tuple[list[Document], list[ImageDocument]]:
    images = [d for d in documents if isinstance(d, ImageDocument)]
    return [d for d in documents if not isinstance(d, ImageDocument)], images


def expected_images(emulator: Emulator) -> set[str]:
    """Attachment ids of valid images that some visible, current page embeds."""
    site = emulator.site
    alice = emulator.user().account_id
    expected = set()
    for page_id, attachment_ids in site.page_attachments.items():
        page = site.contents[page_id]
        if page.status != "current" or not site.visible(page, alice):
            continue
        body = site.body_of(page)
        for attachment_id in attachment_ids:
            attachment = site.attachments[attachment_id]
            embedded = f'<ri:attachment ri:filename="{attachment.title}"' in body
            if embedded and attachment.kind in VALID_KINDS:
                expected.add(attachment_id)
    return expected


def test_every_embedded_image_of_the_sample_site_once_with_metadata(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    documents = reader.load_data(
        url=emulator.base_url,
        include_personal_spaces=True,
        include_attachments=True,
        include_blog_posts=True,  # a blog post's images come like a page's
    )
    pages, images = split(documents)
    ids = [image.id_ for image in images]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_images(emulator)
    page_by_id = {page.id_: page for page in pages}
    for image in images:
        attachment = emulator.site.attachments[image.id_]
        page = page_by_id[attachment.page_id]
        assert (
            image.metadata["page_id"]
            == page.id_
            == image.relationships[NodeRelationship.PARENT].node_id
        )
        assert image.metadata["file_name"] == attachment.title
        assert image.metadata["path"] == page.metadata["path"]
        assert (image.metadata["space_key"], image.metadata["title"]) == (
            page.metadata["space_key"],
            page.metadata["title"],
        )
        assert f"]({image.metadata['url']})" in page.text  # the Markdown shows it where it stood
        data = base64.b64decode(image.image or "")
        if attachment.kind == "svg":
            assert image.image_mimetype == "image/svg+xml" and data.startswith(b"<svg")
        else:
            with Image.open(io.BytesIO(data)) as decoded:
                decoded.load()
                assert (decoded.width, decoded.height) == (
                    image.metadata["width"],
                    image.metadata["height"],
                )
            assert image.image_mimetype == attachment.media_type
    assert reader.last_report.images == len(images)


def test_the_gallery_reuses_nested_and_broken_images_as_it_should(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    documents = reader.load_data(page_ids=[gallery_id(emulator)], include_attachments=True)
    page, images = split(documents)
    names = [image.metadata["file_name"] for image in images]
    assert names == [
        "architecture.png",
        "photo.jpg",
        "spinner.gif",
        "logo.svg",
        "in-table.png",
        "in-panel.png",
        "in-layout.png",
    ]
    assert images[0].metadata["alt"] == "System architecture"
    assert "*The whole system*" in page[0].text
    skipped = {f.reason.split(":")[0]: f.reason for f in reader.last_report.skipped_images}
    assert set(skipped) == {"broken.png", "huge-scan.png", "bomb.png", "readme.txt"}
    assert "corrupt" in skipped["broken.png"]
    assert "cap" in skipped["huge-scan.png"]
    assert "bomb" in skipped["bomb.png"]
    assert "not an image" in skipped["readme.txt"]
    assert "unused.png" not in names and "elsewhere.png" not in names
    gif = next(i for i in images if i.metadata["file_name"] == "spinner.gif")
    with Image.open(io.BytesIO(base64.b64decode(gif.image or ""))) as first_frame:
        assert getattr(first_frame, "n_frames", 1) == 1


def test_the_bomb_is_refused_without_allocating_it(emulator: Emulator) -> None:
    reader = make_reader(emulator)
    tracemalloc.start()
    reader.load_data(page_ids=[gallery_id(emulator)], include_attachments=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert any("bomb" in f.reason for f in reader.last_report.skipped_images)
    assert peak < 64 * 1024 * 1024, f"peak {peak:,} bytes: something decoded the 3.6-gigapixel bomb"


def test_the_media_origin_never_sees_credentials(served: Emulator) -> None:
    documents = make_reader(served, in_process=False).load_data(
        page_ids=[gallery_id(served)], include_attachments=True
    )
    assert len(split(documents)[1]) == 7
    media = served.requests(origin="media")
    assert media and all(not entry.has_authorization and "token" in entry.query for entry in media)


def test_no_attachment_request_without_include_attachments(emulator: Emulator) -> None:
    make_reader(emulator).load_data(page_ids=[gallery_id(emulator)])
    touched = [e.path for e in emulator.log if "attachment" in e.path or e.origin == "media"]
    assert touched == []


def test_attachments_are_listed_in_bulk_for_a_space_and_per_page_otherwise(
    emulator: Emulator,
) -> None:
    """Attached files are found only by listing: a space imported whole costs one CQL search per
    200 of its attachments; pages selected by id cost one listing each; nothing unless asked."""
    make_reader(emulator).load_data(space_key="HR")
    assert not [e for e in emulator.log if "attachment" in e.query.get("cql", "") + e.path]
    documents = make_reader(emulator).load_data(space_key="HR", include_attachments=True)
    searches = [e for e in emulator.log if e.path.endswith("/content/search")]
    assert len(searches) == 1 and 'space = "HR"' in searches[0].query["cql"]
    assert not [e for e in emulator.log if e.path.endswith("/attachments")]
    assert any(d.metadata["content_type"] == "image" for d in documents)
    pages = sorted(d.id_ for d in documents if d.metadata["content_type"] == "page")
    emulator.clear_log()
    make_reader(emulator).load_data(page_ids=pages, include_attachments=True)
    listed = [e.path.split("/")[-2] for e in emulator.log if e.path.endswith("/attachments")]
    assert sorted(listed) == pages


def test_a_page_with_300_attachments_is_read_across_pagination() -> None:
    site, author = empty_site()
    space = site.add_space("ATT", "Attachments", author_id=author)
    page = site.add_content(space, "Many files")
    attachments = [
        site.add_attachment(page, f"file-{n:03}.png", "image/png", "png") for n in range(300)
    ]
    page.body = "".join(
        f'<p><ac:image><ri:attachment ri:filename="{a.title}" /></ac:image></p>'
        for a in (attachments[5], attachments[299])
    )
    emulator = Emulator(site)
    documents = make_reader(emulator).load_data(page_ids=[page.id], include_attachments=True)
    assert [d.id_ for d in split(documents)[1]] == [attachments[5].id, attachments[299].id]
    assert len([e for e in emulator.log if e.path.endswith("/attachments")]) == 2
    emulator.clear_log()  # a whole space: the space's attachments by CQL, 200 a request
    documents = make_reader(emulator).load_data(space_key="ATT", include_attachments=True)
    assert [d.id_ for d in split(documents)[1]] == [attachments[5].id, attachments[299].id]
    assert len([e for e in emulator.log if e.path.endswith("/content/search")]) == 2
    assert not [e for e in emulator.log if e.path.endswith("/attachments")]


def test_a_single_image_comes_from_the_one_listing_of_the_page() -> None:
    site, author = empty_site()
    space = site.add_space("ONE", "One", author_id=author)
    page = site.add_content(
        space, "One image", body='<ac:image><ri:attachment ri:filename="a.png" /></ac:image>'
    )
    site.add_attachment(page, "a.png", "image/png", "png")
    emulator = Emulator(site)
    documents = make_reader(emulator).load_data(page_ids=[page.id], include_attachments=True)
    assert [d.metadata.get("file_name") for d in documents[1:]] == ["a.png"]
    assert len([e for e in emulator.log if e.path.endswith("/attachments")]) == 1


def test_the_byte_cap_is_enforced_while_reading_even_when_the_size_is_understated() -> None:
    site, author = empty_site()
    space = site.add_space("CAP", "Cap", author_id=author)
    page = site.add_content(
        space, "Liar", body='<ac:image><ri:attachment ri:filename="big.png" /></ac:image>'
    )
    attachment = site.add_attachment(page, "big.png", "image/png", "png")
    attachment.data = attachment_bytes(attachment) + bytes(2_000_000)
    attachment.file_size = 100  # the listing says 100 bytes
    reader = make_reader(Emulator(site), image_max_bytes=1_000_000)
    documents = reader.load_data(space_key="CAP", include_attachments=True)
    assert not split(documents)[1]
    assert "cap" in reader.last_report.skipped_images[0].reason


def test_an_attachment_that_vanishes_before_download_is_reported(emulator: Emulator) -> None:
    site = emulator.site
    photo = next(a for a in site.attachments.values() if a.title == "photo.jpg")
    emulator.faults.on_request(
        lambda: site.attachments.pop(photo.id), path=f"/attachment/{photo.id}/download"
    )
    reader = make_reader(emulator)
    documents = reader.load_data(page_ids=[gallery_id(emulator)], include_attachments=True)
    assert photo.id not in {d.id_ for d in documents}
    assert any(
        f.attachment_id == photo.id and "vanished" in f.reason
        for f in reader.last_report.skipped_images
    )


def test_svg_can_be_switched_off(emulator: Emulator) -> None:
    reader = make_reader(emulator, include_svg=False)
    documents = reader.load_data(page_ids=[gallery_id(emulator)], include_attachments=True)
    assert "logo.svg" not in {d.metadata.get("file_name") for d in documents}
    assert any("SVG" in f.reason for f in reader.last_report.skipped_images)


def test_external_images_are_never_fetched(emulator: Emulator) -> None:
    docs = emulator.site.space_of("DOCS")
    assert docs is not None and docs.homepage_id
    documents = make_reader(emulator).load_data(
        page_ids=[docs.homepage_id], include_attachments=True
    )
    assert "![](https://example.com/logo.png)" in documents[0].text
    assert len(documents) == 1
    assert all("example.com" not in e.path for e in emulator.log)


# ---- the pure checks ---------------------------------------------------------------------------


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_check_image_accepts_real_images_of_the_declared_kind() -> None:
    checked = check_image(png(3, 2), "image/png")
    assert (checked.mimetype, checked.width, checked.height) == ("image/png", 3, 2)


@pytest.mark.parametrize(
    ("data", "media_type", "reason"),
    [
        (png(3, 2), "image/jpeg", "not JPEG"),
        (b"\x89PNG\r\n\x1a\ngarbage", "image/png", "corrupt"),
        (png(300, 300), "image/png", "pixel cap"),
        (b"plain", "text/plain", "not an image type"),
        (b"<html></html>", "image/svg+xml", "not SVG"),
    ],
)
def test_check_image_refuses_with_a_reason(data: bytes, media_type: str, reason: str) -> None:
    with pytest.raises(ImageRejected, match=re.escape(reason)):
        check_image(data, media_type, max_pixels=50_000)
