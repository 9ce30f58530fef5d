"""Faults switched on per test, and the request log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FaultRule:
    """Answer `kind` to matching requests: skip the first `after`, then hit `times` of them."""

    kind: str  # "429" | "503" | "drop" | "truncate" | "loop_cursor" | "hook"
    after: int = 0
    times: int = 1
    path: str = ""
    retry_after: str | None = None
    action: Callable[[], None] | None = None
    seen: int = 0
    hits: int = 0

    def take(self, path: str) -> bool:
        if self.path not in path or self.hits >= self.times:
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        self.hits += 1
        return True


@dataclass
class LoggedRequest:
    method: str
    origin: str  # "site" | "gateway" | "media" | "auth"
    path: str
    query: dict[str, str]
    auth: str  # "basic" | "scoped" | "bearer" | "none" | "invalid" | "token" (media)
    has_authorization: bool
    status: int = 0


@dataclass
class Faults:
    """The switches; thread-safe because the emulator may run in a server thread."""

    latency: float = 0.0
    rules: list[FaultRule] = field(default_factory=list)
    requests_per_second: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _window: list[float] = field(default_factory=list, repr=False)

    def rate_limit(
        self, *, after: int = 0, times: int = 1, retry_after: str | None = "1", path: str = ""
    ) -> FaultRule:
        return self._add(FaultRule("429", after, times, path, retry_after))

    def unavailable(
        self, *, after: int = 0, times: int = 1, retry_after: str | None = None, path: str = ""
    ) -> FaultRule:
        return self._add(FaultRule("503", after, times, path, retry_after))

    def drop_connection(self, *, after: int = 0, times: int = 1, path: str = "") -> FaultRule:
        return self._add(FaultRule("drop", after, times, path))

    def truncate_body(self, *, after: int = 0, times: int = 1, path: str = "") -> FaultRule:
        return self._add(FaultRule("truncate", after, times, path))

    def loop_cursor(self, *, path: str = "", times: int = 1_000_000) -> FaultRule:
        return self._add(FaultRule("loop_cursor", 0, times, path))

    def on_request(
        self, action: Callable[[], None], *, path: str = "", after: int = 0, times: int = 1
    ) -> FaultRule:
        """Run `action` (change the site) when a matching request arrives, before it is answered."""
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
        with self._lock:
            for rule in self.rules:
                if rule.kind in kinds and rule.take(path):
                    return rule
        return None

    def pick_all(self, path: str, kind: str) -> list[FaultRule]:
        with self._lock:
            return [rule for rule in self.rules if rule.kind == kind and rule.take(path)]

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
