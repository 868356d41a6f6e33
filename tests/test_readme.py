"""Every code block of the README runs, against the bundled server."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tcia_models import QUERIES
from tcia_models.testing import TCIATestServer
from tcia_models.testing.idc import publish, write_index
from tcia_models.testing.s3 import S3TestServer

from .conftest import ROOT

KEY = "readme-key"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
README = (ROOT / "README.md").read_text()
BLOCKS = [(m.group(1), m.group(2)) for m in BLOCK.finditer(README)]
# A block that calls a query the original API lacks (NBIA's counts, search, bulk metadata)
# runs against the bundled server's NBIA v4, as TCIAClient() would against TCIA; one with
# server="nlst" against its NLST host; the others against its original API, with a key.
NBIA_ONLY = [f".{q.method_name}(" for q in QUERIES.values() if q.wire("bindaas") is None]
NBIA_V4 = frozenset(
    i for i, (_, body) in enumerate(BLOCKS) if any(call in body for call in NBIA_ONLY)
)
NLST = frozenset(i for i, m in enumerate(BLOCK.finditer(README)) if 'server="nlst"' in m.group(2))
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer(api_keys={KEY}) as running:
        yield running


@pytest.fixture(scope="module")
def idc(
    server: TCIATestServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    """IDC for the README's IDC examples: a local S3 (moto) holding two of RIDER Lung PET-CT's
    three series as IDC lays them out, and an index of them in IDC's schema."""
    with S3TestServer() as s3:
        rider = sorted(
            str(row["SeriesInstanceUID"])
            for row in server.dataset.series_rows()
            if row["Collection"] == "RIDER Lung PET-CT"
        )
        rows = publish(server, s3, rider[:2])
        yield write_index(tmp_path_factory.mktemp("idc") / "index.parquet", rows), s3.endpoint_url


@pytest.fixture
def readme_env(
    server: TCIATestServer,
    idc: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    monkeypatch.setenv("TCIA_API", "bindaas")
    monkeypatch.setenv("TCIA_BASE_URL", server.base_url)
    monkeypatch.setenv("TCIA_API_KEY", KEY)
    monkeypatch.setenv("TCIA_IDC_INDEX", str(idc[0]))
    monkeypatch.setenv("TCIA_IDC_ENDPOINT_URL", idc[1])
    monkeypatch.chdir(tmp_path)
    return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "COLUMNS": "120"}


def test_the_readme_has_only_blocks_this_test_knows() -> None:
    # bash blocks are Slurm scripts: tests/test_slurm.py runs them on a real cluster.
    assert {language for language, _ in BLOCKS} <= {"python", "console", "yaml", "bash"}
    assert len(BLOCKS) >= 12


def test_quickstart_is_exactly_the_two_commands() -> None:
    language, body = BLOCKS[0]
    assert language == "console"
    assert body.splitlines() == ["$ make demo", "$ make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


@pytest.mark.parametrize(
    "index", [i for i, (language, _) in enumerate(BLOCKS) if language == "python"]
)
def test_python_block_runs(
    index: int,
    readme_env: dict[str, str],
    server: TCIATestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if index in NBIA_V4 or index in NLST:
        monkeypatch.setenv("TCIA_API", "nbia-v4")
        where = "nlst" if index in NLST else None
        monkeypatch.setenv("TCIA_BASE_URL", server.base_url_for("nbia-v4", server=where))
    namespace: dict[str, Any] = {"__name__": f"readme_block_{index}"}
    exec(compile(BLOCKS[index][1], f"README.md block {index}", "exec"), namespace)
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            value(tcia_server=server)


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_python_blocks_type_check(checker: str, tmp_path: Path) -> None:
    """The README's examples are what users copy: mypy --strict and pyright must accept them."""
    for index, (language, body) in enumerate(BLOCKS):
        if language == "python":
            (tmp_path / f"readme_block_{index}.py").write_text(body)
    if checker == "mypy":
        command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "."]
    else:
        command = [str(BIN / "pyright"), "--pythonpath", sys.executable, "."]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    words = shlex.split(os.path.expandvars(command))
    if words[0] == "make":  # the Makefile's own targets: check they exist and resolve
        words = ["make", "-n", "-C", str(ROOT), *words[1:]]
        cwd: Path | None = ROOT
    elif words[:3] == ["python", "-m", "codegen"]:
        words[0], cwd = sys.executable, ROOT
    else:
        cwd = None
    return subprocess.run(words, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.mark.parametrize(
    "index", [i for i, (language, _) in enumerate(BLOCKS) if language == "console"]
)
def test_console_block_runs(index: int, readme_env: dict[str, str]) -> None:
    commands = [line[2:] for line in BLOCKS[index][1].splitlines() if line.startswith("$ ")]
    assert commands
    for command in commands:
        result = _run(command, readme_env)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"


def test_github_actions_example_runs_its_tcia_steps(readme_env: dict[str, str]) -> None:
    (workflow,) = [body for language, body in BLOCKS if language == "yaml" and "jobs:" in body]
    steps = yaml.safe_load(workflow)["jobs"]["drift"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    assert runs[0].startswith("pip install")  # installing from PyPI is the one step not run here
    tcia_steps = [run for run in runs if run.startswith("tcia ")]
    assert tcia_steps
    for run in tcia_steps:
        result = _run(run, readme_env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No drift" in result.stdout


def test_the_kubernetes_indexed_job_splits_the_manifest_once(
    readme_env: dict[str, str], server: TCIATestServer, tmp_path: Path
) -> None:
    """No Kubernetes here: the Job spec is checked as Kubernetes reads it, and its command is run
    once per completion index with what Kubernetes would set (JOB_COMPLETION_INDEX)."""
    (spec,) = [
        yaml.safe_load(body)
        for language, body in BLOCKS
        if language == "yaml" and "kind: Job" in body
    ]
    job = spec["spec"]
    assert spec["apiVersion"] == "batch/v1" and job["completionMode"] == "Indexed"
    (container,) = job["template"]["spec"]["containers"]
    count = {e["name"]: e["value"] for e in container["env"]}["TCIA_SHARD_COUNT"]
    assert int(count) == job["completions"]
    command = " ".join(container["args"]).split("&&")[-1].strip()
    assert command.startswith("tcia download") and "--shard auto" in command
    from tcia_models import TCIAClient, write_manifest

    with TCIAClient() as tcia:
        uids = [row.SeriesInstanceUID for row in tcia.get_series()]
    write_manifest(tmp_path / "rider.tcia", uids)
    before = len(server.requests)
    for index in range(job["completions"]):
        env = {**readme_env, "JOB_COMPLETION_INDEX": str(index), "TCIA_SHARD_COUNT": count}
        words = shlex.split(command)
        result = subprocess.run(
            words, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
    fetched = [
        r.params["SeriesInstanceUID"]
        for r in server.requests[before:]
        if r.path.endswith(("/getImage", "/getImageWithMD5Hash"))
    ]
    assert sorted(fetched) == sorted(uids)
