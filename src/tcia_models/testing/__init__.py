"""A TCIA-compatible HTTP server for your tests: ``TCIATestServer``.

It speaks TCIA's REST API over real HTTP on loopback, with the test data of TCIA's usage guide
(or your own ``Dataset``), ``getImage`` ZIPs of real DICOM files (``pip install
'tcia-models[testing]'`` for pydicom), injectable faults and latency/bandwidth shaping.
"""

from .dataset import Dataset, ImageShape
from .faults import Fault
from .server import (
    DEFAULT_PATH,
    RecordedRequest,
    TCIATestServer,
    snapshot_documents,
    write_metadata,
)

__all__ = [
    "DEFAULT_PATH",
    "Dataset",
    "Fault",
    "ImageShape",
    "RecordedRequest",
    "TCIATestServer",
    "snapshot_documents",
    "write_metadata",
]
