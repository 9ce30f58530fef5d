"""Faults switched on per test, and the request log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FaultRule:
    """Answer `kind` to matching requests: skip the first `after`, then hit `times` of them
    (every one, or every `every`-th: a storm that lets some requests through). Every rule
    counts every matching request, so several rules keep independent schedules; when two fall
    on the same request the first added wins."""

    kind: str  # "429" | "503" | "drop" | "truncate" | "stall" | "loop_cursor" | "hook"
    after: int = 0
    times: int = 1
    path: str = ""
    retry_after: str | None = None
    action: Callable[[], None] | None = None
    every: int = 1
    seen: int = 0
    hits: int = 0

    def due(self, path: str) -> bool:
        """Count a matching request; say whether this rule's schedule falls on it."""
        if self.path not in path:
            return False
        self.seen += 1
        if self.hits >= self.times or self.seen <= self.after:
            return False
        return (self.seen - self.after - 1) % self.every == 0


@dataclass
class LoggedRequest:
    method: str
    origin: str  # "site" | "gateway" | "media" | "auth"
    path: str
    query: dict[str, str]
    auth: str  # "basic" | "scoped" | "bearer" | "none" | "invalid" | "token" (media)
    has_authorization: bool
    status: int = 0
    raw_query: str = ""  # the query string exactly as it arrived
    arrived: float = field(default_factory=time.monotonic)  # for timelines in benchmarks


@dataclass
class Faults:
    """The switches; thread-safe because the emulator may run in a server thread."""

    latency: float = 0.0
    rules: list[FaultRule] = field(default_factory=list)
    requests_per_second: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _window: list[float] = field(default_factory=list, repr=False)

    def rate_limit(
        self,
        *,
        after: int = 0,
        times: int = 1,
        retry_after: str | None = "1",
        path: str = "",
        every: int = 1,
    ) -> FaultRule:
        return self._add(FaultRule("429", after, times, path, retry_after, every=every))

    def unavailable(
        self,
        *,
        after: int = 0,
        times: int = 1,
        retry_after: str | None = None,
        path: str = "",
        every: int = 1,
    ) -> FaultRule:
        return self._add(FaultRule("503", after, times, path, retry_after, every=every))

    def drop_connection(
        self, *, after: int = 0, times: int = 1, path: str = "", every: int = 1
    ) -> FaultRule:
        return self._add(FaultRule("drop", after, times, path, every=every))

    def truncate_body(
        self, *, after: int = 0, times: int = 1, path: str = "", every: int = 1
    ) -> FaultRule:
        return self._add(FaultRule("truncate", after, times, path, every=every))

    def stall(self, seconds: float, *, after: int = 0, times: int = 1, path: str = "") -> FaultRule:
        """Hold matching requests for `seconds` before answering: a read timeout for the client."""
        return self._add(FaultRule("stall", after, times, path, retry_after=str(seconds)))

    def loop_cursor(self, *, path: str = "", times: int = 1_000_000) -> FaultRule:
        return self._add(FaultRule("loop_cursor", 0, times, path))

    def on_request(
        self, action: Callable[[], None], *, path: str = "", after: int = 0, times: int = 1
    ) -> FaultRule:
        """Run `action` (change the site) when a request arrives whose `path?query` holds `path`,
        before it is answered: the way to delete or restrict pages in the middle of an import."""
        return self._add(FaultRule("hook", after, times, path, action=action))

    def quota(self, requests_per_second: float | None) -> None:
        """Answer 429 once more than this many requests arrive within one second."""
        self.requests_per_second = requests_per_second

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.latency = 0.0
            self.requests_per_second = None
            self._window.clear()

    def _add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def pick(self, path: str, kinds: tuple[str, ...]) -> FaultRule | None:
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self.rules:
                if rule.kind in kinds and rule.due(path) and chosen is None:
                    rule.hits += 1
                    chosen = rule
        return chosen

    def pick_all(self, path: str, kind: str) -> list[FaultRule]:
        with self._lock:
            due = [rule for rule in self.rules if rule.kind == kind and rule.due(path)]
            for rule in due:
                rule.hits += 1
        return due

    def over_quota(self) -> bool:
        if not self.requests_per_second:
            return False
        now = time.monotonic()
        with self._lock:
            self._window[:] = [t for t in self._window if now - t < 1.0]
            if len(self._window) >= self.requests_per_second:
                return True
            self._window.append(now)
        return False
