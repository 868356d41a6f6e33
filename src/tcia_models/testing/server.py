"""``TCIATestServer``: TCIA's REST API, every generation of it, over real HTTP on loopback.

It serves the queries of the metadata snapshot (or of a ``metadata_dir``) over a dataset, the way
TCIA answers them: formats, the ``api_key`` rule and OAuth tokens, errors, and ``getImage`` ZIPs
of real DICOM files. Tests can inject faults and shape latency and bandwidth.

The parts: ``http`` (bytes on the wire), ``routes`` (URL -> generation and query, from
schema/generations.json), ``auth`` (keys and tokens), ``wire`` (a generation's spellings),
``queries`` (what each query answers) and ``faults``. This module joins them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .._metadata import packaged_metadata
from .auth import Gatekeeper
from .dataset import Dataset
from .faults import Fault, FaultQueue, fault_from_order
from .http import BoundedHTTPServer, Reply, Request, Shaping
from .queries import Archive, answer_for
from .routes import Route, Router
from .wire import Dialect, MissingCriterionValue

__all__ = ["DEFAULT_PATH", "RecordedRequest", "TCIATestServer"]

_SERVER_ERROR = b"Server was not able to process your request"

DEFAULT_PATH = "/services/TCIA/TCIA/query"
"""Where the original API's queries live, as on TCIA (``services/TCIA/TCIA/query/<query>``)."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (for assertions in tests)."""

    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]


