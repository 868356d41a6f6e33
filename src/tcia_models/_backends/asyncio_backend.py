"""The asyncio backend of ``AsyncTCIAClient``."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

__all__ = ["CancelFlag", "Lock", "map_unordered", "run_blocking", "sleep"]

T = TypeVar("T")
R = TypeVar("R")

Lock = asyncio.Lock


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def run_blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Disk and CPU work off the event loop."""
    return await asyncio.to_thread(functools.partial(function, *args, **kwargs))


class CancelFlag:
    """Cancellation, which asyncio already delivers to every task: nothing to poll."""

    def set(self) -> None:
        pass

    def is_set(self) -> bool:
        return False


async def map_unordered(
    function: Callable[[T], Awaitable[R]], items: Iterable[T], limit: int, cancel: CancelFlag
) -> AsyncIterator[R]:
    """``function(item)`` for every item, at most ``limit`` at a time, results as they finish.

    Items are drawn lazily, so a million of them cost no more than ``limit`` tasks; leaving the
    loop early cancels what is still running.
    """
    source = iter(items)
    done: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()

    async def worker() -> None:
        for item in source:  # one shared iterator: each item goes to one worker
            try:
                done.put_nowait((True, await function(item)))
            except BaseException as error:
                done.put_nowait((False, error))
                if not isinstance(error, Exception):
                    raise
        done.put_nowait((True, _FINISHED))

    workers = [asyncio.create_task(worker()) for _ in range(max(1, limit))]
    try:
        running = len(workers)
        while running:
            ok, value = await done.get()
            if value is _FINISHED:
                running -= 1
            elif ok:
                yield value
            else:
                raise value
    finally:
        cancel.set()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


_FINISHED = object()
