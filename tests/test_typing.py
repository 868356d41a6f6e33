"""Type checkers see the generated API: a correct program passes, a wrong one is flagged."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = """
import asyncio
import datetime

from tcia_models import AsyncTCIAClient, DownloadResult, Series, SeriesSize, TCIAClient, dicom_tags


def cohort_bytes(tcia: TCIAClient) -> int:
    series: list[Series] = tcia.get_series(collection="TCGA-GBM", modality="MR", format="csv")
    sizes: list[SeriesSize] = [tcia.get_series_size(series_instance_uid=s.SeriesInstanceUID) for s in series]
    first_date: datetime.date | None = series[0].SeriesDate
    count: int | None = series[0].ImageCount
    del first_date, count
    return sum(size.TotalSizeInBytes or 0 for size in sizes)  # absent for a series without images


def fetch(tcia: TCIAClient, uid: str) -> DownloadResult:
    return tcia.download_series(uid, "data/", progress=True)


async def many(uids: list[str]) -> int:
    async with AsyncTCIAClient() as tcia:
        outcomes = await tcia.download_many(uids, "data/", concurrency=8)
        studies = await tcia.get_patient_study(collection="TCGA-GBM")
        return len([o for o in outcomes if o.ok]) + len(studies)


tag: int = dicom_tags(Series)["Modality"]
asyncio.run(many([]))
"""

BAD = """
from tcia_models import TCIAClient

tcia = TCIAClient()
size = tcia.get_series_size()
count: str = tcia.get_series(collection="X")[0].ImageCount
tcia.get_series(colection="X")
tcia.contents_by_name(name="x", format="csv")
"""


def _write(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "program.py"
    path.write_text(source)
    return path


def _mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=300,
    )


def _pyright(path: Path) -> subprocess.CompletedProcess[str]:
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent))
    assert pyright, "pyright is a dev dependency"
    return subprocess.run(
        [pyright, "--pythonpath", sys.executable, str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=300,
    )


@pytest.mark.parametrize("checker", [_mypy, _pyright], ids=["mypy", "pyright"])
def test_a_correct_program_type_checks(tmp_path: Path, checker) -> None:  # type: ignore[no-untyped-def]
    result = checker(_write(tmp_path, GOOD))
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_flags_the_mistakes(tmp_path: Path) -> None:
    output = _mypy(_write(tmp_path, BAD)).stdout
    assert 'program.py:5: error: Missing named argument "series_instance_uid"' in output
    assert (
        'program.py:6: error: Incompatible types in assignment (expression has type "int | None"'
        in output
    )
    assert 'program.py:7: error: Unexpected keyword argument "colection"' in output
    assert 'program.py:8: error: Argument "format"' in output


def test_pyright_flags_the_mistakes(tmp_path: Path) -> None:
    output = _pyright(_write(tmp_path, BAD)).stdout
    assert 'program.py:5:8 - error: Argument missing for parameter "series_instance_uid"' in output
    assert (
        'program.py:6:14 - error: Type "int | None" is not assignable to declared type "str"'
        in output
    )
    assert 'program.py:7:17 - error: No parameter named "colection"' in output
    assert "program.py:8:40 - error: Argument of type \"Literal['csv']\"" in output
