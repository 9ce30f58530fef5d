"""Atlassian's points quota for OAuth apps, as confluence-cloud-api.md §3 describes it.

Not `enforced`, it is announced only: the headers come in their `Beta-` forms (as before
enforcement began) and nothing is refused.

A request costs 1 point, plus 1 per core object it reads (pages, spaces, attachments, ...) and 2
per identity object (users, groups, permissions); writes cost 1. The quota is counted in windows
that reset at the top of each UTC hour, with no carry-over, and once it is spent every request is
refused until the reset ("no partial throttling"). Whether a listing counts each object it
returns is not published: `per_object` chooses the reading (True: each listed object counts).

Headers (the enforced forms of the `Beta-` ones): every answer carries `RateLimit-Policy` and
`RateLimit` (`r=` only above ~80% used) and `X-RateLimit-NearLimit: true` below 20% left; a
refusal is the documented example 429.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

WINDOW = 3600
IDENTITY_ROUTES = ("/permissions", "/restriction", "/user", "/group", "/role-assignments")
FREE_ROUTES = ("/space-role-mode", "/_edge/tenant_info")
DOWNLOAD_MARKS = ("/download", "/binary")
POLICIES = {
    "global": ("global-app-quota", "confluence-quota-global-based"),
    "tenant": ("tenant-app-quota", "confluence-quota-tenant-based"),
}


def objects_read(path: str, status: int, body: bytes, content_type: str) -> int:
    """The objects an answer hands back: a listing's results, one object, or (restrictions)
    every user and group named."""
    if status >= 400:
        return 0
    if any(mark in path for mark in DOWNLOAD_MARKS):
        return 1
    if "json" not in content_type:
        return 0
    try:
        data = json.loads(body)
    except ValueError:
        return 0
    return _count(data)


def _count(data: Any) -> int:
    if isinstance(data, list):
        return len(data)
    if not isinstance(data, dict):
        return 0
    if isinstance(data.get("results"), list):
        return len(data["results"])
    if "restrictions" in data:
        return _named(data["restrictions"])
    by_operation = [
        v["restrictions"] for v in data.values() if isinstance(v, dict) and "restrictions" in v
    ]
    return sum(_named(r) for r in by_operation) if by_operation else 1


def _named(restrictions: dict[str, Any]) -> int:
    return sum(
        len((restrictions.get(kind) or {}).get("results") or []) for kind in ("user", "group")
    )


_ID_SEGMENT = re.compile(r"/(?:(?:att)?\d+|[0-9a-f-]{36}|[A-Z][A-Z0-9]*|~[\w-]+)(?=/|$)")
_CQL_TYPE = re.compile(r"type\s*(?:=|in)\s*\(?\s*\"?(\w+)")


def route_of(method: str, path: str, query: str = "") -> str:
    """A request's route, for a points count by route: ids and space keys as `{id}`, the one
    parameter that changes what a listing is (its sort; a CQL search's content type) kept."""
    path = path.split("/wiki", 1)[-1] if "/wiki/" in path else path
    route = _ID_SEGMENT.sub("/{id}", path)
    params = parse_qs(query)
    if "sort" in params:
        route += f"?sort={params['sort'][0]}"
    if "cql" in params:
        kind = _CQL_TYPE.search(params["cql"][0])
        route += f"?cql type={kind.group(1) if kind else '?'}"
    return f"{method} {route}"


def points_for(method: str, path: str, objects: int, *, per_object: bool) -> int:
    if method not in ("GET", "HEAD") and not (path.endswith("-bulk") or "/search" in path):
        return 1
    if any(route in path for route in FREE_ROUTES):
        return 1
    weight = 2 if any(route in path for route in IDENTITY_ROUTES) else 1
    return 1 + weight * (objects if per_object else min(objects, 1))


@dataclass
class PointsQuota:
    """The hour's points, counted for every API answer; enforced on OAuth (bearer) traffic."""

    limit: int = 65_000
    pool: str = "global"
    per_object: bool = True
    enforced: bool = True
    clock: Any = time.time
    used: int = 0  # points in the current window
    total: int = 0  # points over the emulator's life: what tests compare the reader's count to
    refused: int = 0
    by_route: Counter[str] = field(default_factory=Counter)  # points over the emulator's life
    _window: int = -1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _roll(self, now: float) -> None:
        window = int(now // WINDOW)
        if window != self._window:
            self._window, self.used = window, 0

    def seconds_to_reset(self, now: float) -> float:
        return WINDOW - now % WINDOW

    def spent(self) -> bool:
        with self._lock:
            self._roll(self.clock())
            return self.enforced and self.used >= self.limit

    def charge(self, points: int, route: str = "") -> None:
        with self._lock:
            self._roll(self.clock())
            self.used += points
            self.total += points
            self.by_route[route] += points

    def headers(self) -> dict[str, str]:
        now = self.clock()
        with self._lock:
            self._roll(now)
            left = max(0, self.limit - self.used)
        policy, _ = POLICIES[self.pool]
        reset = math.ceil(self.seconds_to_reset(now))
        state = f'"{policy}";t={reset}'
        if self.used > 0.8 * self.limit:
            state = f'"{policy}";r={left};t={reset}'
        headers = {
            "RateLimit-Policy": f'"{policy}";q={self.limit};w={WINDOW}',
            "RateLimit": state,
        }
        if left < 0.2 * self.limit:
            headers["X-RateLimit-NearLimit"] = "true"
        if self.enforced:
            return headers
        # announced, not enforced: the same in the Beta- forms, and what a refusal would say
        announced = {
            f"Beta-{k}" if k.startswith("Rate") else f"X-Beta-{k[2:]}": v
            for k, v in headers.items()
        }
        if left == 0:
            _, reason = POLICIES[self.pool]
            announced |= {
                "Beta-Retry-After": str(reset),
                "X-Beta-RateLimit-Remaining": "0",
                "X-Beta-RateLimit-Reason": reason,
            }
        return announced

    def refusal_headers(self) -> dict[str, str]:
        now = self.clock()
        with self._lock:
            self.refused += 1
        _, reason = POLICIES[self.pool]
        reset_at = now + self.seconds_to_reset(now)
        return {
            "Retry-After": str(math.ceil(self.seconds_to_reset(now))),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset_at)),
            "RateLimit-Reason": reason,
        }
