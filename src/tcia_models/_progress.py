"""Optional progress bars (rich), for downloads asked to show them."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

__all__ = ["ProgressBar"]


class ProgressBar:
    """One rich progress bar; a no-op when not enabled. Thread-safe, as rich's bars are."""

    def __init__(
        self, enabled: bool, description: str, total: float | None, unit: str = "bytes"
    ) -> None:
        self._progress: Any = None
        self._task: Any = None
        if not enabled:
            return
        try:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                Progress,
                ProgressColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
        except ImportError:
            raise ImportError("progress=True needs rich: pip install 'tcia-models[cli]'") from None
        counter = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
        columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn(), counter]
        if unit == "bytes":
            columns.append(TransferSpeedColumn())
        columns.append(TimeRemainingColumn())
        self._progress = Progress(*columns, transient=False)
        short = description if len(description) <= 28 else "…" + description[-27:]
        self._task = self._progress.add_task(short, total=total)

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
