"""The bundled server under abuse (issue 11): bad fault orders are refused when given, and idle
connections cannot take a thread each without bound."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from tcia_models.testing import TCIATestServer


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "http_status", "status": "abc"},
        {"kind": "http_status", "status": 99},
        {"kind": "http_status", "status": 503, "retry_after": "soon"},
        {"kind": "drop_connection", "after_bytes": -1.5},
        {"kind": "nonsense"},
        {"status": 503},
        {"kind": "slow", "seconds": [1]},
    ],
)
def test_a_bad_fault_order_is_refused_and_the_server_keeps_answering(fault: object) -> None:
    with TCIATestServer() as server:
        control = server.origin + "/_tcia_test/faults"
        refused = httpx.post(control, json={"fault": fault})
        assert refused.status_code == 400 and refused.text.startswith("bad fault:")
        assert len(server.faults) == 0
        after = httpx.get(server.base_url + "/getCollectionValues")
        assert after.status_code == 200 and len(after.json()) == 15


def test_bad_times_and_query_are_refused() -> None:
    with TCIATestServer() as server:
        control = server.origin + "/_tcia_test/faults"
        good = {"kind": "http_status", "status": 503}
        assert httpx.post(control, json={"fault": good, "times": "x"}).status_code == 400
        assert httpx.post(control, json={"fault": good, "times": 0}).status_code == 400
        assert httpx.post(control, json={"fault": good, "query": 5}).status_code == 400
        assert httpx.post(control, content=b"{not json").status_code == 400
        assert len(server.faults) == 0


def test_a_thousand_idle_connections_cost_a_bounded_number_of_threads() -> None:
    with TCIATestServer(max_connections=32) as server:
        before = threading.active_count()
        idle = []
        try:
            for _ in range(1000):
                connection = socket.create_connection(("127.0.0.1", server.port))
                connection.sendall(
                    b"GET /services/TCIA/TCIA/query/getCollectionValues HTTP/1.1\r\n"
                )
                idle.append(connection)  # a request line, and then nothing: slowloris
            time.sleep(0.5)
            assert threading.active_count() - before <= 32 + 2
        finally:
            for connection in idle:
                connection.close()
        # Once the idle connections are gone, the server answers again.
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(server.base_url + "/getCollectionValues", timeout=2)
                break
            except httpx.TimeoutException:
                assert time.monotonic() < deadline
        assert response.status_code == 200
