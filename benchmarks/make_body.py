"""A getSeries response of N rows, as the bundled server writes it: ``make_body.py N FMT PATH``."""

from __future__ import annotations

import sys
from pathlib import Path

from tcia_models._metadata import packaged_metadata
from tcia_models.testing import Dataset
from tcia_models.testing.formats import WRITERS


def main() -> None:
    count, format, path = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    document = packaged_metadata().documents["getSeries"]
    columns = [(a["name"], a["type"]) for a in document["attributes"]]
    names = [name for name, _ in columns]
    guide = [{k: v for k, v in row.items() if k in names} for row in Dataset.guide().series_rows()]
    rows = []
    for index in range(count):
        row = dict(guide[index % len(guide)])
        row["SeriesInstanceUID"] = f"1.2.826.0.1.3680043.10.1404.3.{index}"
        rows.append(row)
    path.write_bytes(WRITERS[format](rows, columns))


if __name__ == "__main__":
    main()
