"""The fault matrix: each cell imports a 500-page space with images over loopback sockets and must
end with every reachable page imported exactly once and every failure reported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from llama_index.core.schema import ImageDocument

from llama_index_readers_confluence_v2 import (
    DEFAULT_SCOPES,
    ConfluenceError,
    ConfluenceReader,
    OAuthCredential,
    RetryPolicy,
)
from llama_index_readers_confluence_v2.emulator import Emulator

from .sites import current_ids, imaged_space

pytestmark = pytest.mark.slow

RETRY = RetryPolicy(max_attempts=6, backoff_base=0.02, backoff_max=0.2, retry_after_max=1.0)


def matrix_site() -> Emulator:
    return imaged_space(500)


@dataclass
class Cell:
    name: str
    arm: Callable[[Emulator], None]
    subtree: bool = False
    expect_error: str | None = None
    expect_failures: int = 0
    expect_skipped: int = 0
    reader_options: dict[str, object] = field(default_factory=dict)


def _doomed(emulator: Emulator) -> str:
    space = next(iter(emulator.site.spaces.values()))
    pages = [emulator.site.contents[str(i)] for i in emulator.site.space_pages[space.id]]
    leaf = next(
        p for p in reversed(pages) if p.status == "current" and not emulator.site.child_ids(p.id)
    )
    return leaf.id


def _delete_mid_run(emulator: Emulator) -> None:
    doomed = _doomed(emulator)
    emulator.faults.on_request(
        lambda: emulator.site.delete_content(doomed), path="body-format=storage", after=1
    )


def _restrict_mid_run(emulator: Emulator) -> None:
    doomed = _doomed(emulator)

    def restrict() -> None:
        emulator.site.contents[doomed].restricted_to = frozenset({"someone-else"})

    emulator.faults.on_request(restrict, path="body-format=storage", after=1)


def _vanishing_attachment(emulator: Emulator) -> None:
    attachment = next(a for a in emulator.site.attachments.values() if a.media_type == "image/png")
    emulator.faults.on_request(
        lambda: emulator.site.attachments.pop(attachment.id, None),
        path=f"/{attachment.id}/download",
    )


CELLS = [
    Cell(
        "429 storm, Retry-After 0",
        lambda e: e.faults.rate_limit(times=40, retry_after="0", every=3),
    ),
    Cell(
        "429 storm, Retry-After 1", lambda e: e.faults.rate_limit(times=3, retry_after="1", every=3)
    ),
    Cell(
        "429 storm, no Retry-After",
        lambda e: e.faults.rate_limit(times=40, retry_after=None, every=3),
    ),
    Cell(
        "429, absurd Retry-After",
        lambda e: e.faults.rate_limit(times=2, retry_after="9223372036854775807", every=3),
    ),
    Cell("503 bursts", lambda e: e.faults.unavailable(times=30, retry_after="0", every=2)),
    Cell("connections dropped mid-body", lambda e: e.faults.drop_connection(times=8, every=3)),
    Cell(
        "read timeouts",
        lambda e: e.faults.stall(1.5, times=3, path="/api/v2/"),
        reader_options={"timeout": 0.5},
    ),
    Cell("truncated JSON", lambda e: e.faults.truncate_body(times=10, path="/api/v2/", every=2)),
    Cell(
        "a cursor that loops",
        lambda e: e.faults.loop_cursor(path="/pages"),
        expect_error="same pagination cursor twice",
    ),
    Cell("a page deleted mid-run", _delete_mid_run, subtree=True, expect_failures=1),
    Cell("a page restricted mid-run", _restrict_mid_run, subtree=True, expect_failures=1),
    Cell("an attachment vanishes before download", _vanishing_attachment, expect_skipped=1),
    Cell(
        "an OAuth token expires mid-run",
        lambda e: e.faults.on_request(lambda: e.advance(3700), path="/pages", after=2),
    ),
]


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_fault_matrix(cell: Cell) -> None:
    emulator = matrix_site()
    baseline_skips = {"corrupt", "cap", "bomb", "not an image"}
    with emulator.serve():
        reader = _reader(emulator, cell)
        cell.arm(emulator)
        space = next(iter(emulator.site.spaces.values()))
        selection = (
            {"page_ids": [space.homepage_id], "include_children": True}
            if cell.subtree
            else {"space_key": "FAULT"}
        )
        if cell.expect_error:
            with pytest.raises(ConfluenceError, match=cell.expect_error):
                reader.load_data(include_attachments=True, **selection)
            return
        documents = reader.load_data(include_attachments=True, **selection)
    pages = [d.id_ for d in documents if d.metadata["content_type"] == "page"]
    images = [d.id_ for d in documents if isinstance(d, ImageDocument)]
    files = [d.id_ for d in documents if d.metadata["content_type"] == "attachment"]
    assert len(pages) == len(set(pages)) and len(images) == len(set(images))
    assert len(files) == len(set(files))
    assert set(pages) == current_ids(emulator)
    report = reader.last_report
    assert len(report.failures) == cell.expect_failures, report.failures
    unexpected = [
        s for s in report.skipped_images if not any(word in s.reason for word in baseline_skips)
    ]
    assert len(unexpected) == cell.expect_skipped, unexpected
    assert images, "the images of the space were not imported"


def _reader(emulator: Emulator, cell: Cell) -> ConfluenceReader:
    options: dict[str, object] = {
        "api_gateway_url": emulator.gateway_url,
        "auth_server_url": emulator.auth_url,
        "retry": RETRY,
        **cell.reader_options,
    }
    if "OAuth" in cell.name:
        app = emulator.oauth.register_app()
        tokens = emulator.oauth.issue_tokens(
            emulator.user().account_id, app.client_id, " ".join(DEFAULT_SCOPES)
        )
        credential = OAuthCredential(
            app.client_id, app.client_secret, tokens["access_token"], tokens["refresh_token"]
        )
        return ConfluenceReader(emulator.base_url, credentials=credential, **options)  # type: ignore[arg-type]
    user = emulator.user()
    return ConfluenceReader(
        emulator.base_url, user_name=user.email, api_token=user.api_token, **options
    )  # type: ignore[arg-type]
