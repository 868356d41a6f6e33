"""Where metadata documents come from: the checked-in snapshot, or a TCIA server."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codegen.errors import CodegenError

Documents = dict[str, Any]
"""Query name -> the document as parsed JSON (not yet validated)."""


def read_snapshot(directory: Path) -> Documents:
    """Every ``<query>.json`` under ``directory``, keyed by file stem, in name order."""
    documents: Documents = {}
    for path in sorted(directory.glob("*.json")):
        try:
            documents[path.stem] = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as error:
            raise CodegenError(f"{path.stem}: {path} is not valid JSON: {error}") from None
    if not documents:
        raise CodegenError(f"no metadata documents (*.json) in {directory}")
    return documents


def fetch(
    api: str, base_url: str, queries: list[str], *, api_key: str | None, timeout: float = 30.0
) -> Documents:
    """GET ``{base_url}/{query}/metadata`` for every query, through the package's own client
    (the same one ``tcia drift`` uses: retries, and the key sent only to its origin)."""
    from tcia_models.drift import DriftCheckError, fetch_metadata

    try:
        return fetch_metadata(api, base_url, api_key, queries, timeout)[1]
    except DriftCheckError as error:
        raise CodegenError(str(error)) from None


def serialize_document(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def lock_file(source: str, fetched_on: str, documents: Mapping[str, Any]) -> str:
    """Where the snapshot came from, with a hash per document."""
    hashes = {
        name: hashlib.sha256(serialize_document(document).encode()).hexdigest()
        for name, document in sorted(documents.items())
    }
    return serialize_document({"source": source, "fetched": fetched_on, "sha256": hashes})
