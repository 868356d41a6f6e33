"""Debian's packages for tests that need a real component: installed once, by the test that
needs it, or the test is skipped where it cannot be (not root, no apt-get)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

import pytest


def apt_install(packages: Sequence[str], tools: Sequence[str], purpose: str) -> None:
    """Make ``tools`` available from ``packages``; skip the test with ``purpose`` when the
    machine does not let us install them."""
    if all(shutil.which(tool) for tool in tools):
        return
    if os.geteuid() != 0:
        pytest.skip(f"{purpose} needs root to install {', '.join(packages)} (Debian's packages)")
    if shutil.which("apt-get") is None:
        pytest.skip(f"{purpose} needs Debian's apt-get to install {', '.join(packages)}")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if subprocess.run(command, env=environment, capture_output=True).returncode != 0:
        subprocess.run(
            ["apt-get", "update", "-q"], env=environment, check=True, capture_output=True
        )
        subprocess.run(command, env=environment, check=True, capture_output=True)
