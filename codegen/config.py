"""Codegen settings, read from ``[tool.codegen]`` in pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class CodegenConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path
    schema_path: Path = Field(alias="schema")
    generations: Path
    generations_schema: Path
    snapshot: Path
    lock: Path
    tables: Path
    output: Path
    package: str
    async_source: Path
    sync_output: Path
    reference: Path

    @classmethod
    def load(cls, root: Path = PROJECT_ROOT) -> CodegenConfig:
        settings = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["tool"]["codegen"]
        resolved = {
            key: (root / value if key != "package" else value) for key, value in settings.items()
        }
        return cls.model_validate({"root": root, **resolved})

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()
