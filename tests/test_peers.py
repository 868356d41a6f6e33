"""TCIA's existing clients run unmodified against the bundled server (over real HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tcia_models.testing import TCIATestServer

from .conftest import ROOT

PEERS_PYTHON = Path(os.environ.get("TCIA_PEERS_PYTHON", ROOT / ".venv-bench" / "bin" / "python"))
RIDER_LUNG = sorted(
    [
        "1.3.6.1.4.1.9328.50.1.7.109790496340142304700741635171089234345",
        "1.3.6.1.4.1.9328.50.1.7.209366194844802036292714836428653144268",
        "1.3.6.1.4.1.9328.50.1.7.23371440247832824408105272699654489729",
    ]
)


@pytest.mark.skipif(
    not PEERS_PYTHON.exists(),
    reason="the peers' venv is missing: run `make test`, which installs it",
)
def test_tcia_utils_nbiatoolkit_and_tciaclient_run_unmodified(tmp_path: Path) -> None:
    with TCIATestServer(users={"nbia_guest": ""}) as server:
        result = subprocess.run(
            [
                str(PEERS_PYTHON),
                str(ROOT / "tests" / "peer_calls.py"),
                server.origin,
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        token_grants = [r for r in server.requests if r.path.endswith("oauth/token")]
        v4_calls = [r for r in server.requests if r.path.startswith("/nbia-api/services/v4/")]
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["tcia_utils"] == {"collections": 15, "series": RIDER_LUNG, "size": 5, "patients": 1}
    assert got["nbiatoolkit"] == {
        "collections": 15,
        "series": RIDER_LUNG,
        "studies": 2,
        "download_ok": True,
    }
    assert got["tciaclient"] == {"collections": 15, "size": 5}
    assert token_grants and v4_calls  # nbiatoolkit logged in on v2; tcia_utils spoke v4
    assert sorted(p.name for p in (tmp_path / "tcia_utils").iterdir()) == RIDER_LUNG
    assert sum(1 for _ in (tmp_path / "nbiatoolkit").rglob("*.dcm")) == 5
    assert len(zipfile.ZipFile(tmp_path / "tciaclient.zip").namelist()) == 6
