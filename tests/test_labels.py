"""Selection by label: the label's id through v1, its pages with bodies through v2, 250 a request."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_index_readers_confluence_v2 import (
    BadArgumentError,
    LocalCollection,
    NotFoundError,
    sync,
)
from llama_index_readers_confluence_v2.emulator import Emulator

from .conftest import make_reader
from .sites import empty_site


def labelled_site() -> Emulator:
    """OPS: 300 pages labelled runbook (a few also adr), one archived; DEV: 4 runbooks, 2 adrs."""
    site, author = empty_site()
    ops = site.add_space("OPS", "Operations", author_id=author)
    dev = site.add_space("DEV", "Development", author_id=author)
    home = site.add_content(ops, "Ops home")
    for number in range(300):
        labels = ("runbook", "adr") if number % 100 == 0 else ("runbook",)
        site.add_content(ops, f"Runbook {number}", home.id, labels=labels)
    site.add_content(ops, "Retired runbook", home.id, labels=("runbook",), status="archived")
    site.add_content(ops, "Unlabelled", home.id)
    dev_home = site.add_content(dev, "Dev home")
    for number in range(4):
        site.add_content(dev, f"Dev runbook {number}", dev_home.id, labels=("runbook",))
    for number in range(2):
        site.add_content(dev, f"Decision {number}", dev_home.id, labels=("adr",))
    return Emulator(site)


def titles(documents: list) -> list[str]:
    return [d.metadata["title"] for d in documents]


def test_a_label_selects_its_pages_across_the_site_with_the_fewest_requests() -> None:
    emulator = labelled_site()
    documents = make_reader(emulator).load_data(label="runbook")
    assert len(documents) == 304 and len(set(d.id_ for d in documents)) == 304
    assert "Retired runbook" not in titles(documents) and "Unlabelled" not in titles(documents)
    runbook = next(d for d in documents if d.metadata["title"] == "Dev runbook 2")
    assert runbook.metadata["path"] == "Development > Dev home > Dev runbook 2"
    assert runbook.metadata["labels"] == "runbook" and "Body of Dev runbook 2" in runbook.text
    lookups = [e for e in emulator.log if e.path == "/wiki/rest/api/label"]
    by_label = [e for e in emulator.log if e.path.endswith("/pages") and "/labels/" in e.path]
    listings = [e for e in by_label if e.query.get("body-format") == "storage"]
    bodies = [
        e for e in emulator.log if e.path == "/wiki/api/v2/pages" and "body-format" in e.query
    ]
    assert [e.query["name"] for e in lookups] == ["runbook"]
    assert len(listings) == 2 and "space-id" not in listings[0].query  # 304 pages, all spaces
    assert bodies == []  # the bodies came with the label's listing
    # the rest learn every page's other labels for its metadata, per space and label in use:
    # OPS runbook (300 pages: 2 requests), OPS adr, DEV runbook, DEV adr
    assert len(by_label) - len(listings) == 5


def test_several_labels_narrowed_to_a_space_give_each_page_once() -> None:
    emulator = labelled_site()
    reader = make_reader(emulator)
    documents = reader.load_data(label=["ADR", "runbook"], space_key="OPS")
    assert len(documents) == 300 and len(set(d.id_ for d in documents)) == 300
    assert {d.metadata["space_key"] for d in documents} == {"OPS"}
    assert reader.load_data(label="adr", space_key="DEV")[0].metadata["labels"] == "adr"
    listings = [e for e in emulator.log if "/labels/" in e.path and "body-format" in e.query]
    assert {e.query.get("space-id") for e in listings} == {
        emulator.site.space_of("OPS").id,  # type: ignore[union-attr]
        emulator.site.space_of("DEV").id,  # type: ignore[union-attr]
    }


def test_a_label_nobody_uses_fails_before_anything_is_imported() -> None:
    emulator = labelled_site()
    reader = make_reader(emulator)
    with pytest.raises(NotFoundError, match="no label 'runbok'"):
        reader.load_data(label=["runbook", "runbok"])
    assert not [e for e in emulator.log if "/labels/" in e.path]
    with pytest.raises(BadArgumentError, match="label takes label names"):
        reader.load_data(label="two words")


def test_a_label_selection_re_syncs_and_follows_the_label(tmp_path: Path) -> None:
    emulator = labelled_site()
    reader = make_reader(emulator)
    site = emulator.site
    with LocalCollection(tmp_path / "wiki.sqlite") as collection:
        first = sync(reader, collection, label="adr")
        unlabelled = next(c for c in site.contents.values() if c.title == "Unlabelled")
        site.label_page(unlabelled.id, "adr")
        emulator.clear_log()
        second = sync(reader, collection, label="adr")
        bodies = [e for e in emulator.log if "body-format" in e.query]
        stored = collection.page_ids()
    assert (first.added, second.added, second.unchanged) == (5, 1, 5)
    assert unlabelled.id in stored and len(stored) == 6
    assert len(bodies) == 1 and bodies[0].query.get("id") == unlabelled.id
