"""The Pythons the package supports, found on this machine: on PATH, or where pyenv keeps them
(its shims answer only for the versions pyenv has selected)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SUPPORTED = ("3.11", "3.12", "3.13")


def _runs(candidate: str, version: str) -> bool:
    probe = subprocess.run(
        [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == version


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` ("3.12") that really runs, or None."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [
        str(p) for p in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))
    ]
    for candidate in candidates:
        if candidate and _runs(candidate, version):
            return candidate
    return None
