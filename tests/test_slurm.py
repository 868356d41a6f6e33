"""The downloads page's Slurm array script, run on a real single-node Slurm cluster against the bundled
server: every series is downloaded exactly once, and a rerun of the array downloads nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tcia_models import TCIAClient, write_manifest
from tcia_models.testing import TCIATestServer

from .docs_blocks import blocks
from .slurm import slurm_cluster

SCRIPTS = [block.body for block in blocks("bash")]


def _archive_requests(server: TCIATestServer, since: int = 0) -> list[str]:
    return [
        r.params["SeriesInstanceUID"]
        for r in server.requests[since:]
        if r.path.endswith(("/getImage", "/getImageWithMD5Hash"))
    ]


def test_the_documented_array_script_downloads_every_series_exactly_once(tmp_path: Path) -> None:
    (script,) = SCRIPTS
    assert "--shard auto" in script and "#SBATCH --array=" in script
    with TCIATestServer() as server, slurm_cluster() as environment:
        base = server.base_url_for("nbia-v4")
        with TCIAClient(base_url=base) as tcia:
            uids = [row.SeriesInstanceUID for row in tcia.get_series()]
        write_manifest(tmp_path / "rider.tcia", uids)  # the script's manifest: every series
        (tmp_path / "tcia-download.sh").write_text(script)
        environment |= {
            "PATH": f"{Path(sys.executable).parent}:{environment['PATH']}",
            "TCIA_BASE_URL": base,
            "TCIA_API": "nbia-v4",
        }

        def run_array() -> None:
            result = subprocess.run(
                ["sbatch", "--wait", f"--chdir={tmp_path}", "tcia-download.sh"],
                cwd=tmp_path,
                env=environment,
                capture_output=True,
                text=True,
                timeout=300,
            )
            logs = {p.name: p.read_text() for p in tmp_path.glob("tcia-download-*.log")}
            assert result.returncode == 0, (result.stdout, result.stderr, logs)

        run_array()
        assert sorted(_archive_requests(server)) == sorted(uids)  # each once, by one task
        logs = sorted(tmp_path.glob("tcia-download-*.log"))
        assert len(logs) == 4
        assert all("(shard " in log.read_text() for log in logs)
        assert len(list((tmp_path / "data").glob("*/*/*/*"))) == len(uids)  # nbia-classic
        before = len(server.requests)
        run_array()  # idempotent: a second run finds everything complete
        assert _archive_requests(server, before) == []
