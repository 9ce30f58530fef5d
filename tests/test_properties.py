"""Property-based tests of the pure parts: the converter, URL parsing, tiny links."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from llama_index_readers_confluence_v2 import (
    BadURLError,
    FolderSelection,
    PageSelection,
    SpaceSelection,
    TitleSelection,
    id_to_tiny,
    parse_url,
    tiny_to_id,
)
from llama_index_readers_confluence_v2.emulator.generator import GALLERY_BODY, SHOWCASE_BODY
from llama_index_readers_confluence_v2.markdown import storage_to_markdown

BASE = "https://acme.atlassian.net/wiki"
CORPUS = Path(__file__).parent.parent / "corpus" / "confluence-cloud-pages"
SAMPLES = [SHOWCASE_BODY, GALLERY_BODY] + [
    p.read_text() for p in sorted(CORPUS.glob("*/storage.xhtml"))[:8]
]
WORD = re.compile(r"\w+")
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- the converter -----------------------------------------------------------------------------


@FAST
@given(st.text(max_size=400))
def test_the_converter_never_raises_on_arbitrary_text(text: str) -> None:
    assert isinstance(storage_to_markdown(text).markdown, str)


@st.composite
def mutated_bodies(draw: st.DrawFn) -> str:
    body = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(body)))
        end = draw(st.integers(start, min(len(body), start + 200)))
        operation = draw(st.sampled_from(["cut", "insert", "duplicate", "truncate"]))
        junk = draw(
            st.sampled_from(
                [
                    "<",
                    ">",
                    "</p>",
                    "<ac:structured-macro ac:name='code'>",
                    "]]>",
                    "<![CDATA[",
                    "&",
                    "&bogus;",
                    "<td colspan='x'>",
                    "</table>",
                    "<ri:attachment />",
                    "\x00",
                ]
            )
        )
        if operation == "cut":
            body = body[:start] + body[end:]
        elif operation == "insert":
            body = body[:start] + junk + body[start:]
        elif operation == "duplicate":
            body = body[:end] + body[start:end] + body[end:]
        else:
            body = body[:start]
    return body


@FAST
@given(mutated_bodies())
def test_the_converter_never_raises_on_mutated_real_bodies(body: str) -> None:
    assert isinstance(storage_to_markdown(body).markdown, str)


words = st.lists(
    st.from_regex(r"[A-Za-z0-9가-힣éü]{1,12}", fullmatch=True), min_size=1, max_size=12
)
CONTAINERS = [
    "{}",
    "<div>{}</div>",
    "<ul><li>{}</li></ul>",
    "<ol><li><p>x</p>{}</li></ol>",
    "<table><tbody><tr><td>{}</td></tr></tbody></table>",
    "<ac:layout><ac:layout-section><ac:layout-cell>{}</ac:layout-cell></ac:layout-section></ac:layout>",
    '<ac:structured-macro ac:name="info"><ac:rich-text-body>{}</ac:rich-text-body></ac:structured-macro>',
    '<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">t</ac:parameter><ac:rich-text-body>{}</ac:rich-text-body></ac:structured-macro>',
    "<ac:adf-extension><ac:adf-node type='panel'/><ac:adf-fallback>{}</ac:adf-fallback></ac:adf-extension>",
    "<blockquote>{}</blockquote>",
]
INLINE = [
    "{}",
    "<strong>{}</strong>",
    "<em>{}</em>",
    "<span>{}</span>",
    "<u>{}</u>",
    '<a href="https://x.example">{}</a>',
]


@FAST
@given(
    st.lists(st.tuples(words, st.sampled_from(INLINE)), min_size=1, max_size=4),
    st.sampled_from(CONTAINERS),
)
def test_no_paragraph_loses_its_text(
    paragraphs: list[tuple[list[str], str]], container: str
) -> None:
    inner = "".join("<p>" + wrap.format(" ".join(p)) + "</p>" for p, wrap in paragraphs)
    produced = [
        w.lower() for w in WORD.findall(storage_to_markdown(container.format(inner)).markdown)
    ]
    for paragraph, _ in paragraphs:
        expected = [w.lower() for w in paragraph]
        position = 0
        for word in expected:  # every word, in order
            assert word in produced[position:], (word, paragraph, produced)
            position = produced.index(word, position) + 1


MALFORMED = [
    # an unclosed macro (its end tag missing) swallows whatever follows it
    '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x]]></ac:plain-text-body>{}',
    '<ac:structured-macro ac:name="toc">{}',
    '<ac:structured-macro ac:name="info"><ac:parameter ac:name="title">t{}',
    '<ac:structured-macro ac:name="expand"><ac:rich-text-body>{}',
    "<ac:structured-macro ac:name='status'><ac:parameter ac:name='title'>ok</ac:parameter>{}",
    # unclosed inline tags and resource references
    "<p><strong>bold {}",
    "<p><em><a href='https://x.example'>link {}",
    "<p><ac:image><ri:attachment ri:filename='a.png'>{}",
    "<p><ac:link><ri:page ri:content-title='T'>{}",
    "<p><ac:emoticon ac:name='smile'>{}",
    "<p><time datetime='2026-01-01'>{}",
    "<ac:task-list><ac:task><ac:task-status>incomplete{}",
    # stray end tags
    "</p></ac:structured-macro></div>{}</table>",
    # macros nested in macros, the inner one unclosed
    '<ac:structured-macro ac:name="expand"><ac:rich-text-body><ac:structured-macro ac:name="code">'
    "<ac:plain-text-body><![CDATA[y]]></ac:plain-text-body>{}</ac:rich-text-body>"
    "</ac:structured-macro>",
]


@FAST
@given(
    st.lists(st.tuples(words, st.sampled_from(INLINE)), min_size=1, max_size=4),
    st.lists(st.sampled_from(MALFORMED), min_size=1, max_size=3),
)
def test_malformed_storage_loses_no_text(
    paragraphs: list[tuple[list[str], str]], wrappers: list[str]
) -> None:
    """Every word written after (or inside) a malformed construct reaches the Markdown, in order."""
    body = "".join("<p>" + wrap.format(" ".join(p)) + "</p>" for p, wrap in paragraphs)
    for wrapper in wrappers:
        body = wrapper.format(body)
    produced = [w.lower() for w in WORD.findall(storage_to_markdown(body).markdown)]
    position = 0
    for word in (w.lower() for paragraph, _ in paragraphs for w in paragraph):
        assert word in produced[position:], (word, body, produced)
        position = produced.index(word, position) + 1


# ---- URLs and tiny links ------------------------------------------------------------------------

ids = st.integers(min_value=1, max_value=2**63 - 1)
keys = st.from_regex(r"~?[A-Za-z0-9]{1,20}", fullmatch=True)
titles = st.text(
    st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=30
).filter(lambda t: t.strip() == t and t.strip())


@given(ids)
def test_tiny_links_round_trip_64_bit_ids(page_id: int) -> None:
    assert tiny_to_id(id_to_tiny(page_id)) == page_id


@FAST
@given(ids, keys, titles)
def test_every_url_form_round_trips(page_id: int, key: str, title: str) -> None:
    slug = quote_plus(title)
    cases = {
        f"{BASE}/spaces/{key}/pages/{page_id}/{slug}": PageSelection(str(page_id)),
        f"{BASE}/spaces/{key}/pages/{page_id}": PageSelection(str(page_id)),
        f"{BASE}/spaces/{key}/pages/edit-v2/{page_id}": PageSelection(str(page_id)),
        f"{BASE}/pages/viewpage.action?pageId={page_id}": PageSelection(str(page_id)),
        f"{BASE}/x/{id_to_tiny(page_id)}": PageSelection(str(page_id)),
        f"{BASE}/spaces/{key}/folder/{page_id}": FolderSelection(str(page_id)),
        f"{BASE}/spaces/{key}": SpaceSelection(key),
        f"{BASE}/spaces/{key}/overview": SpaceSelection(key),
        f"{BASE}/display/{key}/{slug}": TitleSelection(key, title),
    }
    for url, expected in cases.items():
        assert parse_url(url, BASE) == expected, url


@FAST
@given(st.text(max_size=120))
@example("0")  # /spaces/0/pages/0: an id no content has is the address's fault
def test_garbage_is_refused_with_bad_url_error(text: str) -> None:
    with pytest.raises(BadURLError):
        parse_url(text, BASE)  # never an absolute URL of this site
    for candidate in (f"{BASE}/{text}", f"https://{text}", f"{BASE}/spaces/{text}/pages/{text}"):
        try:
            assert parse_url(candidate, BASE) is not None
        except BadURLError as refused:
            assert str(refused)
