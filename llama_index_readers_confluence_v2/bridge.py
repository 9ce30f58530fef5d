"""Sync calls over async code, also from inside a running event loop (a notebook cell).

The async side runs on a private event loop in a thread of its own. A producer task there runs
ahead of the caller by at most `BUFFER` items (an `asyncio.Queue`, so memory stays bounded);
the caller takes every item ready in one hop between the threads (`run_coroutine_threadsafe`),
so nothing polls and a stream of small items does not pay a thread hop each. Every exception of
the async side, the first one included, reaches the caller as it was raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

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
    """Iterate an async iterator from sync code, streaming.

    Closing the returned generator early (a `break`) stops the producer and closes the async
    iterator on its loop, so its clean-up (`finally`, `async with`) runs before this returns.
    """
    loop = _Loop()
    stream: _Stream[T] | None = None
    try:
        stream = loop.run(_Stream.start(make))
        while True:
            items, error = loop.run(stream.take())
            yield from items
            if error is not None:
                raise error
            if stream.finished:
                return
    finally:
        if stream is not None:
            loop.run(stream.close())
        loop.close()


BUFFER = 64
_END = object()


class _Stream(Generic[T]):
    """An async iterator drained by a task into a bounded queue, on the loop's thread."""

    def __init__(self, iterator: AsyncIterator[T]) -> None:
        self.iterator = iterator
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=BUFFER)
        self.finished = False
        self.task = asyncio.ensure_future(self._produce())

    @classmethod
    async def start(cls, make: Callable[[], AsyncIterator[T]]) -> _Stream[T]:
        return cls(make())

    async def _produce(self) -> None:
        try:
            async for item in self.iterator:
                await self.queue.put(item)
        except Exception as exc:  # handed to the caller, in order
            await self.queue.put((_END, exc))
            return
        await self.queue.put((_END, None))

    async def take(self) -> tuple[list[T], BaseException | None]:
        """The next item, and every other one already waiting; an error ends the list."""
        items: list[T] = []
        item = await self.queue.get()
        while True:
            if isinstance(item, tuple) and len(item) == 2 and item[0] is _END:
                self.finished = True
                return items, item[1]
            items.append(item)
            if self.queue.empty():
                return items, None
            item = self.queue.get_nowait()

    async def close(self) -> None:
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        closing: Any = getattr(self.iterator, "aclose", None)
        if closing is not None:
            await closing()
