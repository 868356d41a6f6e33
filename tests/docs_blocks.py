"""The code blocks of the README and of every page of the documentation site, which
tests/test_docs.py and tests/test_slurm.py run."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .conftest import ROOT

FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = [
    "README.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md")),
]


@dataclass(frozen=True)
class Block:
    page: str
    number: int
    """The block's place on its page, from 0."""
    language: str
    body: str

    @property
    def id(self) -> str:
        return f"{self.page}#{self.number}"


BLOCKS = [
    Block(page, number, match.group(1), match.group(2))
    for page in PAGES
    for number, match in enumerate(FENCE.finditer((ROOT / page).read_text("utf-8")))
]


def blocks(language: str) -> list[Block]:
    return [block for block in BLOCKS if block.language == language]
