"""Copied in as the nbiatoolkit suite's root conftest.py: its only change is where nbiatoolkit
sends requests. Its base URLs are one Enum, whose members' values every URL is built from at
call time (token, queries, downloads, logout)."""

import os

from src.nbiatoolkit.utils.nbia_endpoints import NBIA_BASE_URLS  # the copy the tests import

BASE = os.environ["TCIA_PEER_ORIGIN"]
NBIA_BASE_URLS.NBIA._value_ = f"{BASE}/nbia-api/services/"
NBIA_BASE_URLS.NLST._value_ = f"{BASE}/nlst/nbia-api/services/"
NBIA_BASE_URLS.LOGOUT_URL._value_ = f"{BASE}/nbia-api/logout"
