"""The page fingerprint: one value, stored versioned; collections of the first form still sync."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llama_index_readers_confluence_v2 import Fingerprint, LocalCollection, sync
from llama_index_readers_confluence_v2.emulator import Emulator

from .conftest import make_reader

# written by the code before the fingerprint was a value (commit eaa4bde): space DOCS of
# Emulator(pages=20), with attachments, comments and permissions
FIRST_FORM = Path(__file__).parent / "data" / "collection-fp1.sqlite"
OPTIONS = {
    "space_key": "DOCS",
    "include_attachments": True,
    "include_comments": True,
    "include_permissions": True,
}

digests = st.none() | st.text("0123456789abcdef", min_size=16, max_size=16)


@given(
    version=st.integers(1, 10**6),
    path=st.text(min_size=1),
    files=digests,
    comments=digests,
    audience=digests,
)
def test_a_fingerprint_reads_back_as_it_was_stored(
    version: int, path: str, files: str | None, comments: str | None, audience: str | None
) -> None:
    footprint = Fingerprint.of(
        version,
        path,
        files=files and f"files:{files}",
        comments=comments and f"comments:{comments}",
        audience=audience,
    )
    assert Fingerprint.parse(footprint.stored()) == footprint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3|Docs > Home", Fingerprint("3", "Docs > Home")),
        # a title holding the old separator stays whole
        ("3|Docs > A | B", Fingerprint("3", "Docs > A | B")),
        (
            "7|Docs > Home > Runbook|files:0123456789abcdef|comments:fedcba9876543210"
            "\x1faudience:98b0f669d8ca4e99",
            Fingerprint(
                "7",
                "Docs > Home > Runbook",
                "files:0123456789abcdef",
                "comments:fedcba9876543210",
                "98b0f669d8ca4e99",
            ),
        ),
        (
            "None|Docs > Home|comments:0123456789abcdef",
            Fingerprint("", "Docs > Home", None, "comments:0123456789abcdef"),
        ),
    ],
)
def test_the_first_stored_form_is_read_into_its_parts(text: str, expected: Fingerprint) -> None:
    assert Fingerprint.parse(text) == expected


@pytest.mark.parametrize("text", ["", "garbage", "fp2:{", "fp2:[]", 'fp2:{"path": "x"}'])
def test_text_of_no_known_form_is_nothing(text: str) -> None:
    assert Fingerprint.parse(text) is None


def test_content_and_audience_are_compared_apart() -> None:
    before = Fingerprint.of(4, "Docs > Home", audience="aaaa")
    assert before.same_content(Fingerprint.of(4, "Docs > Home", audience="bbbb"))
    assert not before.same_content(Fingerprint.of(5, "Docs > Home", audience="aaaa"))
    assert before.same_version(4) and not before.same_version(5)


def stored_fingerprints(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT page_id, fingerprint FROM scope_pages").fetchall())


def test_a_collection_written_in_the_first_form_syncs_without_fetching_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wiki.sqlite"
    shutil.copy(FIRST_FORM, path)
    before = stored_fingerprints(path)
    assert before and not any(text.startswith("fp2:") for text in before.values())
    emulator = Emulator(pages=20)
    reader = make_reader(emulator)
    with LocalCollection(path) as collection:
        report = sync(reader, collection, **OPTIONS)
    assert (report.unchanged, report.added, report.updated, report.deleted) == (
        len(before),
        0,
        0,
        0,
    )
    assert not [e for e in emulator.log if "body-format" in e.query]  # no body fetched again
    assert stored_fingerprints(path) == before

    edited = sorted(before, key=int)[1]
    emulator.site.edit_page(edited, body="<p>Rewritten after the format changed.</p>")
    with LocalCollection(path) as collection:
        report = sync(reader, collection, **OPTIONS)
        hits = collection.search("rewritten after the format changed")
    assert (report.updated, report.unchanged) == (1, len(before) - 1)
    assert [hit.page_id for hit in hits] == [edited]
    after = stored_fingerprints(path)
    assert after[edited].startswith("fp2:")
    assert {k: v for k, v in after.items() if k != edited} == {
        k: v for k, v in before.items() if k != edited
    }
