"""Every code block of the README and of every documentation page runs, against the bundled
server, and every Python block type-checks."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tcia_models import QUERIES
from tcia_models.testing import TCIATestServer
from tcia_models.testing.idc import publish, write_index
from tcia_models.testing.s3 import S3TestServer

from .conftest import ROOT, copy_checkout
from .docs_blocks import BLOCKS, Block, blocks

KEY = "docs-key"
# A block that calls a query the original API lacks (NBIA's counts, search, bulk metadata)
# runs against the bundled server's NBIA v4, as TCIAClient() would against TCIA; one with
# server="nlst" against its NLST host; the others against its original API, with a key.
NBIA_ONLY = [f".{q.method_name}(" for q in QUERIES.values() if q.wire("bindaas") is None]
BIN = Path(sys.executable).parent
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _ids(selected: list[Block]) -> list[str]:
    return [block.id for block in selected]


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer(api_keys={KEY}) as running:
        yield running


@pytest.fixture(scope="module")
def idc(
    server: TCIATestServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    """IDC for the pages' IDC examples: a local S3 (moto) holding two of RIDER Lung PET-CT's
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
def docs_env(
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


@pytest.fixture(scope="module")
def codegen_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pages' `python -m codegen` commands run in a copy of the checkout, so a
    regeneration they show never rewrites the checked-in code."""
    return copy_checkout(tmp_path_factory.mktemp("codegen-project"))


def test_the_pages_have_only_blocks_this_test_knows() -> None:
    # bash blocks are Slurm scripts: tests/test_slurm.py runs them on a real cluster; text
    # blocks show an error message, and are checked where that message is made.
    assert {block.language for block in BLOCKS} <= {"python", "console", "yaml", "bash", "text"}
    assert len(blocks("bash")) == 1
    assert len(blocks("python")) >= 15
    assert {block.page for block in BLOCKS} >= {"README.md", "docs/queries.md", "docs/downloads.md"}


def test_quickstart_is_exactly_the_two_commands() -> None:
    first = BLOCKS[0]
    assert (first.page, first.language) == ("README.md", "console")
    assert first.body.splitlines() == ["$ make demo", "$ make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


@pytest.mark.parametrize("block", blocks("python"), ids=_ids(blocks("python")))
def test_python_block_runs(
    block: Block,
    docs_env: dict[str, str],
    server: TCIATestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nlst = 'server="nlst"' in block.body
    if nlst or any(call in block.body for call in NBIA_ONLY):
        monkeypatch.setenv("TCIA_API", "nbia-v4")
        where = "nlst" if nlst else None
        monkeypatch.setenv("TCIA_BASE_URL", server.base_url_for("nbia-v4", server=where))
    namespace: dict[str, Any] = {"__name__": f"docs_block_{block.number}"}
    exec(compile(block.body, block.id, "exec"), namespace)
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            value(tcia_server=server)


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_python_blocks_type_check(checker: str, tmp_path: Path) -> None:
    """The pages' examples are what users copy: mypy --strict and pyright must accept them."""
    for block in blocks("python"):
        name = block.id.replace("/", "_").replace(".md#", "_").replace(".", "_")
        (tmp_path / f"{name}.py").write_text(block.body)
    if checker == "mypy":
        command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "."]
    else:
        command = [str(BIN / "pyright"), "--pythonpath", sys.executable, "."]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _pip_install_names_real_extras(words: list[str]) -> None:
    """Installing from PyPI is the one command not run here: its extras must exist."""
    (requirement,) = [w for w in words[2:] if not w.startswith("-")]
    name, _, extras = requirement.partition("[")
    assert name == "tcia-models"
    assert set(extras.rstrip("]").split(",")) <= set(EXTRAS), requirement


def _run(
    command: str, env: dict[str, str], codegen_project: Path
) -> subprocess.CompletedProcess[str]:
    words = shlex.split(os.path.expandvars(command))
    if words[0] == "make":  # the Makefile's own targets: check they exist and resolve
        words = ["make", "-n", "-C", str(ROOT), *words[1:]]
        cwd: Path | None = ROOT
    elif words[:3] == ["python", "-m", "codegen"]:
        words[0], cwd = sys.executable, codegen_project
    else:
        cwd = None
    return subprocess.run(words, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.mark.parametrize("block", blocks("console"), ids=_ids(blocks("console")))
def test_console_block_runs(block: Block, docs_env: dict[str, str], codegen_project: Path) -> None:
    commands = [line[2:] for line in block.body.splitlines() if line.startswith("$ ")]
    assert commands
    for command in commands:
        if command.startswith("pip install "):
            _pip_install_names_real_extras(shlex.split(command))
            continue
        result = _run(command, docs_env, codegen_project)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"


def test_the_codegen_commands_leave_the_checkout_alone(
    docs_env: dict[str, str], codegen_project: Path
) -> None:
    """codegen swaps in a whole new output directory each run: in the checkout, the
    directories would be new ones."""
    outputs = [ROOT / "src" / "tcia_models" / "_generated", ROOT / "docs" / "reference"]
    before = [output.stat().st_ino for output in outputs]
    in_copy = codegen_project / "src" / "tcia_models" / "_generated"
    copy_before = in_copy.stat().st_ino
    result = _run("python -m codegen", docs_env, codegen_project)
    assert result.returncode == 0, result.stderr
    assert [output.stat().st_ino for output in outputs] == before
    assert in_copy.stat().st_ino != copy_before


def test_github_actions_example_runs_its_tcia_steps(
    docs_env: dict[str, str], codegen_project: Path
) -> None:
    (workflow,) = [b.body for b in blocks("yaml") if "jobs:" in b.body]
    steps = yaml.safe_load(workflow)["jobs"]["drift"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    _pip_install_names_real_extras(shlex.split(runs[0]))
    tcia_steps = [run for run in runs if run.startswith("tcia ")]
    assert tcia_steps
    for run in tcia_steps:
        result = _run(run, docs_env, codegen_project)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No drift" in result.stdout


def test_the_kubernetes_indexed_job_splits_the_manifest_once(
    docs_env: dict[str, str], server: TCIATestServer, tmp_path: Path
) -> None:
    """No Kubernetes here: the Job spec is checked as Kubernetes reads it, and its command is run
    once per completion index with what Kubernetes would set (JOB_COMPLETION_INDEX)."""
    (spec,) = [yaml.safe_load(b.body) for b in blocks("yaml") if "kind: Job" in b.body]
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
        env = {**docs_env, "JOB_COMPLETION_INDEX": str(index), "TCIA_SHARD_COUNT": count}
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
