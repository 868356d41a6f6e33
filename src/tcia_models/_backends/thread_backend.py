"""The thread backend of ``TCIAClient``."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["CancelFlag", "Lock", "consume", "map_unordered", "run_blocking", "sleep"]

T = TypeVar("T")
R = TypeVar("R")
B = TypeVar("B")

Lock = threading.Lock


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def run_blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return function(*args, **kwargs)


def consume(function: Callable[[Iterator[B]], T], batches: Iterator[B]) -> T:
    """``function(batches)`` right here: the thread that reads the network does the work."""
    try:
        return function(batches)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


class CancelFlag:
    """Threads cannot be interrupted: work in flight polls this and stops when it is set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def map_unordered(
    function: Callable[[T], R], items: Iterable[T], limit: int, cancel: CancelFlag
) -> Iterator[R]:
    """``function(item)`` for every item in at most ``limit`` threads, results as they finish.

    Items are drawn lazily. Leaving the loop early (Ctrl-C included) sets ``cancel``, which work
    in flight polls, and waits for the threads to stop.
    """
    source = iter(items)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, limit)) as pool:
        pending: set[concurrent.futures.Future[R]] = set()
        try:
            for item in source:
                pending.add(pool.submit(function, item))
                if len(pending) >= limit:
                    break
            while pending:
                finished, pending = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in finished:
                    yield future.result()
                    for item in source:
                        pending.add(pool.submit(function, item))
                        break
        finally:
            cancel.set()
            for future in pending:
                future.cancel()
