from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A scratch copy of what codegen reads and writes, so a test may change it freely."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(ROOT / "schema", copy / "schema")
    shutil.copytree(
        ROOT / "codegen", copy / "codegen", ignore=shutil.ignore_patterns("__pycache__")
    )
    for generated_or_source in ("_generated", "_async", "_sync"):
        shutil.copytree(
            ROOT / "src" / "tcia_models" / generated_or_source,
            copy / "src" / "tcia_models" / generated_or_source,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return copy


def run_codegen(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
