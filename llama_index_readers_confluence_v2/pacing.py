"""When the next request may go: concurrency that adapts to burst limits, a points budget, and
windows known to be closed.

- Burst limits (API tokens): a 429 that is not about the hour's quota halves the number of
  requests in flight; each success gives back a little (additive increase, multiplicative
  decrease), so a run settles just under the limit instead of collecting 429s.
- Points: `max_points_per_hour` spreads a run over the hour (a budget that refills evenly and is
  charged what each answer cost); when the headers say less than 20% of the quota is left, one
  request goes at a time, and when they say it is spent, none goes until the reset.
- A closed window (a 429 with a `Retry-After`, or a spent quota) holds every request back; a hold
  longer than `max_wait` stops the run with `RateLimitError.retry_at` instead of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import RateLimitError
from .quota import QuotaSignal

NEAR_FRACTION = 0.2  # the headers' "near the limit": less than 20% of the quota left
HOUR = 3600.0
CUT_INTERVAL = 1.0  # seconds: 429s answered together count as one signal to slow down
BURST_MEMORY = 10.0  # seconds a burst 429's rate is kept to (burst windows are seconds long)
WaitNotice = Callable[[float, str], None]  # seconds left (0: over), and why


@dataclass
class PointsBudget:
    """Points that refill at `rate` a second up to `capacity`; an answer's cost is charged when
    it is known, so the budget may go below zero, and nothing is sent until it is back to zero."""

    rate: float
    capacity: float
    tokens: float
    stamp: float

    def wait_needed(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def charge(self, points: float) -> None:
        self.tokens -= points


def budget(points_per_hour: float, now: float) -> PointsBudget:
    rate = points_per_hour / HOUR
    capacity = max(points_per_hour / 360, 10.0)  # ten seconds' worth may go at once
    return PointsBudget(rate, capacity, capacity, now)


class Pacer:
    """The gate every request passes (`async with pacer.slot():`)."""

    def __init__(
        self,
        max_concurrency: int,
        *,
        max_points_per_hour: float | None = None,
        max_wait: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = max(1, max_concurrency)
        self.limit = float(self.ceiling)
        self.lowest = self.limit
        self.max_wait = max_wait
        self.on_wait: WaitNotice | None = None
        self._clock = clock
        self._in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._held_until = 0.0
        self._held_for = ""
        self._last_cut = -CUT_INTERVAL
        self._budget = budget(max_points_per_hour, clock()) if max_points_per_hour else None
        self._burst: PointsBudget | None = None  # requests a second, once a 429 says the limit
        self._burst_until = 0.0

    @contextlib.asynccontextmanager
    async def slot(self, *, retry: bool = False) -> AsyncIterator[None]:
        """A place among the requests in flight; a retry goes ahead of first attempts (it has
        waited already, and a refusal must not fall on the same request in lockstep)."""
        await self._through_holds()
        while self._in_flight >= int(self.limit):
            await self._queue_up(ahead=retry)
            try:
                await self._through_holds()  # the budget may have gone while this one waited
            except RateLimitError:
                self._wake_one()  # the run stops: the turn goes on, so the next one stops too
                raise
        for gate in (self._budget, self._burst):
            if gate is not None:
                gate.charge(1)  # the request's base point (or place in the second) is taken now
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._wake_one()

    async def _queue_up(self, *, ahead: bool) -> None:
        turn = asyncio.get_running_loop().create_future()
        if ahead:
            self._waiting.appendleft(turn)
        else:
            self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn in self._waiting:
                self._waiting.remove(turn)
            elif turn.done() and not turn.cancelled():
                self._wake_one()  # woken, then cancelled: pass the turn on
            raise

    def _wake_one(self) -> None:
        """Let the longest waiting request re-check (it queues again if the slot is gone)."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return

    async def _through_holds(self) -> None:
        """Wait out a closed window and the points budgets (or stop when that is too long)."""
        while True:
            now = self._clock()
            held = self._held_until - now
            if held > 0:
                if held > self.max_wait:
                    raise self.stopped(held, self._held_for)
                await self.sleep(held, self._held_for)
                continue
            if self._burst is not None and now >= self._burst_until:
                self._burst = None  # no 429 for a while: the burst window has passed
            budgets = (self._budget, self._burst)
            needed = max((b.wait_needed(now) for b in budgets if b), default=0.0)
            if needed <= 0:
                return
            await self.sleep(min(needed, self.max_wait), "pacing to Confluence's rate limits")

    def stopped(self, seconds: float, why: str) -> RateLimitError:
        """The error that stops a run whose next request may not go for `seconds`."""
        retry_at = datetime.fromtimestamp(time.time() + seconds, timezone.utc).replace(
            microsecond=0
        )
        return RateLimitError(
            f"{why}: no request may be sent before {retry_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({seconds:.0f} s, longer than RetryPolicy.max_wait of {self.max_wait:.0f} s); "
            "what was imported is kept: run again after that time (a sync continues where it "
            "stopped), raise RetryPolicy.max_wait to wait it out, or spread a long run over the "
            "hours it needs with max_points_per_hour",
            retry_at=retry_at,
        )

    def hold(self, seconds: float, why: str) -> None:
        """No request goes for `seconds` (everyone waits, or stops when that is too long)."""
        until = self._clock() + seconds
        if until > self._held_until:
            self._held_until, self._held_for = until, why

    async def sleep(self, seconds: float, why: str) -> None:
        """Sleep, telling `on_wait` the seconds left about once a second when it is long."""
        notice = self.on_wait if seconds >= 1 else None
        end = self._clock() + seconds
        while (left := end - self._clock()) > 0:
            if notice is not None:
                notice(left, why)
            await asyncio.sleep(min(left, 1.0) if notice else left)
        if notice is not None:
            notice(0.0, why)

    # ---- what answers say ---------------------------------------------------------------------

    def succeeded(self) -> None:
        if self.limit < self.ceiling:
            before = int(self.limit)
            self.limit = min(self.ceiling, self.limit + 1 / self.limit)
            if int(self.limit) > before:
                self._wake_one()

    def throttled(self, per_second: float | None = None) -> None:
        """A burst 429: half as many requests in flight (once for 429s answered together), and,
        when the answer says how many requests a second are allowed, no more than 90% of that."""
        now = self._clock()
        if per_second and per_second >= 1:
            rate = 0.9 * per_second
            if self._burst is None:
                self._burst = PointsBudget(rate, rate, 0.0, now)
            self._burst.rate = self._burst.capacity = rate
            self._burst_until = now + BURST_MEMORY
        if now - self._last_cut >= CUT_INTERVAL:
            self._last_cut = now
            self.limit = max(1.0, self.limit / 2)
            self.lowest = min(self.lowest, self.limit)

    def spent(self, points: float) -> None:
        if self._budget is not None:
            self._budget.charge(points - 1)  # its base point was charged when it was sent

    def observe(self, signal: QuotaSignal | None) -> None:
        """Near the end of the quota (the headers say so), one request at a time; once it is
        spent, no request until the reset."""
        if signal is None or signal.remaining is None:
            return
        left = signal.fraction_left
        if signal.near or (left is not None and left < NEAR_FRACTION):
            self.limit = 1.0
            self.lowest = 1.0
        if signal.remaining <= 0 and signal.reset_in:
            self.hold(signal.reset_in, "the hour's API points quota is spent")
