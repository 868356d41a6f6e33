"""The peers' own calls against a bundled server: ``python peer_calls.py ORIGIN DEST``.

Run with the interpreter of the peers' venv (``.venv-bench``): nbiatoolkit pins pydicom < 3.
Prints one JSON object of what each peer got.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import peers


def main() -> None:
    origin, dest = sys.argv[1], Path(sys.argv[2])
    results: dict[str, object] = {}

    nbia = peers.tcia_utils_nbia(origin)
    series = nbia.getSeries(collection="RIDER Lung PET-CT")
    results["tcia_utils"] = {
        "collections": len(nbia.getCollections()),
        "series": sorted(s["SeriesInstanceUID"] for s in series),
        "size": nbia.getSeriesSize(series[0]["SeriesInstanceUID"])[0]["ObjectCount"],
        "patients": len(nbia.getPatient(collection="TCGA-KIRC")),
    }
    nbia.downloadSeries(
        [s["SeriesInstanceUID"] for s in series], input_type="list", path=str(dest / "tcia_utils")
    )

    toolkit = peers.nbiatoolkit_client(origin)
    rows = toolkit.getSeries(Collection="RIDER Lung PET-CT")
    results["nbiatoolkit"] = {
        "collections": len(toolkit.getCollections()),
        "series": sorted(s["SeriesInstanceUID"] for s in rows),
        "studies": len(toolkit.getStudies(Collection="BREAST-DIAGNOSIS")),
        "download_ok": toolkit.downloadSeries(
            rows[0]["SeriesInstanceUID"], downloadDir=str(dest / "nbiatoolkit")
        ),
    }

    client = peers.tciaclient_client(origin)
    results["tciaclient"] = {
        "collections": len(client.get_collection_values()),
        "size": client.get_series_size(series[0]["SeriesInstanceUID"])[0]["ObjectCount"],
    }
    client.get_image(series[0]["SeriesInstanceUID"], str(dest), "tciaclient.zip")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
