"""Pointing each peer at the bundled server, the least invasive way each allows.

No peer reads its base URL from the environment; each has it in code. These patches replace
one function or attribute, exactly as ``benchmarks/README.md`` documents.
"""

from __future__ import annotations

import types
from typing import Any


def tcia_utils_nbia(origin: str) -> Any:
    """tcia_utils builds every URL through ``nbia.setApiUrl``, looked up at call time."""
    from tcia_utils import nbia

    def set_api_url(endpoint: str, api_url: str = "nbia") -> str:
        version = "v1" if endpoint == "getContentsByName" else "v4"
        return f"{origin}/nbia-api/services/{version}/"

    nbia.setApiUrl = set_api_url
    return nbia


def nbiatoolkit_client(origin: str) -> Any:
    """nbiatoolkit reads ``client._base_url.value`` and its OAuth client's ``base_url``."""
    from nbiatoolkit import NBIAClient

    client = NBIAClient()
    client.base_url = types.SimpleNamespace(value=f"{origin}/nbia-api/services/")
    client.OAuth_client.base_url = f"{origin}/nbia-api/services/"
    return client


def tciaclient_client(origin: str) -> Any:
    """tciaclient takes its base URL in the constructor: ``{baseUrl}/{resource}/query/...``."""
    from tciaclient.core import TCIAClient

    return TCIAClient(baseUrl=f"{origin}/services/TCIA", resource="TCIA")