class TCIATestServer:
    """A TCIA-compatible HTTP server on ``127.0.0.1`` (a free port unless ``port`` is given).

    ``with TCIATestServer(api_keys={"secret"}) as server:`` then point any client at
    ``server.base_url`` (the original API) or ``server.base_url_for("nbia-v4")``. Without
    ``api_keys`` no key is needed.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (),
        dataset: Dataset | None = None,
        metadata_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = DEFAULT_PATH,
        latency: float = 0.0,
        connect_latency: float = 0.0,
        bandwidth: float | None = None,
        users: Mapping[str, str] | None = None,
        token_lifetime: float = 7200.0,
        prewarm: bool = False,
        max_connections: int = 256,
    ) -> None:
        self.dataset = dataset or Dataset.guide()
        self.documents = _load_documents(metadata_dir)
        described = packaged_metadata().generations
        self.generations: Mapping[str, Mapping[str, Any]] = described["generations"]
        self.servers: Mapping[str, Mapping[str, Any]] = described["servers"]
        self.path = "/" + path.strip("/")
        self._router = Router(
            self.generations,
            self.documents,
            base_paths={"bindaas": self.path},
            servers=self.servers,
        )
        self._gate = Gatekeeper(
            self.generations, api_keys=api_keys, users=users, token_lifetime=token_lifetime
        )
        # Each server holds its own collections (NLST's host has NLST only), over one dataset.
        self._archives = {
            name: Archive(self.dataset.on_server(name, default=name == next(iter(self.servers))))
            for name in self.servers
        }
        self._archive = self._archives[next(iter(self.servers))]
        if prewarm:
            for archive in self._archives.values():
                archive.images.warm()
        self.latency = latency
        """Seconds before the first byte of every response."""
        self.connect_latency = connect_latency
        """Seconds added to every new connection (what TCP and TLS handshakes cost far away)."""
        self.bandwidth = bandwidth
        """Bytes per second per connection, or ``None`` for as fast as possible."""
        self.faults = FaultQueue()
        self.requests: list[RecordedRequest] = []
        self._host = host
        self._httpd = BoundedHTTPServer(
            (host, port), self._handle, shaping=self._shaping, max_connections=max_connections
        )
        self._thread: threading.Thread | None = None

    @property
    def api_keys(self) -> frozenset[str]:
        return self._gate.api_keys

    @property
    def users(self) -> Mapping[str, str] | None:
        return self._gate.users

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Where query names are appended, like TCIA's ``.../services/TCIA/TCIA/query``."""
        return self.origin + self.path

    def base_url_for(self, api: str, server: str | None = None) -> str:
        """The base URL of one API generation: ``bindaas`` (``base_url``), ``nbia-v1``,
        ``nbia-v2``, ``nbia-v4`` (``.../nbia-api/services/v4``), ...; on ``server="nlst"``
        the same path under ``/nlst`` (NLST's own host)."""
        if api not in self.generations:
            raise ValueError(f"no API generation {api!r}; one of {', '.join(self.generations)}")
        name = server or next(iter(self.servers))
        if name not in self.servers or api not in self.servers[name]["generations"]:
            raise ValueError(f"server {name!r} does not serve {api!r}")
        return self.origin + self._router.server_prefixes[name] + self._router.base_paths[api]

    def inject(self, fault: Fault, *, query: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests (for ``query``, or any) with ``fault``."""
        self.faults.add(fault, query=query, times=times)

    def images(self, series_instance_uid: str) -> tuple[tuple[str, bytes], ...]:
        """The DICOM files ``getImage`` sends for a series, as (ZIP entry name, bytes)."""
        for archive in self._archives.values():
            if series_instance_uid in archive.images:
                return archive.images.images(series_instance_uid).files
        raise KeyError(series_instance_uid)

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"TCIATestServer(base_url={self.base_url!r})"

    # Answering ------------------------------------------------------------------------------

    def _shaping(self) -> Shaping:
        return Shaping(self.latency, self.connect_latency, self.bandwidth)

    def _handle(self, request: Request) -> Reply:
        """One request (in a connection thread): route, fault, authorize, answer."""
        self.requests.append(
            RecordedRequest(request.method, request.path, request.params, request.headers)
        )
        route = self._router.route(request.path)
        if route.kind == "control":
            return self._control(request)
        fault = self.faults.take(route.query)
        instead = fault.on_request() if fault else None
        reply = instead or self._answer(route, request, fault)
        return fault.on_reply(reply) if fault else reply

    def _answer(self, route: Route, request: Request, fault: Fault | None) -> Reply:
        api, query = route.api, route.query
        if route.kind == "token":
            return self._gate.token(request)
        if route.kind == "logout":
            return self._gate.logout(request)
        if api is None:
            return Reply(404, b"Not Found")
        if not self._gate.allows(api, request):
            return Reply(401, b"")
        if query is None:
            return Reply(404, b"Not Found")
        document = self.documents[query]
        if route.kind == "metadata":
            return Reply(200, json.dumps(document).encode(), "application/json")
        dialect = Dialect(api, document, self.generations[api])
        if request.method != dialect.method and not (
            request.method == "HEAD" and dialect.method == "GET"
        ):
            return Reply(405, b"", None)
        params = dict(request.params)
        if self.generations[api]["auth"] == "api_key":  # the key is no filter
            params.pop("api_key", None)
        unknown = dialect.unknown_parameters(params)
        if dialect.rejects_unknown and unknown:
            allowed = ", ".join(dialect.allowed_parameters)
            kind = "form" if dialect.method == "POST" else "query"
            message = (
                f"Invalid {kind} parameter: '{unknown[0]}'. Allowed parameters are: [{allowed}]"
            )
            return Reply(400, message.encode(), "application/json")
        try:
            arguments = dialect.canonical_parameters(params)
        except MissingCriterionValue:
            return Reply(500, _SERVER_ERROR + b"\nnull", "text/plain")
        except ValueError as error:
            return Reply(400, str(error).encode())
        for parameter in document["queryParameters"]:
            if parameter["required"] and not arguments.get(parameter["name"]):
                wire_name = dialect.wire_name(parameter["name"])
                message = f"A parameter, {wire_name} is required for this API call."
                return Reply(400, message.encode(), "application/json")
        archive = self._archives[route.server or next(iter(self._archives))]
        return answer_for(document)(archive, dialect, arguments, fault)

    def _control(self, request: Request) -> Reply:
        """``POST /_tcia_test/faults`` with ``{"fault": {"kind": ..., ...}, "query": ...,
        "times": n}``: inject a fault into a server running in another process. A fault that
        does not fit its kind is refused here (400), never when a response is spoiled."""
        try:
            order = json.loads(request.body)
            fault = fault_from_order(order["fault"])
            times = order.get("times", 1)
            query = order.get("query")
            if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 10_000:
                raise ValueError(f"times must be a whole number from 1 to 10000, not {times!r}")
            if query is not None and not isinstance(query, str):
                raise ValueError(f"query must be a query's name, not {query!r}")
        except (ValueError, KeyError, TypeError) as error:
            return Reply(400, f"bad fault: {error}".encode())
        self.inject(fault, query=query, times=times)
        return Reply(204, b"")


def snapshot_documents() -> dict[str, dict[str, Any]]:
    """A fresh copy of the metadata documents the installed models were generated from, keyed
    by query: change one and write them to a folder for ``TCIATestServer(metadata_dir=...)`` (or
    ``tcia serve --metadata-dir``) to serve drifted metadata."""
    documents: dict[str, dict[str, Any]] = json.loads(json.dumps(packaged_metadata().documents))
    return documents


def write_metadata(directory: str | Path, documents: Mapping[str, Any]) -> Path:
    """Write ``documents`` as ``<query>.json`` files into ``directory`` (made if missing), the
    layout ``metadata_dir=`` and ``schema/metadata/`` use; returns the folder."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for query, document in documents.items():
        (folder / f"{query}.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    return folder


def _load_documents(metadata_dir: str | Path | None) -> dict[str, Mapping[str, Any]]:
    if metadata_dir is None:
        return dict(packaged_metadata().documents)
    documents: dict[str, Mapping[str, Any]] = {}
    for path in sorted(Path(metadata_dir).glob("*.json")):
        documents[path.stem] = json.loads(path.read_text("utf-8"))
    if not documents:
        raise ValueError(f"no metadata documents (*.json) in {metadata_dir}")
    return documents
