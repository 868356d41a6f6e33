"""The IDC benchmark's servers, in a process of their own (run from the development venv): the
bundled TCIA server and a local S3 (moto) holding the same synthetic series as IDC lays them
out, with an index of them in IDC's schema.

    python idc_world.py SERIES IMAGES SIZE SCRATCH

Prints one JSON line (base URL, S3 endpoint, index path, UIDs, moto's RSS once seeded) when all
is ready, and serves until its standard input closes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tcia_models.testing import Dataset, ImageShape, TCIATestServer
from tcia_models.testing.idc import publish, write_index
from tcia_models.testing.s3 import S3TestServer


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    series, images, size, scratch = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]),
        Path(sys.argv[4]),
    )
    dataset = Dataset.synthetic(
        series_count=series, images_per_series=images, image_shape=ImageShape(size, size)
    )
    with TCIATestServer(dataset=dataset, prewarm=True) as tcia, S3TestServer() as s3:
        uids = [str(row["SeriesInstanceUID"]) for row in dataset.series]
        started = time.perf_counter()
        rows = publish(tcia, s3, uids)
        seeded = time.perf_counter() - started
        index = write_index(scratch / "idc_index.parquet", rows)
        process = s3._process  # pyright: ignore[reportPrivateUsage]
        assert process is not None
        print(
            json.dumps(
                {
                    "base_url": tcia.base_url_for("nbia-v4"),
                    "origin": tcia.origin,
                    "endpoint": s3.endpoint_url,
                    "index": str(index),
                    "uids": uids,
                    "seed_seconds": seeded,
                    "moto_rss_mb": _rss_mb(process.pid),
                    "bytes": sum(round(r["series_size_MB"] * 1e6) for r in rows),
                    "urls": [r["series_aws_url"] for r in rows],
                }
            ),
            flush=True,
        )
        sys.stdin.read()


if __name__ == "__main__":
    main()
