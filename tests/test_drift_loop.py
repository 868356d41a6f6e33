"""The drift loop over real HTTP, in a copy of the checkout: the bundled server serves drifted
metadata for one query -> ``tcia drift`` exits 1 and names the command that updates the models
-> ``python -m codegen --base-url`` regenerates -> ``--check`` is clean -> the new attribute is
a typed field of the regenerated package, and ``tcia drift`` against the same server is clean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tcia_models.testing import TCIATestServer

from .conftest import ROOT, copy_checkout, run_codegen

BIN = Path(sys.executable).parent


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the checkout with the whole package, so the regenerated code can be imported
    (the real src/tcia_models/_generated is never rewritten)."""
    return copy_checkout(tmp_path / "checkout")


def _drifted_metadata(checkout: Path, target: Path) -> Path:
    """The snapshot with getSeries alone changed, as an API drifts: a column added."""
    shutil.copytree(checkout / "schema" / "metadata", target)
    path = target / "getSeries.json"
    document = json.loads(path.read_text())
    document["attributes"].append(
        {
            "name": "SliceThickness",
            "dicomTag": "0018 0050",
            "description": "Nominal slice thickness, in mm.",
            "type": "number",
        }
    )
    path.write_text(json.dumps(document, indent=2))
    return target


def _run(
    words: list[str], *, cwd: Path | None = None, package: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if package is not None:  # the copy's package first: what the user has after regenerating
        env["PYTHONPATH"] = str(package)
    return subprocess.run(
        words, capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False
    )


def test_drift_in_one_query_is_reported_regenerated_and_typed(
    checkout: Path, tmp_path: Path
) -> None:
    served = _drifted_metadata(checkout, tmp_path / "served")
    before = (ROOT / "src/tcia_models/_generated/series.py").read_text()
    with TCIATestServer(metadata_dir=served) as server:
        url = server.base_url
        drift = _run([str(BIN / "tcia"), "drift", "--base-url", url])
        assert drift.returncode == 1, drift.stdout + drift.stderr
        assert "getSeries:\n  attribute SliceThickness added: tag '0018 0050'; type 'number'" in (
            drift.stdout
        )
        assert "ContentsByName" not in drift.stdout  # reported per query: only getSeries drifted
        assert drift.stdout.rstrip().endswith(f"python -m codegen --base-url {url}")

        check = run_codegen(checkout, "--base-url", url, "--check")
        assert check.returncode == 1, check.stderr
        assert "attribute SliceThickness added" in check.stdout

        update = run_codegen(checkout, "--base-url", url)
        assert update.returncode == 0, update.stderr
        assert f"wrote the snapshot from {url}" in update.stdout
        assert run_codegen(checkout, "--check").returncode == 0
        assert run_codegen(checkout, "--base-url", url, "--check").returncode == 0

        package = checkout / "src"
        after = _run([str(BIN / "tcia"), "drift", "--base-url", url], package=package)
        assert after.returncode == 0, after.stdout + after.stderr
        assert "No drift" in after.stdout

    typed = _run(
        [
            sys.executable,
            "-c",
            "import tcia_models, sys\n"
            "from tcia_models import Series, QUERIES\n"
            f"assert tcia_models.__file__.startswith({str(package)!r}), tcia_models.__file__\n"
            "field = Series.model_fields['SliceThickness']\n"
            "assert field.annotation == float | None, field.annotation\n"
            'row = Series.model_validate_json(\'{"SeriesInstanceUID": "1.2", '
            '"SliceThickness": "2.5"}\')\n'
            "assert row.SliceThickness == 2.5 and row.model_extra == {}, row\n"
            "assert 'SliceThickness' in QUERIES['getSeries'].attributes\n"
            "assert 'SliceThickness' not in QUERIES['getUpdatedSeries'].attributes\n",
        ],
        cwd=tmp_path,
        package=package,
    )
    assert typed.returncode == 0, typed.stdout + typed.stderr
    # The real checkout was not touched.
    assert (ROOT / "src/tcia_models/_generated/series.py").read_text() == before
    assert "SliceThickness" not in before
