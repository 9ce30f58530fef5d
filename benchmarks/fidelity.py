"""Fidelity on real Confluence Cloud pages: our Markdown against Confluence's own rendering.

    .venv/bin/python benchmarks/fidelity.py [--baseline] [--per-page]

For every corpus page with a rendering (`view.html`): recall is the share of the words
Confluence shows that survive into our Markdown; noise is the share of our Markdown's words
that the rendering does not show. Words are Unicode `\\w+` runs, compared case-insensitively as
multisets. The rendering is read without scripts, styles and the table-of-contents macro's
output; our Markdown without link and image targets and without Markdown syntax (escapes,
`<br>`, alert markers, code fence languages). The corpus: corpus/ at the top of the repository (CC BY 4.0, see its
README).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

CORPUS = Path(__file__).parent.parent / "corpus" / "confluence-cloud-pages"
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Fidelity:
    shown: int
    kept: int
    produced: int
    noise_words: int

    @property
    def recall(self) -> float:
        return self.kept / self.shown if self.shown else 1.0

    @property
    def noise(self) -> float:
        return self.noise_words / self.produced if self.produced else 0.0

    def __add__(self, other: Fidelity) -> Fidelity:
        return Fidelity(
            self.shown + other.shown,
            self.kept + other.kept,
            self.produced + other.produced,
            self.noise_words + other.noise_words,
        )


BLOCKS = [
    "p",
    "div",
    "li",
    "td",
    "th",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "br",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "table",
    "img",
    "hr",
    "dt",
    "dd",
]


def rendered_words(view_html: str) -> Counter[str]:
    """Words as a reader sees them: inline elements run together, blocks apart."""
    soup = BeautifulSoup(view_html, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    for tag in soup.select('[data-macro-name="toc"], .toc-macro'):
        tag.decompose()
    for tag in soup(BLOCKS):
        tag.insert_before("\n")
        tag.append("\n")
    return Counter(word.lower() for word in WORD.findall(soup.get_text("")))


CAPTION = re.compile(r"^(!\[[^\]]*\]\([^)]*\)\s*\n)\*([^*\n]+)\*$", re.M)


def captions(markdown: str) -> Counter[str]:
    """Words of image captions: content the current Confluence editor shows under an image but
    the `body.view` rendering (the oracle here) leaves out, so they are counted apart."""
    return Counter(
        word.lower() for match in CAPTION.finditer(markdown) for word in WORD.findall(match[2])
    )


def markdown_words(markdown: str) -> Counter[str]:
    markdown = CAPTION.sub(r"\1", markdown)
    text = re.sub(
        r"!?\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*\)", r"\1", markdown
    )  # keep link text only
    text = re.sub(r"^(\s*>\s*)\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]", r"\1", text, flags=re.M)
    text = re.sub(
        r"^(\s*)(`{3,}|~{3,})[^\n]*$", r"\1", text, flags=re.M
    )  # fence lines and languages
    text = text.replace("<br>", " ")
    text = re.sub(
        r"^(\s*)(?:[-*+]|\d+\.)\s+(?:\[[ x]\]\s+)?", r"\1", text, flags=re.M
    )  # list markers
    text = re.sub(
        r"(?<!\\)(\*\*|\*|~~|`+)", "", text
    )  # emphasis and code marks join what they wrap
    text = re.sub(r"\\(.)", r"\1", text)
    return Counter(word.lower() for word in WORD.findall(text))


def measure(shown: Counter[str], produced: Counter[str]) -> Fidelity:
    kept = sum((shown & produced).values())
    noise = sum((produced - shown).values())
    return Fidelity(sum(shown.values()), kept, sum(produced.values()), noise)


def ours(storage: str, page_id: str) -> str:
    from llama_index_readers_confluence_v2.markdown import ConversionContext, storage_to_markdown

    context = ConversionContext(
        base_url="https://docs.example/wiki", page_id=page_id, space_key="QM"
    )
    return storage_to_markdown(storage, context).markdown


def baseline(storage: str, page_id: str) -> str:
    from markdownify import markdownify

    return str(markdownify(storage))


def corpus_fidelity(
    convert: Callable[[str, str], str], corpus: Path = CORPUS
) -> tuple[Fidelity, dict[str, Fidelity]]:
    total = Fidelity(0, 0, 0, 0)
    pages: dict[str, Fidelity] = {}
    for view in sorted(corpus.glob("*/view.html")):
        storage = (view.parent / "storage.xhtml").read_text()
        result = measure(
            rendered_words(view.read_text()), markdown_words(convert(storage, view.parent.name))
        )
        pages[view.parent.name] = result
        total = total + result
    return total, pages


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--baseline", action="store_true", help="also measure plain markdownify over storage"
    )
    parser.add_argument("--per-page", action="store_true", help="show every page")
    args = parser.parse_args()
    converters = [("this converter", ours)] + (
        [("plain markdownify", baseline)] if args.baseline else []
    )
    for name, convert in converters:
        total, pages = corpus_fidelity(convert)
        print(
            f"{name}: recall {total.recall:.4f}, noise {total.noise:.4f} over {len(pages)} rendered pages "
            f"({total.shown} words shown, {total.produced} produced)"
        )
        if args.per_page:
            for page_id, result in pages.items():
                print(f"  {page_id}: recall {result.recall:.4f} noise {result.noise:.4f}")


if __name__ == "__main__":
    sys.exit(main())
