"""What the generated query methods call: the client implements these with a transport."""

from __future__ import annotations

import abc
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

from ._specs import ModelT, QuerySpec

__all__ = ["AsyncQueryRunner", "SyncQueryRunner"]


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
