"""Downloads that are killed, raced or found half-done on disk (issue 11): a rerun leaves exactly
the completed series, byte for byte what an uninterrupted run writes, and nothing else."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcia_models import TCIAClient
from tcia_models.testing import Dataset, ImageShape, TCIATestServer

TCIA = str(Path(sys.executable).with_name("tcia"))


@pytest.fixture(scope="module")
def slow_server() -> Iterator[TCIATestServer]:
    """Six series of about 100 kB, sent at 150 kB/s: each takes most of a second."""
    dataset = Dataset.synthetic(
        series_count=6, images_per_series=12, image_shape=ImageShape(64, 64)
    )
    with TCIATestServer(dataset=dataset, bandwidth=150_000, prewarm=True) as server:
        yield server


@pytest.fixture(scope="module")
def uids(slow_server: TCIATestServer) -> list[str]:
    with TCIAClient(api="bindaas", base_url=slow_server.base_url) as tcia:
        return [s.SeriesInstanceUID for s in tcia.get_series()]


def _tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``, hidden ones included, with a hash of each file."""
    return {
        path.relative_to(root).as_posix(): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
        )
        for path in sorted(root.rglob("*"))
    }


def _download(server: TCIATestServer, uids: list[str], out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [TCIA, "download", *uids, "--out", str(out), "--concurrency", "2", "--no-progress"],
        env={**os.environ, "TCIA_API": "bindaas", "TCIA_BASE_URL": server.base_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    """Wait for ``process`` (closing its pipes); its exit code and what it printed."""
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout + stderr


@pytest.fixture(scope="module")
def reference(
    slow_server: TCIATestServer, uids: list[str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reference")
    code, printed = _finish(_download(slow_server, uids, out))
    assert code == 0, printed
    tree = _tree(out)
    assert len([name for name in tree if "/" not in name]) == len(uids)
    return tree


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_a_random_moment_then_a_rerun_is_an_uninterrupted_run(
    slow_server: TCIATestServer,
    uids: list[str],
    reference: dict[str, str],
    tmp_path: Path,
    seed: int,
) -> None:
    moment = random.Random(seed).uniform(0.2, 2.5)
    out = tmp_path / "out"
    process = _download(slow_server, uids, out)
    time.sleep(moment)
    process.send_signal(signal.SIGKILL)
    _finish(process, 30)
    code, printed = _finish(_download(slow_server, uids, out))
    assert code == 0, (moment, printed)
    assert _tree(out) == reference, f"killed after {moment:.2f} s"


def test_sigterm_unwinds_like_ctrl_c(
    slow_server: TCIATestServer, uids: list[str], reference: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    process = _download(slow_server, uids, out)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    left = _tree(out) if out.exists() else {}
    assert not [name for name in left if Path(name).name.startswith(".")]  # nothing partial
    for name, digest in left.items():  # what is there is complete
        assert reference[name] == digest


def test_two_processes_on_one_series_one_downloads_the_other_sees_it_complete(
    slow_server: TCIATestServer, uids: list[str], reference: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first, second = _download(slow_server, uids[:1], out), _download(slow_server, uids[:1], out)
    outputs = [process.communicate(timeout=60) for process in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), outputs
    summaries = " ".join(stdout for stdout, _ in outputs)
    assert "Downloaded 1 series" in summaries and "1 already complete" in summaries
    assert _tree(out) == {k: v for k, v in reference.items() if k.split("/")[0] == uids[0]}


@pytest.mark.parametrize("state", ["empty", "partial", "a truncated file"])
def test_a_folder_that_is_not_complete_is_downloaded_again(
    slow_server: TCIATestServer,
    uids: list[str],
    reference: dict[str, str],
    tmp_path: Path,
    state: str,
) -> None:
    folder = tmp_path / uids[0]
    folder.mkdir()
    if state != "empty":
        (folder / "00000001.dcm").write_bytes(b"only part of it" if state != "partial" else b"")
    with TCIAClient(api="bindaas", base_url=slow_server.base_url) as tcia:
        result = tcia.download_series(uids[0], tmp_path)
    assert not result.skipped
    assert _tree(tmp_path) == {k: v for k, v in reference.items() if k.split("/")[0] == uids[0]}


def test_a_truncated_zip_left_in_dest_is_downloaded_again(
    slow_server: TCIATestServer, uids: list[str], tmp_path: Path
) -> None:
    with TCIAClient(api="bindaas", base_url=slow_server.base_url) as tcia:
        good = tcia.download_series(uids[0], tmp_path / "good", extract=False)
        damaged = tmp_path / "damaged" / good.path.name
        damaged.parent.mkdir()
        damaged.write_bytes(good.path.read_bytes()[:5000])
        again = tcia.download_series(uids[0], tmp_path / "damaged", extract=False)
    assert not again.skipped and again.path.read_bytes() == good.path.read_bytes()


@pytest.mark.parametrize(
    ("umask", "folder", "file"), [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)]
)
def test_files_and_folders_follow_the_umask(
    slow_server: TCIATestServer, uids: list[str], tmp_path: Path, umask: int, folder: int, file: int
) -> None:
    script = (
        "import os, sys; os.umask(int(sys.argv[1])); from tcia_models import TCIAClient; "
        "c = TCIAClient(api='bindaas', base_url=sys.argv[2]); "
        "c.download_series(sys.argv[3], sys.argv[4]); "
        "c.get_image(series_instance_uid=sys.argv[3], path=sys.argv[4] + '/one.zip')"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(umask), slow_server.base_url, uids[0], str(tmp_path)],
        check=True,
        timeout=60,
    )
    series = tmp_path / uids[0]
    assert series.stat().st_mode & 0o777 == folder
    assert {p.stat().st_mode & 0o777 for p in series.iterdir()} == {file}
    assert (tmp_path / "one.zip").stat().st_mode & 0o777 == file
