"""The asyncio backend of ``AsyncTCIAClient``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["CancelFlag", "Lock", "consume", "map_unordered", "run_blocking", "sleep"]

T = TypeVar("T")
R = TypeVar("R")
B = TypeVar("B")

Lock = asyncio.Lock


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def run_blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Disk and CPU work off the event loop."""
    return await asyncio.to_thread(functools.partial(function, *args, **kwargs))


async def consume(function: Callable[[Iterator[B]], T], batches: AsyncIterator[B]) -> T:
    """``function(batches)`` in a worker thread, its iterator pulling each batch from the event
    loop (one hop per batch): the thread does the disk and CPU work, the loop keeps the sockets.
    Cancelling the caller cancels the pull the worker waits on, so the worker unwinds too."""
    loop = asyncio.get_running_loop()
    pulling: list[concurrent.futures.Future[Any]] = []

    async def next_batch() -> Any:
        try:
            return await anext(batches)
        except StopAsyncIteration:
            return _FINISHED

    def pull() -> Iterator[B]:
        while True:
            future = asyncio.run_coroutine_threadsafe(next_batch(), loop)
            pulling[:] = [future]
            batch = future.result()
            if batch is _FINISHED:
                return
            yield batch

    worker = loop.run_in_executor(None, function, pull())
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        for future in pulling:
            future.cancel()
        with contextlib.suppress(BaseException):
            await worker
        raise
    finally:
        with contextlib.suppress(RuntimeError):  # a pull still running is closed by its end
            await batches.aclose()  # type: ignore[attr-defined]


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
