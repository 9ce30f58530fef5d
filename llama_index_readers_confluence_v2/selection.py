"""What a load call asks for: its arguments parsed and checked once, into one frozen object.

`load_data`, `lazy_load_data`, `alazy_load_data`, `achanges`, `sync` and the CLI all build a
`LoadRequest` through `parse_request`, before any request is made: an argument the reader does
not take raises `UnknownArgumentError` naming it and the nearest one it does take.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import BadArgumentError, UnknownArgumentError
from .routes import blog_statuses
from .urls import (
    CqlSelection,
    FolderSelection,
    InstanceSelection,
    LabelSelection,
    PageSelection,
    Selection,
    SpaceSelection,
    parse_page_id,
    parse_url,
)

PAGE_STATUSES = ("current", "archived")
POSITIONAL = ("space_key", "page_ids", "url")
# the arguments that say what is selected: a sync scope is keyed by them
SCOPE_ARGUMENTS = (
    "space_key",
    "label",
    "cql",
    "page_ids",
    "url",
    "folder_id",
    "include_children",
    "include_attachments",
    "include_blog_posts",
    "include_comments",
    "include_permissions",
    "include_personal_spaces",
    "space_filter",
    "page_status",
)
# the call's value wins over the constructor's
ATTACHMENT_ARGUMENTS = ("attachment_filter", "file_extractor")
# the incumbent's paging of CQL results: `limit` is its max_num_results
PAGING_ARGUMENTS = ("cursor", "start", "limit")
ARGUMENTS = (
    *SCOPE_ARGUMENTS,
    "max_num_results",
    "show_progress",
    *ATTACHMENT_ARGUMENTS,
    *PAGING_ARGUMENTS,
)


@dataclass(frozen=True)
class LoadRequest:
    """Everything a load call asked for, validated."""

    selections: tuple[Selection, ...]
    statuses: tuple[str, ...] = ("current",)
    include_children: bool = False
    include_attachments: bool = False
    include_blog_posts: bool = False
    include_comments: bool = False
    include_permissions: bool = False
    include_personal_spaces: bool = False
    space_filter: tuple[str, ...] = ()
    max_num_results: int | None = None
    show_progress: bool = False
    scope_arguments: tuple[tuple[str, Any], ...] = ()
    attachment_filter: Callable[[Any], bool] | None = None
    file_extractor: Mapping[str, Any] | None = None
    start: int = 0  # the incumbent's paging: pages of the selection to pass over first

    def imports_whole(self, space_key: str) -> bool:
        """Whether every page of the space is selected (a space or site selection)."""
        return any(
            isinstance(selection, InstanceSelection)
            or (isinstance(selection, SpaceSelection) and selection.space_key == space_key)
            for selection in self.selections
        )

    @property
    def blog_statuses(self) -> tuple[str, ...]:
        """The statuses asked for that blog posts have (they are never archived)."""
        return blog_statuses(self.statuses)

    def whole_space_keys(self) -> tuple[str, ...]:
        """The spaces selected by key (imported whole)."""
        return tuple(s.space_key for s in self.selections if isinstance(s, SpaceSelection))

    def scope(self, base_url: str) -> tuple[str, str]:
        """A stable key for what is selected (what deletions are computed against), and its
        description: the same for the same arguments, whatever their order or spelling of ids."""
        description = json.dumps(
            {"base_url": base_url, **dict(self.scope_arguments)}, sort_keys=True
        )
        return hashlib.sha256(description.encode()).hexdigest()[:16], description


def parse_request(
    base_url: str, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None
) -> LoadRequest:
    """Check every argument of a load call; raise before anything is sent."""
    given = _named(args, dict(kwargs or {}))
    return LoadRequest(
        selections=tuple(_selections(base_url, given)),
        statuses=statuses(given.get("page_status")),
        include_children=bool(given.get("include_children", False)),
        include_attachments=bool(given.get("include_attachments", False)),
        include_blog_posts=bool(given.get("include_blog_posts", False)),
        include_comments=bool(given.get("include_comments", False)),
        include_permissions=bool(given.get("include_permissions", False)),
        include_personal_spaces=bool(given.get("include_personal_spaces", False)),
        space_filter=keywords(given.get("space_filter")),
        max_num_results=_max_results(_limit_of(given)),
        show_progress=bool(given.get("show_progress", False)),
        scope_arguments=_scope_arguments(given),
        attachment_filter=attachment_filter(given.get("attachment_filter")),
        file_extractor=file_extractor(given.get("file_extractor")),
        start=_start(given.get("start")),
    )


def _named(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    if len(args) > len(POSITIONAL):
        raise BadArgumentError("load_data takes at most space_key, page_ids and url positionally")
    for name in kwargs:
        if name not in ARGUMENTS:
            raise UnknownArgumentError(_unknown(name))
    positional = dict(zip(POSITIONAL, args, strict=False))
    for name in positional.keys() & kwargs.keys():
        raise BadArgumentError(f"{name} was given twice (positionally and as a keyword)")
    return {**positional, **kwargs}


def _unknown(name: str) -> str:
    nearest = difflib.get_close_matches(name, ARGUMENTS, n=1, cutoff=0.5)
    hint = f"did you mean {nearest[0]!r}?" if nearest else "it takes " + ", ".join(ARGUMENTS)
    return f"the reader takes no argument {name!r}; {hint}"


def _selections(base_url: str, given: Mapping[str, Any]) -> list[Selection]:
    selections: list[Selection] = []
    space_key = given.get("space_key")
    if space_key is not None:
        if not isinstance(space_key, str) or not space_key.strip():
            raise BadArgumentError("space_key must be a space key such as 'ENG'")
        space_key = space_key.strip()
    cql = given.get("cql")
    if cql is not None:
        selections.append(_cql_selection(cql, given, space_key))
    elif given.get("cursor") is not None:
        raise BadArgumentError("cursor resumes a cql= query; pass cql= too")
    labels = label_names(given.get("label"))
    if cql is not None:
        if labels:
            raise BadArgumentError('pass cql= or label=, not both (CQL has label = "...")')
    elif labels:  # space_key narrows the labels to its space
        selections.append(LabelSelection(labels, space_key))
    elif space_key is not None:
        selections.append(SpaceSelection(space_key))
    page_ids = _as_list(given.get("page_ids"), "page_ids")
    selections.extend(PageSelection(parse_page_id(i)) for i in page_ids)
    selections.extend(parse_url(u, base_url) for u in _as_list(given.get("url"), "url"))
    folder_id = given.get("folder_id")
    if folder_id is not None:
        selections.append(FolderSelection(parse_page_id(folder_id, "folder_id")))
    if not selections:
        raise BadArgumentError(
            "nothing to load: pass space_key='KEY', page_ids=[...], url='https://...' "
            "(a page, space, folder or site URL), folder_id=... or label='...'"
        )
    return selections


def _cql_selection(cql: Any, given: Mapping[str, Any], space_key: str | None) -> CqlSelection:
    if not isinstance(cql, str) or not cql.strip():
        raise BadArgumentError("cql must be a CQL query such as 'space = ENG and label = runbook'")
    if space_key is not None:
        raise BadArgumentError(
            f"pass the space inside the query (space = {space_key!r} and ...), not as space_key"
        )
    cursor = given.get("cursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor.strip()):
        raise BadArgumentError("cursor takes the value reader.get_next_cursor() returned")
    if cursor is not None and given.get("start"):
        raise BadArgumentError("pass cursor or start, not both (a cursor already says where)")
    return CqlSelection(cql.strip(), cursor.strip() if cursor else None)


def _start(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadArgumentError("start must be a whole number of at least 0")
    return value


def _limit_of(given: Mapping[str, Any]) -> Any:
    """`limit` is the incumbent's name for max_num_results."""
    if given.get("limit") is not None and given.get("max_num_results") is not None:
        raise BadArgumentError("pass max_num_results or limit (the same thing), not both")
    return given.get("limit", given.get("max_num_results"))


