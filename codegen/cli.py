"""``python -m codegen``: regenerate tcia_models._generated, or check that it is current."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import difflib
import json
import os
import shutil
import signal
import sys
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

from codegen.config import CodegenConfig
from codegen.errors import CodegenError
from codegen.reference import render_reference
from codegen.render import render
from codegen.sources import fetch, lock_file, read_snapshot, serialize_document
from codegen.transform import table_problems
from codegen.unasync import unasync_tree
from codegen.validate import offered_by, validate_documents
from tcia_models._metadata import compare_documents, format_drift
from tcia_models.drift import metadata_generation


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codegen",
        description="Generate tcia_models._generated from TCIA metadata documents "
        "(the snapshot under schema/metadata by default).",
    )
    parser.add_argument(
        "--base-url",
        help="fetch {BASE_URL}/{query}/metadata for every query from this server, "
        "and update the snapshot from it",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("TCIA_API_KEY"),
        help="API key for --base-url (default: $TCIA_API_KEY)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a report if the generated code is not current",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = CodegenConfig.load()
    with _terminate_like_interrupt():
        try:
            return _run(args, config)
        except KeyboardInterrupt:
            print("codegen: interrupted; nothing was changed", file=sys.stderr)
            return 130


@contextlib.contextmanager
def _terminate_like_interrupt() -> Generator[None]:
    """SIGTERM unwinds like Ctrl-C, so the staging directories are removed."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, config: CodegenConfig) -> int:
    try:
        schema = json.loads(config.schema_path.read_text("utf-8"))
        generations = json.loads(config.generations.read_text("utf-8"))
        generations_schema = json.loads(config.generations_schema.read_text("utf-8"))
        snapshot = read_snapshot(config.snapshot)
        documents = snapshot
        if args.base_url:
            # Only the original API serves /metadata: NBIA's documents stay as snapshotted.
            api = metadata_generation(generations["generations"])
            served = [q for q, document in snapshot.items() if api in offered_by(document)]
            fetched = fetch(api, args.base_url, served, api_key=args.api_key)
            documents = {**snapshot, **fetched}
        tables = json.loads(config.tables.read_text("utf-8"))
        validate_documents(documents, schema, generations, generations_schema)
        problems = table_problems(documents, tables)
        if problems:
            raise CodegenError("invalid tables.json, nothing written:\n  " + "\n  ".join(problems))
        outputs = {
            config.output: render(documents, schema, generations, tables),
            config.sync_output: unasync_tree(config.async_source, config.root),
            config.reference: render_reference(documents, generations),
        }
    except CodegenError as error:
        print(f"codegen: {error}", file=sys.stderr)
        return 2
    if args.check:
        return _check(config, documents, outputs)
    if args.base_url:
        if documents == snapshot:
            print(f"codegen: the {len(documents)} documents at {args.base_url} match the snapshot")
        else:
            _write_snapshot(config, args.base_url, documents)
            print(f"codegen: wrote the snapshot from {args.base_url}")
    for output, files in outputs.items():
        _replace_directory(output, files)
        print(f"codegen: wrote {len(files)} files to {config.relative(output)}")
    return 0


def _checked_in(output: Path) -> dict[str, str]:
    if not output.is_dir():
        return {}
    return {
        path.relative_to(output).as_posix(): path.read_text("utf-8")
        for path in sorted(output.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _check(
    config: CodegenConfig, documents: Mapping[str, Any], outputs: Mapping[Path, Mapping[str, str]]
) -> int:
    stale = {output: files for output, files in outputs.items() if _checked_in(output) != files}
    if not stale:
        print("codegen: generated code is up to date")
        return 0
    if config.output in stale:
        generated_from: dict[str, Any] = {}
        with contextlib.suppress(KeyError, ValueError):
            current = _checked_in(config.output)
            generated_from = json.loads(current["metadata.json"])["documents"]
        print(f"codegen: {config.relative(config.output)} is out of date with the metadata.\n")
        print("What changed in the metadata since the code was generated:")
        print(format_drift(compare_documents(generated_from, documents)))
        print()
    if config.sync_output in stale:
        print(
            f"codegen: {config.relative(config.sync_output)} is out of date with "
            f"{config.relative(config.async_source)} (the sync client is generated from it).\n"
        )
    if config.reference in stale:
        print(
            f"codegen: {config.relative(config.reference)} (the documentation's model and query "
            "reference) is out of date with the metadata.\n"
        )
    for output, files in stale.items():
        location = config.relative(output)
        current = _checked_in(output)
        for name in sorted(set(current) | set(files)):
            old, new = current.get(name, ""), files.get(name, "")
            if old != new:
                sys.stdout.writelines(
                    difflib.unified_diff(
                        old.splitlines(keepends=True),
                        new.splitlines(keepends=True),
                        f"{location}/{name} (checked in)",
                        f"{location}/{name} (regenerated)",
                    )
                )
    print("\nRun `make codegen` (python -m codegen) to regenerate.")
    return 1


def _write_snapshot(config: CodegenConfig, base_url: str, documents: Mapping[str, Any]) -> None:
    files = {f"{name}.json": serialize_document(document) for name, document in documents.items()}
    _replace_directory(config.snapshot, files)
    fetched_on = datetime.datetime.now(datetime.UTC).date().isoformat()
    config.lock.write_text(lock_file(base_url, fetched_on, documents), "utf-8")


def _replace_directory(target: Path, files: Mapping[str, str]) -> None:
    """Swap in a complete new directory, so a failure never leaves a half-written one.

    The staging and retired directories have fixed names beside the target, so what a killed
    run left is found and removed by the next one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.codegen-staging")
    retired = target.with_name(f".{target.name}.codegen-old")
    if retired.exists() and not target.exists():
        retired.rename(target)  # a run killed between its two renames: put the old one back
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        staging.mkdir()
        for name, text in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
        if target.exists():
            target.rename(retired)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
