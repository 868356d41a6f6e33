"""Copied in as the tcia_utils suite's conftest.py: its only change is where tcia_utils sends
requests. Every caller (queryData, getSimpleSearch, the download threads) looks
``nbia.setApiUrl`` up at call time; it is replaced at import, because the suite's module-scoped
fixture calls the API before any function-scoped patch would be active."""

import os

from tcia_utils import nbia

BASE = os.environ["TCIA_PEER_ORIGIN"]
_original = nbia.setApiUrl


def _set_api_url(endpoint, api_url="nbia"):
    _original(endpoint, api_url)  # the same checks (a bad api_url raises as it would)
    host = (
        f"{BASE}/nbia-api/services" if api_url in ("", "nbia") else f"{BASE}/nlst/nbia-api/services"
    )
    return f"{host}/v1/" if endpoint == "getContentsByName" else f"{host}/v4/"


nbia.setApiUrl = _set_api_url
