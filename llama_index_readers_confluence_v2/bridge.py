"""Sync calls over async code, also from inside a running event loop (a notebook cell).

The async side runs on a private event loop in a thread of its own; the caller asks for one item
at a time (`run_coroutine_threadsafe`), so nothing polls, the producer advances only as fast as
the consumer takes, and every exception of the async side, the first one included, reaches the
caller as it was raised.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class _Loop:
    """An event loop running in a daemon thread until closed."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result()

    def close(self) -> None:
        self.run(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion and return its result (or raise its exception)."""

    async def complete() -> T:
        return await make()

    loop = _Loop()
    try:
        return loop.run(complete())
    finally:
        loop.close()


def iterate_sync(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Iterate an async iterator from sync code, one item per request, streaming.

    Closing the returned generator early (a `break`) closes the async iterator on its loop, so
    its clean-up (`finally`, `async with`) runs before this returns.
    """
    loop = _Loop()
    iterator: AsyncIterator[T] | None = None
    try:
        iterator = loop.run(_call(make))
        while True:
            try:
                yield loop.run(iterator.__anext__())
            except StopAsyncIteration:
                return
    finally:
        if iterator is not None:
            closing: Any = getattr(iterator, "aclose", None)
            if closing is not None:
                loop.run(closing())
        loop.close()


async def _call(make: Callable[[], T]) -> T:
    return make()