def label_names(value: Any) -> tuple[str, ...]:
    """Label names as Confluence stores them (lower case, no spaces), in the order given."""
    names = []
    for item in _as_list(value, "label"):
        name = str(item).strip().lower() if isinstance(item, str) else ""
        if not name or any(c.isspace() for c in name):
            raise BadArgumentError(
                f"label takes label names such as 'runbook' (no spaces); got {item!r}"
            )
        names.append(name)
    return tuple(dict.fromkeys(names))


def _as_list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise BadArgumentError(f"{name} takes one value or a list of them") from None


def statuses(page_status: str | Iterable[str] | None) -> tuple[str, ...]:
    if page_status is None:
        return ("current",)
    values = [page_status] if isinstance(page_status, str) else list(page_status)
    found = tuple(
        part.strip() for value in values for part in str(value).split(",") if part.strip()
    )
    unknown = [status for status in found if status not in PAGE_STATUSES]
    if unknown or not found:
        raise BadArgumentError(
            f"page_status takes 'current', 'archived' or both; got {page_status!r}"
            + (" (drafts cannot be listed through the API)" if "draft" in unknown else "")
        )
    return found


def keywords(space_filter: str | Iterable[str] | None) -> tuple[str, ...]:
    if space_filter is None:
        return ()
    values = [space_filter] if isinstance(space_filter, str) else list(space_filter)
    return tuple(str(value).strip() for value in values if str(value).strip())


def attachment_filter(value: Any) -> Callable[[Any], bool] | None:
    if value is not None and not callable(value):
        raise BadArgumentError("attachment_filter takes a function of an AttachmentInfo -> bool")
    return value  # type: ignore[no-any-return]


def file_extractor(value: Any) -> dict[str, Any] | None:
    """`{".pdf": SomeReader()}`: suffixes lower-cased, with their dot, as SimpleDirectoryReader."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BadArgumentError('file_extractor takes a dict such as {".pdf": PDFReader()}')
    extractor: dict[str, Any] = {}
    for suffix, reader in value.items():
        key = str(suffix).lower()
        key = key if key.startswith(".") else f".{key}"
        if not hasattr(reader, "load_data"):
            raise BadArgumentError(f"file_extractor[{suffix!r}] must be a reader with load_data()")
        extractor[key] = reader
    return extractor


def _max_results(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadArgumentError("max_num_results must be a positive whole number (or None)")
    return value


def _scope_arguments(given: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(
        (name, _canonical(given[name]))
        for name in SCOPE_ARGUMENTS
        if given.get(name) not in (None, False, [], "")
    )


def _canonical(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return sorted(str(item) for item in value)
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value
