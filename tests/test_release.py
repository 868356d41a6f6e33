"""The release as a user installs it: `make dist`'s sdist and wheel pass `twine check`, and the
wheel, installed in a fresh venv of every supported Python (not editable, no checkout on
sys.path), answers `tcia --help`, serves and queries, checks drift from the metadata it
carries, and gives a throwaway test file the `tcia_server` fixture."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import tcia_models

from .conftest import ROOT, free_port
from .interpreters import SUPPORTED, find_python

THROWAWAY_TEST = """
from tcia_models import TCIAClient
from tcia_models.testing import TCIATestServer


def test_the_fixture_serves_the_archive(tcia_server: TCIATestServer) -> None:
    with TCIAClient(base_url=tcia_server.base_url_for("nbia-v4")) as tcia:
        assert len(tcia.get_collection_values()) == 15
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make dist` builds: the sdist, and the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def test_the_sdist_and_the_wheel_pass_twine_check(dist: Path) -> None:
    files = sorted(dist.iterdir())
    assert [f.name for f in files] == [
        f"tcia_models-{tcia_models.__version__}-py3-none-any.whl",
        f"tcia_models-{tcia_models.__version__}.tar.gz",
    ]
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_wheel_carries_the_types_the_metadata_and_the_server_data(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "tcia_models/py.typed",
        "tcia_models/__init__.pyi",
        "tcia_models/_generated/metadata.json",
    } <= names
    assert any(n.startswith("tcia_models/testing/data/") for n in names)
    assert not any(n.startswith(("tests/", "codegen/")) for n in names)
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert {
        "schema/metadata/getSeries.json",
        "codegen/cli.py",
        "CHANGELOG.md",
        "LICENSE",
    } <= members


@pytest.fixture(scope="module", params=SUPPORTED)
def installed(
    request: pytest.FixtureRequest, dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh venv of one supported Python with the wheel installed; its bin directory, and an
    environment with nothing of the checkout or of our own venv in it."""
    python = find_python(request.param)
    if python is None:
        message = f"Python {request.param} is supported but not on this machine"
        if os.environ.get("CI"):  # CI's machines have every supported Python
            pytest.fail(message)
        pytest.skip(message)
    venv = tmp_path_factory.mktemp(f"venv-{request.param}")
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    (wheel,) = dist.glob("*.whl")
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            f"{wheel}[cli,testing]",
            "pytest",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TCIA_", "PYTHON", "VIRTUAL_ENV", "PYTEST"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    yield venv / "bin", env


def _run(
    bin_dir: Path, env: dict[str, str], cwd: Path, *command: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / command[0]), *command[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_the_installed_package_is_the_wheel_not_the_checkout(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    where = _run(
        bin_dir, env, tmp_path, "python", "-c", "import tcia_models; print(tcia_models.__file__)"
    )
    assert where.returncode == 0, where.stderr
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout
    version = _run(bin_dir, env, tmp_path, "tcia", "--version")
    assert version.stdout.split() == ["tcia", tcia_models.__version__]


def test_tcia_help_lists_its_commands(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    result = _run(bin_dir, env, tmp_path, "tcia", "--help")
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("  COMMAND\n", 1)[1].split("\n\n", 1)[0]
    commands = {
        line.split()[0]
        for line in listing.splitlines()
        if line.startswith("    ") and not line.startswith("     ")
    }
    assert {"query", "download", "drift", "serve"} <= commands


def test_tcia_serve_answers_a_query_and_drift_finds_none(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    port = free_port()
    base = f"http://127.0.0.1:{port}/services/TCIA/TCIA/query"
    with subprocess.Popen(
        [str(bin_dir / "tcia"), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            assert base in server.stdout.readline()  # printed once it listens
            query = _run(
                bin_dir, env, tmp_path, "tcia", "query", "getSeries", "--api", "bindaas",
                "--collection", "TCGA-OV", "--format", "json", "--base-url", base,
            )  # fmt: skip
            assert query.returncode == 0, query.stderr
            assert '"Collection": "TCGA-OV"' in query.stdout
            drift = _run(
                bin_dir, env, tmp_path, "tcia", "drift", "--api", "bindaas", "--base-url", base
            )
            assert drift.returncode == 0, drift.stdout + drift.stderr
            assert "No drift" in drift.stdout
        finally:
            server.send_signal(signal.SIGTERM)


def test_the_pytest_plugin_gives_a_throwaway_test_the_tcia_server_fixture(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    (tmp_path / "test_throwaway.py").write_text(THROWAWAY_TEST)
    result = _run(bin_dir, env, tmp_path, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
