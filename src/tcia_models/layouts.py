"""Folder layouts for downloads: where each series lands under ``dest``.

A layout is a template over the series' fields, ``{Collection}/{PatientID}/{SeriesInstanceUID}``
for instance. Values come from the archive, so each is made a safe path part first: separators,
``..``, control characters and the characters Windows refuses become ``_``; long values are cut
and given a short hash of the whole, so the part stays unique and the same on every run; a
missing value is ``NA`` (as the archive's Data Retriever writes it). Two series that would land
in one folder each get the end of their UID appended, and nothing can leave ``dest``.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ._exceptions import InvalidParameterError

__all__ = ["LAYOUTS", "Layout", "safe_part"]

LAYOUTS: Mapping[str, str] = {
    "uid": "{SeriesInstanceUID}",
    "nbia-classic": "{Collection}/{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}",
    "nbia-descriptive": (
        "{Collection}/{PatientID}/{StudyDate}-{StudyDesc}-{StudyInstanceUID:last5}/"
        "{SeriesNumber}-{SeriesDescription}-{SeriesInstanceUID:last5}"
    ),
    "patient-study-series": "{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}",
}
"""Named layouts: ``uid`` (the default), the archive's Data Retriever's classic and descriptive
trees, and the TCIA Go retriever's."""

_MAX_PART = 100
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\<>:"|?*\u2028\u2029\u202a-\u202e\u2066-\u2069]')
MISSING = "NA"


def safe_part(value: str) -> str:
    """``value`` as one folder name that is the same on every system and run."""
    part = _UNSAFE.sub("_", value).strip().strip(".")
    if part in ("", ".", ".."):
        part = "_" if value else MISSING
    if len(part) > _MAX_PART:
        digest = hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()[:8]
        part = part[: _MAX_PART - 9].rstrip() + "~" + digest
    return part


class _Formatter(string.Formatter):
    """``{Field}`` and ``{Field:last5}``; a value the row lacks is ``NA``."""

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        value = kwargs.get(str(key))
        return MISSING if value is None or value == "" else value

    def format_field(self, value: Any, format_spec: str) -> str:
        text = value.isoformat() if hasattr(value, "isoformat") else str(value)
        if format_spec.startswith("last") and format_spec[4:].isdigit():
            return text[-int(format_spec[4:]) :]
        if format_spec:
            return format(value, format_spec)
        return text


@dataclass(frozen=True)
class Layout:
    """A template, by name (``LAYOUTS``) or written out, over a series' fields."""

    template: str = LAYOUTS["uid"]

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", LAYOUTS.get(self.template, self.template))
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(self.template) if field]
        except ValueError as error:
            raise InvalidParameterError(f"layout {self.template!r}: {error}") from None
        if not fields:
            raise InvalidParameterError(
                f"layout {self.template!r} names no field; use e.g. {{SeriesInstanceUID}} or one "
                f"of {', '.join(LAYOUTS)}"
            )
        if self.template.startswith("/") or ".." in self.template.split("/"):
            raise InvalidParameterError(f"layout {self.template!r} must stay below dest")

    @property
    def fields(self) -> list[str]:
        return [field for _, field, _, _ in string.Formatter().parse(self.template) if field]

    def path_for(self, row: Mapping[str, Any]) -> PurePosixPath:
        """The series' folder, relative to dest: each template part formatted, then made safe."""
        formatter = _Formatter()
        parts: list[str] = []
        for template_part in self.template.split("/"):
            if not template_part:
                continue
            try:
                text = formatter.vformat(template_part, (), row)
            except (ValueError, TypeError, KeyError) as error:
                raise InvalidParameterError(
                    f"layout {self.template!r}: {template_part!r}: {error}"
                ) from None
            parts.append(safe_part(text))
        return PurePosixPath(*parts)

    def paths_for(self, rows: Iterable[Mapping[str, Any]]) -> dict[str, PurePosixPath]:
        """Each series' folder, by SeriesInstanceUID. Where two series would share a folder (or
        one's folder would hold another's), each gets the end of its UID appended (all of it,
        should the ends agree too). The whole list decides, so every shard of it decides alike."""
        base = {str(row["SeriesInstanceUID"]): self.path_for(row) for row in rows}
        paths = dict(base)
        for suffix in (12, None):
            by_path: dict[PurePosixPath, list[str]] = defaultdict(list)
            for uid, path in paths.items():
                by_path[path].append(uid)
            prefixes = {parent for path in paths.values() for parent in path.parents}
            clashing = [
                uid
                for path, uids in by_path.items()
                if len(uids) > 1 or path in prefixes
                for uid in uids
            ]
            if not clashing:
                break
            for uid in clashing:
                end = uid[-suffix:] if suffix else uid
                paths[uid] = base[uid].with_name(safe_part(f"{base[uid].name}-{end}"))
        return paths
