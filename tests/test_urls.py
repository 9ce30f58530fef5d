"""Every Confluence Cloud URL form, page id and tiny link (pure)."""

from __future__ import annotations

import pytest

from llama_index_readers_confluence_v2 import (
    BadArgumentError,
    BadURLError,
    BlogPostSelection,
    FolderSelection,
    InstanceSelection,
    PageSelection,
    SpaceSelection,
    TitleSelection,
    id_to_tiny,
    parse_url,
    tiny_to_id,
)
from llama_index_readers_confluence_v2.urls import (
    normalize_base_url,
    parse_page_id,
)

BASE = "https://acme.atlassian.net/wiki"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{BASE}/spaces/ENG/pages/123/Release+Notes", PageSelection("123")),
        (f"{BASE}/spaces/ENG/pages/123", PageSelection("123")),
        (f"{BASE}/spaces/ENG/pages/4819617065/Big", PageSelection("4819617065")),
        (f"{BASE}/spaces/ENG/pages/edit-v2/4819617065", PageSelection("4819617065")),
        (f"{BASE}/spaces/ENG/pages/edit/77", PageSelection("77")),
        (f"{BASE}/pages/resumedraft.action?draftId=55&draftShareId=x", PageSelection("55")),
        (f"{BASE}/pages/viewpage.action?pageId=77", PageSelection("77")),
        (f"{BASE}/pages/viewpage.action?spaceKey=D&pageId=78", PageSelection("78")),
        (f"{BASE}/spaces/ENG", SpaceSelection("ENG")),
        (f"{BASE}/spaces/ENG/", SpaceSelection("ENG")),
        (f"{BASE}/spaces/ENG/overview", SpaceSelection("ENG")),
        (f"{BASE}/spaces/~557058abc/overview", SpaceSelection("~557058abc")),
        (f"{BASE}/spaces/ENG/folder/987?atlOrigin=xyz", FolderSelection("987")),
        (f"{BASE}/x/LoB1", PageSelection("7700526")),
        (f"{BASE}/display/ENG/Release+Notes", TitleSelection("ENG", "Release Notes")),
        (f"{BASE}/display/ENG", SpaceSelection("ENG")),
        (BASE, InstanceSelection()),
        (f"{BASE}/", InstanceSelection()),
        ("https://acme.Atlassian.NET/wiki/spaces/ENG", SpaceSelection("ENG")),
        (f"{BASE}/spaces/ENG/pages/123#section", PageSelection("123")),
        (f"{BASE}/spaces/ENG/blog/2024/01/02/55/Post", BlogPostSelection("55")),
        (f"{BASE}/spaces/ENG/blog/55", BlogPostSelection("55")),
    ],
)
def test_url_forms(url: str, expected: object) -> None:
    assert parse_url(url, BASE) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://other-site.atlassian.net/wiki/spaces/ENG/pages/1",
        "/wiki/spaces/ENG/pages/1",
        "not a url",
        f"{BASE}/spaces/ENG/blog/2024/01/02/Post-without-id",
        f"{BASE}/admin/settings",
        f"{BASE}/pages/viewpage.action",
        f"{BASE}/x/!!",
        "",
    ],
)
def test_bad_urls_are_refused_with_a_clear_error(url: str) -> None:
    with pytest.raises(BadURLError) as caught:
        parse_url(url, BASE)
    assert str(caught.value)


def test_a_url_of_another_host_names_both_hosts() -> None:
    with pytest.raises(BadURLError, match=r"other-site\.atlassian\.net.*acme\.atlassian\.net"):
        parse_url("https://other-site.atlassian.net/wiki/spaces/ENG", BASE)


@pytest.mark.parametrize(
    ("page_id", "tiny"),
    [(7700526, "LoB1"), (24281301, "1YByAQ"), (196695, "VwAD"), (152141923, "Y4ARCQ")],
)
def test_tiny_links_match_confluence(page_id: int, tiny: str) -> None:
    assert id_to_tiny(page_id) == tiny
    assert tiny_to_id(tiny) == page_id


@pytest.mark.parametrize("page_id", [1, 2**32 - 1, 2**32, 4819617065, 2**40 + 12345, 2**63 - 1])
def test_tiny_links_round_trip_64_bit_ids(page_id: int) -> None:
    assert tiny_to_id(id_to_tiny(page_id)) == page_id


@pytest.mark.parametrize(
    ("value", "expected"), [(123, "123"), ("0123", "123"), (" 4819617065 ", "4819617065")]
)
def test_page_ids_as_str_or_int(value: object, expected: str) -> None:
    assert parse_page_id(value) == expected


@pytest.mark.parametrize("value", [0, -5, "abc", "12a", 2**63, 1.5, None, True, [1]])
def test_bad_page_ids_say_what_to_pass(value: object) -> None:
    with pytest.raises(BadArgumentError, match="page id"):
        parse_page_id(value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://acme.atlassian.net/wiki", BASE),
        ("https://acme.atlassian.net/wiki/", BASE),
        ("https://acme.atlassian.net", BASE),
        ("http://127.0.0.1:8080/wiki", "http://127.0.0.1:8080/wiki"),
        ("http://localhost:9/wiki", "http://localhost:9/wiki"),
    ],
)
def test_base_url_is_normalised(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "http://acme.atlassian.net/wiki",
        "ftp://acme/wiki",
        "",
        "https://user:secret@acme.atlassian.net",
    ],
)
def test_bad_base_urls_are_refused(given: str) -> None:
    with pytest.raises(BadArgumentError) as caught:
        normalize_base_url(given)
    assert "secret" not in str(caught.value)
