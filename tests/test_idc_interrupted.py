"""Downloads from IDC's buckets that are killed while s5cmd copies (issue 16): a rerun leaves
exactly what an uninterrupted run writes, byte for byte, and nothing else; s5cmd never outlives
``tcia``. The bucket sits behind a slow proxy, so each object takes seconds to arrive."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tcia_models.testing import Dataset, ImageShape, TCIATestServer
from tcia_models.testing.idc import publish, write_index
from tcia_models.testing.s3 import S3TestServer

from .throttle import ThrottledProxy

TCIA = str(Path(sys.executable).with_name("tcia"))
S5CMD_TEMPORARY = re.compile(r"\.dcm\d+$")  # s5cmd's <name><digits>, renamed when complete


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Six series of ten 128 kB images in the bucket, behind a proxy sending 50 kB/s per
    connection: each object takes about 2.6 s, so s5cmd is mid-copy for seconds."""
    dataset = Dataset.synthetic(
        series_count=6, images_per_series=10, image_shape=ImageShape(256, 256)
    )
    with TCIATestServer(dataset=dataset) as tcia, S3TestServer() as s3:
        uids = [str(row["SeriesInstanceUID"]) for row in dataset.series]
        index = write_index(
            tmp_path_factory.mktemp("idc") / "index.parquet", publish(tcia, s3, uids)
        )
        address = urlsplit(s3.endpoint_url)
        assert address.hostname and address.port
        with ThrottledProxy((address.hostname, address.port), 50_000) as slow:
            yield {"tcia": tcia, "s3": s3, "uids": uids, "index": index, "slow": slow.url}


def _tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``, hidden ones included, with a hash of each file."""
    return {
        path.relative_to(root).as_posix(): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
        )
        for path in sorted(root.rglob("*"))
    }


def _download(world: dict[str, object], out: Path, endpoint: str) -> subprocess.Popen[str]:
    tcia = world["tcia"]
    assert isinstance(tcia, TCIATestServer)
    uids = world["uids"]
    assert isinstance(uids, list)
    env = {
        **os.environ,
        "TCIA_BASE_URL": tcia.base_url_for("nbia-v4"),
        "TCIA_IDC_INDEX": str(world["index"]),
        "TCIA_IDC_ENDPOINT_URL": endpoint,
    }
    command = [TCIA, "download", *uids, "--out", str(out), "--source", "idc", "--no-progress"]
    return subprocess.Popen(
        [*command, "--idc-retries", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: killpg reaches s5cmd too
    )


def _finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout + stderr


def _s5cmd_processes(endpoint: str) -> list[int]:
    """Running s5cmd processes pointed at ``endpoint``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"s5cmd") and endpoint.encode() in argv:
            found.append(int(entry.name))
    return found


def _wait_for_temporary_files(out: Path, timeout: float = 30) -> list[str]:
    """s5cmd's files mid-copy (in the hidden staging folders), once there are some."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p.name for p in out.rglob("*") if S5CMD_TEMPORARY.search(p.name)]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("s5cmd wrote no temporary file in time")


@pytest.fixture(scope="module")
def reference(world: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    s3 = world["s3"]
    assert isinstance(s3, S3TestServer)
    out = tmp_path_factory.mktemp("reference")
    code, printed = _finish(_download(world, out, s3.endpoint_url))
    assert code == 0, printed
    tree = _tree(out)
    assert len([name for name in tree if "/" not in name]) == 6
    assert sum(name.endswith(".dcm") for name in tree) == 60
    return tree


def test_kill_9_of_everything_mid_copy_then_a_rerun_is_an_uninterrupted_run(
    world: dict[str, object], reference: dict[str, str], tmp_path: Path
) -> None:
    """``kill -9`` of the whole job (the OOM killer, a scheduler): tcia and s5cmd die at once,
    and s5cmd's temporary files stay behind, in the staging folders."""
    out = tmp_path / "out"
    process = _download(world, out, str(world["slow"]))
    temporary = _wait_for_temporary_files(out)
    os.killpg(process.pid, signal.SIGKILL)
    _finish(process, 30)
    left = _tree(out)
    assert temporary and any(S5CMD_TEMPORARY.search(name) for name in left)
    assert any(Path(name).parts[0].endswith(".tcia-partial") for name in left)
    s3 = world["s3"]
    assert isinstance(s3, S3TestServer)
    code, printed = _finish(_download(world, out, s3.endpoint_url))
    assert code == 0, printed
    assert _tree(out) == reference


def test_kill_9_of_tcia_stops_s5cmd_too(
    world: dict[str, object], reference: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    slow = str(world["slow"])
    process = _download(world, out, slow)
    _wait_for_temporary_files(out)
    assert _s5cmd_processes(slow)
    process.send_signal(signal.SIGKILL)  # tcia alone
    _finish(process, 30)
    # Each object takes 2.6 s and has just begun: an orphaned s5cmd would still be copying.
    deadline = time.monotonic() + 1.0
    while _s5cmd_processes(slow) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _s5cmd_processes(slow) == []  # not orphaned, copying on into a dead run's folders
    s3 = world["s3"]
    assert isinstance(s3, S3TestServer)
    code, printed = _finish(_download(world, out, s3.endpoint_url))
    assert code == 0, printed
    assert _tree(out) == reference


def test_sigterm_stops_s5cmd_and_removes_what_it_staged(
    world: dict[str, object], reference: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    slow = str(world["slow"])
    process = _download(world, out, slow)
    _wait_for_temporary_files(out)
    process.send_signal(signal.SIGTERM)
    code, printed = _finish(process, 60)
    assert code == 130 and "interrupted" in printed and "Traceback" not in printed, printed
    assert _s5cmd_processes(slow) == []
    left = _tree(out) if out.exists() else {}
    assert not [name for name in left if Path(name).name.startswith(".")]  # nothing partial
    for name, digest in left.items():  # what is there is complete
        assert reference[name] == digest
