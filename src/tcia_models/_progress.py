"""Optional progress bars (rich), for downloads asked to show them."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

__all__ = ["DownloadProgress", "ProgressBar", "SeriesBytes"]


def _progress() -> Any:
    try:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
    except ImportError:
        raise ImportError("progress=True needs rich: pip install 'tcia-models[cli]'") from None

    class Counter(DownloadColumn):
        """Bytes for byte bars, ``n/m`` for the others."""

        def render(self, task: Any) -> Any:
            if task.fields.get("unit") == "bytes":
                return super().render(task)
            return MofNCompleteColumn().render(task)

    class Speed(TransferSpeedColumn):
        def render(self, task: Any) -> Any:
            return super().render(task) if task.fields.get("unit") == "bytes" else ""

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        Counter(),
        Speed(),
        TimeRemainingColumn(),
        transient=False,
    )


class ProgressBar:
    """One rich progress bar; a no-op when not enabled. Thread-safe, as rich's bars are."""

    def __init__(
        self, enabled: bool, description: str, total: float | None, unit: str = "bytes"
    ) -> None:
        self._progress: Any = None
        self._task: Any = None
        if not enabled:
            return
        self._progress = _progress()
        short = description if len(description) <= 28 else "…" + description[-27:]
        self._task = self._progress.add_task(short, total=total, unit=unit)

    def advance(self, amount: float) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, amount)

    def restart(self) -> None:
        """Back to zero: the download starts over after a broken connection."""
        if self._progress is not None:
            self._progress.update(self._task, completed=0)

    def set_total(self, total: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)

    def complete(self) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            self._progress.update(self._task, completed=task.total or task.completed)

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


class DownloadProgress:
    """Two bars for a run of many series, in one display: series done of all, and bytes. Each
    series reports through its own ``SeriesBytes``, so one that starts over takes back only its
    own bytes."""

    def __init__(self, enabled: bool, series: int, total_bytes: int | None) -> None:
        self._progress: Any = _progress() if enabled else None
        if self._progress is not None:
            self._series = self._progress.add_task("series", total=series, unit="items")
            self._bytes = self._progress.add_task("bytes", total=total_bytes, unit="bytes")

    def series_done(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._series, 1)

    def for_series(self) -> SeriesBytes:
        return SeriesBytes(self._advance_bytes)

    def _advance_bytes(self, amount: float) -> None:
        if self._progress is not None:
            self._progress.advance(self._bytes, amount)

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


class SeriesBytes:
    """One series' share of the bytes bar."""

    def __init__(self, advance: Any) -> None:
        self._advance = advance
        self._counted = 0

    def advance(self, amount: float) -> None:
        self._counted += int(amount)
        self._advance(amount)

    def restart(self) -> None:
        if self._counted:
            self._advance(-self._counted)
        self._counted = 0
