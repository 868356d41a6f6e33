"""Drift check: does a TCIA server's metadata still match what these models were generated from?

``tcia drift`` runs this; a user's CI can too: ``check_drift(base_url)`` fetches every query's
``/metadata``, validates it against the schema the installed package carries, and compares it
with the installed package's own snapshot.
"""

from __future__ import annotations

import datetime
import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import AuthenticationError, NotFoundError, TCIAError
from ._generated.queries import QUERIES
from ._metadata import (
    QueryDrift,
    compare_documents,
    format_drift,
    packaged_metadata,
    schema_problems,
)
from ._model import TCIAModel
from ._request import display_url
from ._specs import QuerySpec

__all__ = [
    "DriftCheckError",
    "DriftReport",
    "ResponseDrift",
    "ResponseReport",
    "check_drift",
    "check_responses",
]


class DriftCheckError(TCIAError):
    """The check itself could not run: the server is unreachable, refused us, or sent documents
    that break the metadata schema."""


@dataclass(frozen=True)
class DriftReport:
    base_url: str
    drifts: list[QueryDrift] = field(default_factory=list[QueryDrift])

    @property
    def drifted(self) -> bool:
        return bool(self.drifts)

    @property
    def update_command(self) -> str:
        """What regenerates the models from this server's metadata (in a tcia-models checkout)."""
        return f"python -m codegen --base-url {shlex.quote(self.base_url)}"

    def as_text(self) -> str:
        head = f"Metadata at {self.base_url} compared with the installed models:"
        text = f"{head}\n{format_drift(self.drifts)}"
        if self.drifted:
            text += f"\n\nTo update the models from this server, run: {self.update_command}"
        return text

    def as_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "base_url": self.base_url,
            "drift": self.drifted,
            "queries": [drift.as_dict() for drift in self.drifts],
        }
        if self.drifted:
            report["update_command"] = self.update_command
        return report


def metadata_generation(generations: Mapping[str, Any]) -> str:
    """The generation that serves ``/metadata`` documents (the original API)."""
    return next(name for name, g in generations.items() if g.get("servesMetadata", False))


def check_drift(
    base_url: str | None = None, *, api_key: str | None = None, timeout: float = 30.0
) -> DriftReport:
    """Compare the server's metadata with the packaged snapshot; raise ``DriftCheckError`` when
    the comparison cannot be made."""
    packaged = packaged_metadata()
    api = metadata_generation(packaged.generations["generations"])
    # NBIA has no /metadata: its queries' documents are checked with `tcia drift --responses`.
    served = {
        name: document
        for name, document in packaged.documents.items()
        if api in (document.get("generations") or {api: {}})
    }
    base, fetched = fetch_metadata(api, base_url, api_key, list(served), timeout)
    problems = [
        problem
        for query, document in fetched.items()
        for problem in schema_problems(document, packaged.schema, query=query)
    ]
    if problems:
        raise DriftCheckError(
            "the server's metadata breaks the schema, so it cannot be compared:\n  "
            + "\n  ".join(problems)
        )
    return DriftReport(base, compare_documents(served, fetched))


def fetch_metadata(
    api: str, base_url: str | None, api_key: str | None, queries: list[str], timeout: float
) -> tuple[str, dict[str, Any]]:
    """``{base_url}/{query}/metadata`` of every query, through the client (so the key goes only
    to its origin, and errors are ours); a query the server no longer has is left out."""
    from ._sync.client import TCIAClient

    documents: dict[str, Any] = {}
    try:
        with TCIAClient(
            api=api,  # type: ignore[arg-type]
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=1,
        ) as tcia:
            base = display_url(tcia.base_url).rstrip("/")
            for query in queries:
                try:
                    body = tcia.raw(f"{query}/metadata")
                except NotFoundError:
                    continue  # the query is gone: reported as removed
                try:
                    documents[query] = json.loads(body)
                except ValueError:
                    raise DriftCheckError(
                        f"{query}: the metadata is not JSON; check --base-url", query=query
                    ) from None
    except DriftCheckError:
        raise
    except AuthenticationError as error:
        raise DriftCheckError(
            f"{error.message} (--api-key or TCIA_API_KEY)", query=error.query, status=error.status
        ) from None
    except TCIAError as error:
        raise DriftCheckError(error.message, query=error.query, status=error.status) from None
    if not documents:
        raise DriftCheckError(f"no query answered at {base}/<query>/metadata; check --base-url")
    return base, documents


