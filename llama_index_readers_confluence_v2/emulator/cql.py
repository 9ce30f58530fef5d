"""Enough of CQL (Confluence Query Language) for the v1 `content/search` route (pure).

Fields: `type`, `space` (and `space.key`), `label`, `title`, `id`, `container`, `parent`,
`ancestor`, `lastmodified`, `created`; operators `=`, `!=`, `~`, `!~`, `>`, `>=`, `<`, `<=`,
`in`, `not in`; `and`, `or`, `not`, parentheses; `order by` one or more fields `asc|desc`.
Dates compare as `YYYY-MM-DD[ HH:MM]`. A query outside this raises `CqlError` with the message
Confluence would give in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

FIELDS = {
    "type",
    "space",
    "space.key",
    "label",
    "title",
    "id",
    "content",
    "container",
    "parent",
    "ancestor",
    "lastmodified",
    "created",
}
DATE_FIELDS = {"lastmodified", "created"}
TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|>=|<=|!~|=|~|>|<|\(|\)|,)'
    r"|(?P<word>[A-Za-z0-9_.:~@-]+))"
)
Item = Mapping[str, Any]
Predicate = Callable[[Item], bool]


class CqlError(ValueError):
    """A query this emulator (like Confluence) cannot parse."""


@dataclass(frozen=True)
class Query:
    matches: Predicate
    order: tuple[tuple[str, bool], ...]  # (field, descending)


def parse(text: str) -> Query:
    tokens = _tokens(text)
    parser = _Parser(tokens)
    predicate = parser.expression()
    order = parser.order_by()
    if parser.position != len(tokens):
        raise CqlError(f"Could not parse cql : {text} (unexpected {tokens[parser.position][1]!r})")
    return Query(predicate, order)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise CqlError(f"Could not parse cql : {text}")
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def _peek(self) -> str:
        if self.position >= len(self.tokens):
            return ""
        kind, value = self.tokens[self.position]
        return value.lower() if kind == "word" else value

    def _take(self) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise CqlError("Could not parse cql : the query ends too early")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expression(self) -> Predicate:
        parts = [self._conjunction()]
        while self._peek() == "or":
            self._take()
            parts.append(self._conjunction())
        return parts[0] if len(parts) == 1 else (lambda item: any(p(item) for p in parts))

    def _conjunction(self) -> Predicate:
        parts = [self._negation()]
        while self._peek() == "and":
            self._take()
            parts.append(self._negation())
        return parts[0] if len(parts) == 1 else (lambda item: all(p(item) for p in parts))

    def _negation(self) -> Predicate:
        if self._peek() == "not":
            self._take()
            inner = self._negation()
            return lambda item: not inner(item)
        if self._peek() == "(":
            self._take()
            inner = self.expression()
            if self._take()[1] != ")":
                raise CqlError("Could not parse cql : a parenthesis is not closed")
            return inner
        return self._clause()

    def _clause(self) -> Predicate:
        kind, field = self._take()
        field = field.lower()
        if kind != "word" or field not in FIELDS:
            raise CqlError(f"Could not parse cql : unknown field {field!r}")
        negated = False
        if self._peek() == "not":
            self._take()
            negated = True
        operator = self._take()[1].lower()
        if operator == "in":
            values = self._values()
            found: Predicate = lambda item: any(_compare(item, field, "=", v) for v in values)  # noqa: E731
            return (lambda item: not found(item)) if negated else found
        if negated or operator not in ("=", "!=", "~", "!~", ">", ">=", "<", "<="):
            raise CqlError(f"Could not parse cql : unknown operator {operator!r}")
        value = self._take()[1]
        return lambda item: _compare(item, field, operator, value)

    def _values(self) -> list[str]:
        if self._take()[1] != "(":
            raise CqlError("Could not parse cql : 'in' needs a list in parentheses")
        values = [self._take()[1]]
        while self._peek() == ",":
            self._take()
            values.append(self._take()[1])
        if self._take()[1] != ")":
            raise CqlError("Could not parse cql : a list is not closed")
        return values

    def order_by(self) -> tuple[tuple[str, bool], ...]:
        if self._peek() != "order":
            return ()
        self._take()
        if self._take()[1].lower() != "by":
            raise CqlError("Could not parse cql : 'order' must be followed by 'by'")
        order = [self._order_field()]
        while self._peek() == ",":
            self._take()
            order.append(self._order_field())
        return tuple(order)

    def _order_field(self) -> tuple[str, bool]:
        field = self._take()[1].lower()
        if field not in FIELDS:
            raise CqlError(f"Could not parse cql : cannot order by {field!r}")
        descending = False
        if self._peek() in ("asc", "desc"):
            descending = self._take()[1].lower() == "desc"
        return field, descending


def _compare(item: Item, field: str, operator: str, value: str) -> bool:
    field = "space" if field == "space.key" else "id" if field == "content" else field
    actual = item.get(field)
    if field in ("label", "ancestor"):
        values = [str(v).lower() for v in actual or ()]
        present = value.lower() in values
        return present if operator == "=" else not present if operator == "!=" else False
    if actual is None:
        return operator in ("!=", "!~")
    if field in DATE_FIELDS:
        left, right = _date(str(actual)), _date(value)
        if len(right) == 10 and operator in ("=", "!="):
            left = left[:10]  # the same day
        elif len(right) == 10:
            right += " 00:00"  # from the start of that day
    else:
        left, right = str(actual).lower(), value.lower()
    return {
        "=": left == right,
        "!=": left != right,
        "~": right.strip("*") in left,
        "!~": right.strip("*") not in left,
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[operator]


def _date(text: str) -> str:
    """`2026-01-02T03:04:05.000Z` or `2026/01/02 03:04` -> `2026-01-02 03:04`."""
    return text.replace("T", " ").replace("/", "-")[:16]


def sort_key(item: Item, field: str) -> Any:
    value = item.get("space" if field == "space.key" else field)
    if field == "id":
        return int(str(value).removeprefix("att")) if value is not None else 0
    return "" if value is None else str(value).lower()
