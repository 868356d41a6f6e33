"""Whatever a server sends, a call returns its result or raises a ``TCIAError``, never anything
else (issue 11): hypothesis draws the server's behaviour, the hostile server acts it out."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tcia_models._retry
from tcia_models import TCIAClient, TCIAError

from .hostile import Answer, HostileServer

UID = "1.3.6.1.4.1.9328.50.4.10416"

_ROWS = [
    json.dumps([{"SeriesInstanceUID": UID, "StudyInstanceUID": "1.2", "Modality": "CT"}]),
    json.dumps([{"TotalSizeInBytes": 10, "ObjectCount": 1}]),
    json.dumps([{"SeriesDate": "13-13-2020", "ImageCount": "many"}]),
    json.dumps({"not": "a list"}),
    "[" * 1000,
    "<html><body>maintenance</body></html>",
    '"SeriesInstanceUID","Modality"\n"1.2","CT"\n',
    "<?xml version='1.0'?><Results><Row><Modality>CT</Modality></Row></Results>",
    "",
]


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from(_ROWS)).encode() or draw(st.binary(max_size=300))
    how = draw(st.sampled_from(["plain", "gzip", "deflate", "raw-deflate", "cut", "random"]))
    if how == "gzip":
        return gzip.compress(base)
    if how == "deflate":
        return zlib.compress(base)
    if how == "raw-deflate":
        return zlib.compress(base)[2:-4]
    if how == "cut":
        return gzip.compress(base)[: draw(st.integers(0, 30))]
    if how == "random":
        return draw(st.binary(max_size=500))
    return base


_HEADERS = st.lists(
    st.sampled_from(
        [
            ("Content-Encoding", "gzip"),
            ("Content-Encoding", "deflate"),
            ("Content-Encoding", "br"),
            ("Content-Encoding", "gzip, gzip"),
            ("Content-Type", "application/json"),
            ("Content-Type", "text/html"),
            ("Retry-After", "0"),
            ("Retry-After", "Wed, 21 Oct 2015 07:28:00"),
            ("Retry-After", "soon"),
            ("Retry-After", "1e400"),
            ("Location", "/services/TCIA/TCIA/query/getSeries"),
            ("Location", "http://127.0.0.1:9/elsewhere"),
            ("Location", "ftp://x/"),
            ("Location", "http://["),
            ("Location", ""),
        ]
    ),
    max_size=3,
)

_ANSWERS = st.builds(
    Answer,
    status=st.sampled_from([200, 200, 200, 204, 301, 302, 307, 400, 401, 404, 418, 429, 500, 503]),
    headers=_HEADERS.map(tuple),
    body=bodies(),
    chunked=st.booleans(),
    content_length=st.one_of(st.none(), st.integers(0, 2000)),
    drop_after=st.one_of(st.none(), st.integers(0, 50)),
)

_CALLS = ["get_series", "get_series_size", "get_collection_values", "raw", "download_series"]


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcia_models._retry, "INITIAL_RETRY_DELAY", 0.0)
    monkeypatch.setattr(tcia_models._retry, "MAX_RETRY_AFTER", 0.01)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    script=st.lists(_ANSWERS, min_size=1, max_size=4),
    call=st.sampled_from(_CALLS),
    fmt=st.sampled_from(["json", "csv", "xml"]),
)
def test_whatever_the_server_sends_the_answer_is_a_result_or_a_tcia_error(
    tmp_path_factory: pytest.TempPathFactory, script: list[Answer], call: str, fmt: str
) -> None:
    dest = tmp_path_factory.mktemp("dest")
    with HostileServer(script) as hostile:
        with TCIAClient(
            api="bindaas", api_key="k", base_url=hostile.url, max_retries=1, timeout=2, deadline=5
        ) as tcia:
            try:
                if call == "raw":
                    tcia.raw("getSeries", {"Collection": "x"}, fmt)
                elif call == "download_series":
                    tcia.download_series(UID, dest)
                elif call == "get_series_size":
                    tcia.get_series_size(series_instance_uid=UID, format=fmt)  # type: ignore[arg-type]
                else:
                    getattr(tcia, call)(format=fmt)
            except TCIAError as error:
                assert str(error) and len(str(error)) < 2000
    leftovers = [p.name for p in Path(dest).iterdir() if p.name.startswith(".")]
    assert leftovers == []  # nothing hidden left behind, whatever happened
