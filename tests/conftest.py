from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def free_port() -> int:
    """A TCP port on loopback nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def copy_checkout(copy: Path) -> Path:
    """What codegen reads and writes, and the whole package (so regenerated code imports),
    copied to ``copy``: a test or a documented command may regenerate there freely."""
    copy.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    ignore = shutil.ignore_patterns("__pycache__", ".*codegen-*")
    for part in ("schema", "codegen", "src/tcia_models", "docs/reference"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    return copy


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A scratch copy of what codegen reads and writes, so a test may change it freely."""
    return copy_checkout(tmp_path / "project")


def run_codegen(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
