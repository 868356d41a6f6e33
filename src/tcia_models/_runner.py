"""What the generated query methods call: the client implements these with a transport."""

from __future__ import annotations

import abc
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._specs import ModelT, QuerySpec

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "AsyncQueryRunner",
    "AsyncTableFetch",
    "AsyncTableRunner",
    "SyncQueryRunner",
    "SyncTableRunner",
    "TableFetch",
]


class SyncQueryRunner(abc.ABC):
    @abc.abstractmethod
    def _run_rows(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: str
    ) -> list[ModelT]: ...

    @abc.abstractmethod
    def _run_one(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: str
    ) -> ModelT: ...

    @abc.abstractmethod
    def _run_to_file(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], path: str | os.PathLike[str]
    ) -> Path: ...

    @abc.abstractmethod
    def _iter_pages(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: str
    ) -> Iterator[ModelT]: ...


class AsyncQueryRunner(abc.ABC):
    @abc.abstractmethod
    async def _run_rows(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: str
    ) -> list[ModelT]: ...

    @abc.abstractmethod
    async def _run_one(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: str
    ) -> ModelT: ...

    @abc.abstractmethod
    async def _run_to_file(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], path: str | os.PathLike[str]
    ) -> Path: ...

    @abc.abstractmethod
    def _iter_pages(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: str
    ) -> AsyncIterator[ModelT]: ...


class SyncTableRunner(abc.ABC):
    """What the generated ``SyncTables`` call: the client supplies the transport."""

    @abc.abstractmethod
    def _run_table(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> pa.Table: ...


class AsyncTableRunner(abc.ABC):
    @abc.abstractmethod
    async def _run_table(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> pa.Table: ...


TableFetch = Callable[[QuerySpec[Any], Mapping[str, object], str], "pa.Table"]
"""A client's way to run a query into a table (its ``_run_table``)."""

AsyncTableFetch = Callable[[QuerySpec[Any], Mapping[str, object], str], Awaitable["pa.Table"]]
"""The async client's way to run a query into a table."""
