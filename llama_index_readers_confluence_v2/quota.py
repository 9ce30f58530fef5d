"""What a request costs in Atlassian's points, and what the rate-limit headers say.

The published rules (confluence-cloud-api.md §3): a request costs 1 point, plus 1 per core
object read (pages, blog posts, folders, spaces, attachments, comments, labels) and 2 per
identity object (users, groups, permissions, restrictions). Whether a listing counts each object
it returns is not stated, so both readings are counted: `each` (every object listed costs its
points: the reading to plan by) and `once` (a listing costs its kind once).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

BASE_POINTS = 1
OBJECT_POINTS = {"core": 1, "identity": 2, "none": 0}

# The one cost table: the first row whose pattern occurs in the path names the object kind;
# every other read is of core objects.
ROUTE_KINDS: tuple[tuple[str, str], ...] = (
    ("/permissions", "identity"),
    ("/role-assignments", "identity"),
    ("/restriction", "identity"),
    ("/users-bulk", "identity"),
    ("/user", "identity"),
    ("/group", "identity"),
    ("/space-role-mode", "none"),
    ("/_edge/tenant_info", "none"),
    ("/accessible-resources", "none"),
)


def object_kind(path: str) -> str:
    for pattern, kind in ROUTE_KINDS:
        if pattern in path:
            return kind
    return "core"


def objects_in(data: Any) -> int:
    """How many objects a decoded answer holds: a listing's results (a restriction answer's
    users and groups), or one object."""
    if isinstance(data, list):
        return len(data)
    if not isinstance(data, Mapping):
        return 0
    if isinstance(data.get("results"), list):
        return len(data["results"])
    by_operation = [v for v in data.values() if isinstance(v, Mapping) and "restrictions" in v]
    if by_operation or "restrictions" in data:
        return sum(principals_in(v) for v in by_operation or [data])
    return 1


def principals_in(restricted: Any) -> int:
    """The users and groups named in one answer's `restrictions` (a v1 restriction read)."""
    held = (restricted or {}).get("restrictions") or {}
    return sum(len((held.get(kind) or {}).get("results") or []) for kind in ("user", "group"))


@dataclass(frozen=True)
class Cost:
    """One request's points by both readings."""

    each: int
    once: int


def cost_of(method: str, path: str, objects: int) -> Cost:
    """Points for one answered request that returned `objects` objects."""
    per_object = OBJECT_POINTS[object_kind(path)]
    if method not in ("GET", "HEAD") and not _read_query(path):
        return Cost(BASE_POINTS, BASE_POINTS)  # writes cost 1 flat
    return Cost(BASE_POINTS + per_object * objects, BASE_POINTS + per_object * min(objects, 1))


def _read_query(path: str) -> bool:
    """POSTs that only read (a bulk look-up) cost as reads."""
    return path.endswith("-bulk") or "/search" in path


@dataclass
class PointsCount:
    """The points a run spent, by both readings, and what the headers last said."""

    each: int = 0
    once: int = 0
    refused: int = 0  # requests answered 429 (counted as 1 point each, to be safe)
    warned: int = 0  # answers whose Beta- headers said a coming limit would be breached

    def add(self, cost: Cost) -> None:
        self.each += cost.each
        self.once += cost.once


# ---- the rate-limit headers -----------------------------------------------------------------


@dataclass(frozen=True)
class QuotaSignal:
    """What one response's headers say about the points quota (None where they are silent)."""

    limit: float | None = None
    remaining: float | None = None
    reset_in: float | None = None  # seconds until the window resets
    near: bool = False  # less than 20% left
    quota_reason: str | None = None  # RateLimit-Reason on a 429: the hour's quota is spent

    @property
    def fraction_left(self) -> float | None:
        if self.limit and self.remaining is not None:
            return self.remaining / self.limit
        return None


_PARAM = re.compile(r";\s*([a-z]+)\s*=\s*([0-9.]+)")


def structured(value: str | None) -> dict[str, float]:
    """The parameters of a `RateLimit` / `RateLimit-Policy` header:
    `"global-app-quota";r=11000;t=600` gives {"r": 11000, "t": 600}."""
    if not value:
        return {}
    first = value.split(",", 1)[0]
    return {name: float(number) for name, number in _PARAM.findall(first)}


def quota_signal(
    headers: Mapping[str, str], now: float, *, beta: bool = False
) -> QuotaSignal | None:
    """The enforced headers (`RateLimit`, `RateLimit-Policy`, `X-RateLimit-*`), or with `beta`
    their `Beta-` forms, which Atlassian sends when a request would have breached limits it does
    not enforce yet: those are reported, not acted on."""
    plain, extended = ("beta-", "x-beta-") if beta else ("", "x-")
    policy = structured(headers.get(f"{plain}ratelimit-policy"))
    state = structured(headers.get(f"{plain}ratelimit"))
    limit = _number(headers.get(f"{extended}ratelimit-limit")) or policy.get("q")
    remaining = _number(headers.get(f"{extended}ratelimit-remaining"))
    if remaining is None:
        remaining = state.get("r")
    reset_in = state.get("t")
    if reset_in is None:
        reset_in = _seconds_until(headers.get(f"{extended}ratelimit-reset"), now)
    near = headers.get(f"{extended}ratelimit-nearlimit", "").strip().lower() == "true"
    reason = headers.get(f"{extended}ratelimit-reason" if beta else "ratelimit-reason")
    quota_reason = reason if reason and "quota" in reason else None
    if limit is None and remaining is None and reset_in is None and not near and not reason:
        return None
    return QuotaSignal(limit, remaining, reset_in, near, quota_reason)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _seconds_until(iso: str | None, now: float) -> float | None:
    if not iso:
        return None
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, when.timestamp() - now)
