"""The test suite on every supported Python (`make matrix`, part of `make test`)."""

from __future__ import annotations

import os
from pathlib import Path

import nox

from tests.interpreters import SUPPORTED, find_python

nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True

# nox looks interpreters up on PATH; pyenv's shims there answer only for its selected version.
found = [find_python(version) for version in SUPPORTED]
os.environ["PATH"] = os.pathsep.join(
    [*(str(Path(p).parent) for p in found if p), os.environ["PATH"]]
)


@nox.session(python=list(SUPPORTED))
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)
