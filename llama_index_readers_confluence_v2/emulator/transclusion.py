"""What Confluence shows where a page includes another (`include`, `excerpt-include`): the
emulator's rendered bodies (`view`, `export_view`) carry the included text in place, written from
the storage-format reference (the macro holds only a link: `<ri:page ri:content-title="..."
[ri:space-key="..."]/>`), so that a reader's Markdown can be scored against what Confluence shows.

A target is found by title in the named space (the including page's when none is named); one
that does not exist, is not current, or that the viewer may not read shows Confluence's error
box instead, never its text. An `excerpt-include` shows the target's excerpt (the named one when
`name` is given, else the first), in a panel titled with the page unless `nopanel` is true. An
excerpt marked `hidden` is not shown on its own page. Includes inside included text are expanded
too, MAX_DEPTH deep (Confluence's own limit is not documented); a page already being included
shows the error box rather than looping.
"""

from __future__ import annotations

import re

from .model import Content, Site

MAX_DEPTH = 5
NOT_FOUND = (
    '<div class="error"><span class="error">Unable to render {include}</span> '
    "The included page could not be found.</div>"
)
MACRO = re.compile(
    r'<ac:structured-macro[^>]*ac:name="(?P<name>include|excerpt-include)"[^>]*>'
    r"(?P<inside>.*?)</ac:structured-macro>",
    re.S,
)
EXCERPT = re.compile(
    r'<ac:structured-macro[^>]*ac:name="excerpt"[^>]*>(?P<inside>.*?)</ac:structured-macro>',
    re.S,
)
PARAMETER = re.compile(
    r'<ac:parameter ac:name="(?P<key>[^"]*)">(?P<value>.*?)</ac:parameter>', re.S
)
RICH_BODY = re.compile(r"<ac:rich-text-body>(?P<body>.*)</ac:rich-text-body>", re.S)


def expanded(storage: str, site: Site, page: Content, account_id: str | None) -> str:
    """The storage body with every include replaced by what Confluence shows there."""
    own = _without_hidden_excerpts(storage)
    return _expand(own, site, page, account_id, (page.id,))


def _expand(
    storage: str, site: Site, page: Content, account_id: str | None, chain: tuple[str, ...]
) -> str:
    def shown(match: re.Match[str]) -> str:
        params = _parameters(match["inside"])
        target = _target(match["inside"], site, page)
        readable = target is not None and target.status == "current"
        if not readable or target is None or not site.visible(target, account_id):
            return NOT_FOUND
        if target.id in chain or len(chain) > MAX_DEPTH:
            return NOT_FOUND
        body = site.body_of(target)
        if match["name"] == "excerpt-include":
            body = _excerpt(body, params.get("name", ""))
            if params.get("nopanel", "").lower() != "true":
                body = (
                    f'<div class="panel"><div class="panelHeader"><b>{target.title}</b></div>'
                    f'<div class="panelContent">{body}</div></div>'
                )
        return _expand(body, site, target, account_id, (*chain, target.id))

    return MACRO.sub(shown, storage)


def _parameters(inside: str) -> dict[str, str]:
    return {
        m["key"].lower(): re.sub(r"<[^>]+>", "", m["value"]).strip()
        for m in PARAMETER.finditer(inside)
    }


def _target(inside: str, site: Site, page: Content) -> Content | None:
    link = re.search(r"<ri:page\b([^>]*)/?>", inside)
    if link is None:
        return None
    attributes = dict(re.findall(r'ri:([a-z-]+)="([^"]*)"', link[1]))
    title = attributes.get("content-title", "")
    space = site.space_of(attributes["space-key"]) if attributes.get("space-key") else None
    space_id = space.id if space is not None else page.space_id
    if attributes.get("space-key") and space is None:
        return None
    return next(
        (
            c
            for c in site.contents.values()
            if c.kind == "page" and c.space_id == space_id and c.title == title
        ),
        None,
    )


def _excerpt(body: str, name: str) -> str:
    excerpts = [m["inside"] for m in EXCERPT.finditer(body)]
    named = [e for e in excerpts if _parameters(e).get("name", "") == name]
    chosen = named[0] if named else (excerpts[0] if excerpts and not name else "")
    rich = RICH_BODY.search(chosen)
    return rich["body"] if rich else ""


def _without_hidden_excerpts(storage: str) -> str:
    def kept(match: re.Match[str]) -> str:
        hidden = _parameters(match["inside"]).get("hidden", "").lower() == "true"
        return "" if hidden else match[0]

    return EXCERPT.sub(kept, storage)