@dataclass(frozen=True)
class ResponseDrift:
    """What one query's rows held that the model does not describe, or lacked."""

    query: str
    rows: int
    unknown_keys: list[str]
    never_seen: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "rows": self.rows,
            "unknown_keys": self.unknown_keys,
            "never_seen": self.never_seen,
        }


@dataclass(frozen=True)
class ResponseReport:
    api: str
    base_url: str
    queries: list[ResponseDrift]
    skipped: list[str]

    @property
    def drifted(self) -> bool:
        return any(query.unknown_keys for query in self.queries)

    def as_text(self) -> str:
        lines = [f"Responses of {self.api} at {self.base_url} compared with the installed models:"]
        for query in self.queries:
            unknown = ", ".join(query.unknown_keys) or "none"
            lines.append(
                f"{query.query} ({query.rows} rows): keys the models do not know: {unknown}"
            )
            if query.never_seen:
                lines.append(f"  fields never seen: {', '.join(query.never_seen)}")
        if self.skipped:
            lines.append(f"not run (no sample arguments): {', '.join(self.skipped)}")
        lines.append("Drift: keys the models do not know." if self.drifted else "No unknown keys.")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "base_url": self.base_url,
            "drift": self.drifted,
            "queries": [query.as_dict() for query in self.queries],
            "skipped": self.skipped,
        }


def check_responses(
    api: str | None = None,
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> ResponseReport:
    """Run one small query per list query and compare the rows' keys with the models.

    For generations without ``/metadata`` (NBIA): the response itself is the only evidence.
    Sample arguments come from earlier answers (the first collection, series, modality, ...).
    """
    from ._sync.client import TCIAClient

    with TCIAClient(
        api=api,  # type: ignore[arg-type]
        base_url=base_url,
        api_key=api_key,
        username=username,
        password=password,
    ) as tcia:
        documents = packaged_metadata().documents
        samples: dict[str, Any] = {
            "date": datetime.date(2000, 1, 1),
            "from_date": datetime.date(2000, 1, 1),
        }
        drifts: list[ResponseDrift] = []
        skipped: list[str] = []
        for spec in _by_dependency(QUERIES.values()):
            if spec.model is None or spec.single_row or spec.wire(tcia.api) is None:
                continue
            needed = [p.python_name for p in spec.parameters if p.required]
            if any(name not in samples for name in needed):
                skipped.append(spec.name)
                continue
            arguments = {name: samples[name] for name in needed}
            if "collection" in {p.python_name for p in spec.parameters} and "collection" in samples:
                arguments["collection"] = samples["collection"]  # keep every answer small
            rows = getattr(tcia, spec.method_name)(**arguments)
            drifts.append(_row_drift(spec.name, _sent_by(documents[spec.name], tcia.api), rows))
            _remember(samples, rows)
        return ResponseReport(tcia.api, tcia.base_url, drifts, skipped)


def _by_dependency(specs: Iterable[QuerySpec[Any]]) -> list[QuerySpec[Any]]:
    """Queries without required parameters first, so later ones can use their answers."""
    return sorted(specs, key=lambda spec: (len(spec.required), spec.name))


def _sent_by(document: Mapping[str, Any], api: str) -> list[str]:
    """The attributes the metadata says ``api`` sends for this query."""
    generations: Mapping[str, Any] = document.get("generations") or {"bindaas": {}}
    offered = list(generations)
    return [a["name"] for a in document["attributes"] if api in a.get("generations", offered)]


def _row_drift(query: str, expected: list[str], rows: list[TCIAModel]) -> ResponseDrift:
    unknown = sorted({str(key) for row in rows for key in (row.model_extra or {})})
    never = sorted(
        name for name in expected if rows and all(getattr(row, name) is None for row in rows)
    )
    return ResponseDrift(query, len(rows), unknown, never)


_SAMPLE_FIELDS = {
    "Collection": "collection",
    "SeriesInstanceUID": "series_instance_uid",
    "SOPInstanceUID": "sop_instance_uid",
    "Modality": "modality",
    "PatientID": "patient_id",
}


def _remember(samples: dict[str, Any], rows: list[Any]) -> None:
    for row in rows[:1]:
        for name, argument in _SAMPLE_FIELDS.items():
            value = getattr(row, name, None)
            if value is not None:
                samples.setdefault(argument, value)
    series = samples.get("series_instance_uid")
    if series is not None:  # the same series, as getDicomTags and v4's bulk metadata take it
        samples.setdefault("series_uid", series)
        samples.setdefault("series_instance_uids", [series])
