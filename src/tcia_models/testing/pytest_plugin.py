"""pytest plugin, registered as the ``tcia_models`` entry point: the ``tcia_server`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import TCIATestServer


@pytest.fixture
def tcia_server() -> Iterator[TCIATestServer]:
    """A running ``TCIATestServer`` with the usage guide's test data and no API key."""
    with TCIATestServer() as server:
        yield server
