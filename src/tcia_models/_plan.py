"""A download as data before any of it happens: which series, where each lands, how many images
and bytes each should bring, and which of them this machine's shard takes.

Sans-I/O but for reading the disk: the clients resolve what the plan lacks (rows, sizes) and then
work through it; ``tcia download --dry-run`` prints it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, cast

from pydantic import BaseModel

from ._download import Expected, SeriesTarget
from ._exceptions import InvalidParameterError, StorageError, TCIAError
from .idc import IDCSeries
from .layouts import Layout

__all__ = ["DownloadPlan", "PlannedSeries", "SeriesTable", "Shard", "human_bytes"]

Row = Mapping[str, Any]


class SeriesTable(Protocol):
    """A table of series rows, as ``tcia.tables`` returns them (a ``pyarrow.Table`` or
    ``RecordBatch``; ``polars.DataFrame.to_arrow()`` gives one)."""

    def to_pylist(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Shard:
    """Series ``index`` of ``count`` (from 0): a stable partition by SeriesInstanceUID, so the
    tasks of a Slurm job array or a Kubernetes Indexed Job split one list with no coordinator."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise InvalidParameterError(
                f"shard {self.index}/{self.count}: the index must be 0 to {self.count - 1}"
            )

    @classmethod
    def parse(cls, text: str, environ: Mapping[str, str] = os.environ) -> Shard:
        """``K/N``, or ``auto``: Slurm's ``SLURM_ARRAY_TASK_ID``/``_MIN``/``_COUNT``, else
        Kubernetes' ``JOB_COMPLETION_INDEX`` with ``TCIA_SHARD_COUNT`` (a Job does not tell its
        pods how many completions it has)."""
        if text == "auto":
            return cls._from_environment(environ)
        index, separator, count = text.partition("/")
        if not separator or not index.isdigit() or not count.isdigit() or int(count) < 1:
            raise InvalidParameterError(f"shard {text!r}: give K/N (0 <= K < N) or auto")
        return cls(int(index), int(count))

    @classmethod
    def _from_environment(cls, environ: Mapping[str, str]) -> Shard:
        if "SLURM_ARRAY_TASK_ID" in environ:
            task = int(environ["SLURM_ARRAY_TASK_ID"])
            first = int(environ.get("SLURM_ARRAY_TASK_MIN", "0"))
            count = environ.get("SLURM_ARRAY_TASK_COUNT")
            if count is None:
                raise InvalidParameterError("shard auto: Slurm set no SLURM_ARRAY_TASK_COUNT")
            step = int(environ.get("SLURM_ARRAY_TASK_STEP", "1"))
            return cls((task - first) // step, int(count))
        if "JOB_COMPLETION_INDEX" in environ:
            count = environ.get("TCIA_SHARD_COUNT")
            if count is None or not count.isdigit():
                raise InvalidParameterError(
                    "shard auto: a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX; set "
                    "TCIA_SHARD_COUNT to its completions too"
                )
            return cls(int(environ["JOB_COMPLETION_INDEX"]), int(count))
        raise InvalidParameterError(
            "shard auto: neither a Slurm array task (SLURM_ARRAY_TASK_ID) nor a Kubernetes "
            "Indexed Job (JOB_COMPLETION_INDEX); give --shard K/N"
        )

    def takes(self, series_instance_uid: str) -> bool:
        digest = hashlib.sha256(series_instance_uid.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class PlannedSeries:
    """One series of a plan."""

    series_instance_uid: str
    path: PurePosixPath
    """Where it lands, relative to dest (its folder, or its ZIP without ``extract``)."""
    expected: Expected | None
    """The images and bytes it should bring, when known before asking for it."""
    row: Row = field(default_factory=dict[str, Any])
    """Its metadata, as far as known (for the layout, the sidecar and the licences)."""
    source: str = "nbia"
    """Where it comes from: ``nbia`` (the archive's API) or ``idc`` (IDC's buckets)."""
    idc: IDCSeries | None = None
    """Where IDC has it, when IDC's index was asked and has it (whatever the source)."""
    failure: TCIAError | None = None
    """Why the series cannot be downloaded, learnt while planning (no such series, say)."""


def _row_of(item: object) -> dict[str, Any]:
    if isinstance(item, str):
        return {"SeriesInstanceUID": item}
    if isinstance(item, BaseModel):
        return {**item.model_dump(), **(item.model_extra or {})}
    if isinstance(item, Mapping):
        return {str(key): value for key, value in cast("Mapping[object, Any]", item).items()}
    raise InvalidParameterError(
        f"{item!r:.80} is not a SeriesInstanceUID, a Series row or a mapping with one"
    )


def _records(items: Iterable[object] | SeriesTable) -> Iterable[object]:
    """A table's rows; a data frame iterated as it is would give its column names, not rows."""
    if callable(to_pylist := getattr(items, "to_pylist", None)):  # pyarrow
        return cast("list[object]", to_pylist())
    if callable(to_dicts := getattr(items, "to_dicts", None)):  # polars
        return cast("list[object]", to_dicts())
    if callable(to_dict := getattr(items, "to_dict", None)) and hasattr(items, "columns"):
        return cast("list[object]", to_dict("records"))  # pandas
    return cast("Iterable[object]", items)


def rows_of(items: Iterable[object] | SeriesTable) -> dict[str, dict[str, Any]]:
    """What each item (or each row of a table) says about its series, by UID (each series
    once, in order)."""
    rows: dict[str, dict[str, Any]] = {}
    for item in _records(items):
        row = _row_of(item)
        uid = row.get("SeriesInstanceUID")
        if not isinstance(uid, str):
            raise InvalidParameterError(f"{item!r:.80} names no SeriesInstanceUID")
        rows.setdefault(uid, row)
    return rows


def expected_from(row: Row) -> Expected | None:
    """The sizes a row carries: ImageCount and FileSize (getSeries), or ObjectCount and
    TotalSizeInBytes (getSeriesSize)."""
    for count, size in (("ImageCount", "FileSize"), ("ObjectCount", "TotalSizeInBytes")):
        images, total = row.get(count), row.get(size)
        if isinstance(images, int) and isinstance(total, int):
            return Expected(images, total)
    return None


@dataclass
class DownloadPlan:
    dest: Path
    series: list[PlannedSeries]
    extract: bool = True
    shard: Shard | None = None
    skipped_by_shard: int = 0

    @classmethod
    def build(
        cls,
        rows: Mapping[str, Row],
        dest: str | os.PathLike[str],
        *,
        layout: Layout,
        extract: bool,
        shard: Shard | None,
    ) -> DownloadPlan:
        """Every series laid out (over the whole list, so shards agree), then this shard's."""
        paths = layout.paths_for(rows.values())
        series = [
            PlannedSeries(
                uid,
                paths[uid] if extract else paths[uid].with_name(paths[uid].name + ".zip"),
                expected_from(row),
                row,
            )
            for uid, row in rows.items()
        ]
        taken = [s for s in series if shard is None or shard.takes(s.series_instance_uid)]
        return cls(Path(dest), taken, extract, shard, len(series) - len(taken))

    def target(self, planned: PlannedSeries) -> SeriesTarget:
        return SeriesTarget(
            planned.series_instance_uid,
            self.dest,
            extract=self.extract,
            relative=planned.path.as_posix(),
        )

    def complete(self) -> set[str]:
        """The series already complete on disk (by their expected images and bytes)."""
        return {
            planned.series_instance_uid
            for planned in self.series
            if planned.expected is not None
            and self.target(planned).complete(planned.expected) is not None
        }

    def remaining_bytes(self, complete: set[str]) -> int:
        return sum(
            planned.expected.image_bytes
            for planned in self.series
            if planned.expected is not None and planned.series_instance_uid not in complete
        )

    def check_free_space(self, complete: set[str]) -> None:
        """``StorageError`` when dest's file system has less room than what remains."""
        needed = self.remaining_bytes(complete)
        probe = self.dest
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if needed > free:
            raise StorageError(
                f"cannot download {human_bytes(needed)} into {self.dest}: only "
                f"{human_bytes(free)} are free there. Free some space, choose another --out, or "
                "pass --ignore-free-space (check_free_space=False)",
                path=str(self.dest),
            )

    def describe(self, complete: set[str]) -> str:
        """What ``--dry-run`` prints: how many series and bytes, and where they land."""
        known = [p for p in self.series if p.expected is not None]
        todo = [p for p in self.series if p.series_instance_uid not in complete]
        lines = [
            f"{len(self.series)} series"
            + (
                f" (shard {self.shard}: {self.skipped_by_shard} left to other shards)"
                if self.shard
                else ""
            )
            + f", {sum(p.expected.image_count for p in known if p.expected)} images, "
            f"{human_bytes(sum(p.expected.image_bytes for p in known if p.expected))}"
            + (
                ""
                if len(known) == len(self.series)
                else f" ({len(self.series) - len(known)} of unknown size)"
            ),
            f"{len(complete)} already complete; {len(todo)} to download, "
            f"{human_bytes(self.remaining_bytes(complete))}, into {self.dest}:",
        ]
        from_idc = [p for p in todo if p.source == "idc"]
        if from_idc:
            lines.insert(
                1,
                f"{len(self.series) - sum(p.source == 'idc' for p in self.series)} from the "
                f"archive (NBIA), {sum(p.source == 'idc' for p in self.series)} from IDC's "
                "buckets",
            )
        for planned in todo[:20]:
            size = human_bytes(planned.expected.image_bytes) if planned.expected else "size unknown"
            where = ", from IDC" if planned.source == "idc" else ""
            lines.append(f"  {planned.path.as_posix()}  ({size}{where})")
        if len(todo) > 20:
            lines.append(f"  ... and {len(todo) - 20} more")
        return "\n".join(lines)


def human_bytes(size: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
