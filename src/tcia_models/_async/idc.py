"""Series from IDC's buckets, a batch at a time: one s5cmd run per batch, watched until it ends
and stopped when the download is cancelled (Ctrl-C, SIGTERM to ``tcia``, a task cancelled).
Written once here; codegen writes the sync twin."""

from __future__ import annotations

from .._backends import asyncio_backend as backend
from .._download import ByteProgress, DownloadOutcome
from .._idc_download import IDCBatch

__all__ = ["download_batch"]

_POLL = 0.05
"""Seconds between looks at s5cmd: the most a batch's end waits to be noticed."""
_PROGRESS_EVERY = 10
"""Looks between two counts of the bytes staged so far, for the progress bar."""


async def download_batch(
    batch: IDCBatch, *, cancel: backend.CancelFlag | None, progress: ByteProgress | None
) -> list[DownloadOutcome]:
    """Every series of ``batch``: its outcome (downloaded, already complete, or failed)."""
    try:
        await backend.run_blocking(batch.prepare)
        batch.start()  # from this thread, which outlives s5cmd: see _s5cmd._parent_death_signal
        shown, ticks = 0, 0
        while batch.running():
            if cancel is not None and cancel.is_set():
                raise batch.cancelled()
            await backend.sleep(_POLL)
            ticks += 1
            if progress is not None and ticks % _PROGRESS_EVERY == 0:
                now = await backend.run_blocking(batch.staged_bytes)
                progress.advance(now - shown)
                shown = now
        return await backend.run_blocking(batch.finish)
    finally:
        batch.close()  # s5cmd stopped, staging removed, locks released: whatever happened
