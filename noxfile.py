"""The test suite on every supported Python (`make matrix`, part of `make test`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent))  # nox loads this file without its folder
from tests.interpreters import SUPPORTED, find_python

nox.options.default_venv_backend = "venv"
# On CI (whose machines have every supported Python) a missing one fails the run; on a machine
# with Python 3.11 alone, its sessions are skipped and say so.
nox.options.error_on_missing_interpreters = bool(os.environ.get("CI"))

# nox looks interpreters up on PATH; pyenv's shims there answer only for its selected version.
found = [find_python(version) for version in SUPPORTED]
os.environ["PATH"] = os.pathsep.join(
    [*(str(Path(p).parent) for p in found if p), os.environ["PATH"]]
)


@nox.session(python=list(SUPPORTED))
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)
