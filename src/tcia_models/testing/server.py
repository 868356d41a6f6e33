"""``TCIATestServer``: TCIA's original (Bindaas) REST API over real HTTP on loopback.

It serves the queries of the metadata snapshot (or of a ``metadata_dir``) over a dataset, the way
TCIA answers them: formats, the ``api_key`` rule, errors, and ``getImage`` ZIPs of real DICOM
files. Tests can inject faults and shape latency and bandwidth.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from .._metadata import packaged_metadata
from .dataset import Dataset, Row
from .faults import Fault, FaultQueue
from .formats import CONTENT_TYPES, WRITERS
from .images import ImageStore, sop_class_for
from .wire import Dialect

__all__ = ["DEFAULT_PATH", "RecordedRequest", "TCIATestServer"]

DEFAULT_PATH = "/services/TCIA/TCIA/query"
"""Where the queries live, as on TCIA (``services/TCIA/TCIA/query/<query>``)."""

_CHUNK = 64 * 1024
_SERVER_ERROR = b"Server was not able to process your request"
_CONTROL_PARAMETERS = frozenset({"format", "api_key"})
_ARCHIVE_OPTIONS = frozenset({"NewFileNames", "IncludeMD5"})


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (for assertions in tests)."""

    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]


class _ConnectionDropped(Exception):
    pass


@dataclass(frozen=True)
class _Route:
    api: str
    """``bindaas``, ``nbia-v1``, ``nbia-v2``, ``nbia-v4``, ``token``, ``control`` or ``none``."""
    query: str | None = None
    metadata: bool = False


_CONTROL_PATH = "/_tcia_test/faults"
_TOKEN_PATHS = frozenset({"/nbia-api/oauth/token", "/nbia-api/services/oauth/token"})
_NBIA_PATH = re.compile(
    r"^/nbia-api/services/(?:(?P<version>v1|v2|v4)/)?(?P<query>[A-Za-z][A-Za-z0-9]*)$"
)


class _Tokens:
    """OAuth tokens the server issued, with their expiry."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}
        self._refresh: dict[str, str] = {}

    def issue(self, user: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._lock:
            self._access[access] = time.monotonic() + self.lifetime
            self._refresh[refresh] = user
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.lifetime,
            "refresh_token": refresh,
            "refresh_expires_in": self.lifetime * 12,
            "scope": "openid",
        }

    def refresh(self, refresh_token: str) -> dict[str, Any] | None:
        with self._lock:
            user = self._refresh.pop(refresh_token, None)
        return None if user is None else self.issue(user)

    def valid(self, access_token: str) -> bool:
        with self._lock:
            expiry = self._access.get(access_token)
        return expiry is not None and time.monotonic() < expiry


class TCIATestServer:
    """A TCIA-compatible HTTP server on ``127.0.0.1`` (a free port unless ``port`` is given).

    ``with TCIATestServer(api_keys={"secret"}) as server:`` then point any client at
    ``server.base_url``. Without ``api_keys`` no key is needed.
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
    ) -> None:
        self.api_keys = frozenset(api_keys)
        self.dataset = dataset or Dataset.guide()
        self.documents = _load_documents(metadata_dir)
        self.generations: Mapping[str, Mapping[str, Any]] = packaged_metadata().generations[
            "generations"
        ]
        # (generation, path) -> query, for every generation that offers each query.
        self._paths: dict[tuple[str, str], str] = {}
        for query, document in self.documents.items():
            offered: Mapping[str, Any] = document.get("generations") or {"bindaas": {}}
            for api, wire in offered.items():
                wire_path = str(wire.get("path", query))
                if not wire_path.startswith("../"):
                    self._paths[(api, wire_path)] = query
        self.path = "/" + path.strip("/")
        self.latency = latency
        """Seconds before the first byte of every response."""
        self.connect_latency = connect_latency
        """Seconds added to every new connection (what TCP and TLS handshakes cost far away)."""
        self.users = users
        """NBIA accounts (user -> password) for the token endpoint; ``None`` accepts anyone."""
        self.bandwidth = bandwidth
        """Bytes per second per connection, or ``None`` for as fast as possible."""
        self.faults = FaultQueue()
        self.requests: list[RecordedRequest] = []
        self._table = self.dataset.series_rows()
        self._images = ImageStore(self.dataset)
        self._tokens = _Tokens(token_lifetime)
        if prewarm:
            self._images.warm()

        def total_size(row: Row) -> int:
            return self._images.images(row["SeriesInstanceUID"]).total_size

        # Columns computed from the DICOM files the server sends, so that they always agree.
        self._computed: Mapping[str, Callable[[Row], Any]] = {
            "TotalSizeInBytes": total_size,
            "FileSize": total_size,
            "ObjectCount": lambda row: len(self._images.images(row["SeriesInstanceUID"]).files),
            "SOPClassUID": lambda row: sop_class_for(row["Modality"]),
        }
        self._host = host
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None

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

    def base_url_for(self, api: str) -> str:
        """The base URL of one API generation: ``bindaas`` (``base_url``), ``nbia-v1``,
        ``nbia-v2`` or ``nbia-v4`` (``.../nbia-api/services/v4``)."""
        if api == "bindaas":
            return self.base_url
        if api not in self.generations:
            raise ValueError(f"no API generation {api!r}; one of {', '.join(self.generations)}")
        return f"{self.origin}/nbia-api/services/{api.removeprefix('nbia-')}"

    def inject(self, fault: Fault, *, query: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests (for ``query``, or any) with ``fault``."""
        self.faults.add(fault, query=query, times=times)

    def images(self, series_instance_uid: str) -> tuple[tuple[str, bytes], ...]:
        """The DICOM files ``getImage`` sends for a series, as (ZIP entry name, bytes)."""
        return self._images.images(series_instance_uid).files

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

    # Request handling -------------------------------------------------------------------------

    def dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request (called by the server's handler threads)."""
        assert isinstance(handler, _Handler)
        url = urlsplit(handler.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {key.lower(): value for key, value in handler.headers.items()}
        body = handler.read_body()
        if handler.command == "POST" and "json" not in headers.get("content-type", ""):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        self.requests.append(RecordedRequest(handler.command, url.path, params, headers))
        route = self._route(unquote(url.path))
        if route.api == "control":
            self._control(handler, body)
            return
        fault = self.faults.take(route.query)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status is not None:
            extra = (
                {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            )
            handler.respond(
                fault.status, fault.body, fault.content_type or "text/plain", extra, fault
            )
            return
        if route.api == "token":
            self._send_token(handler, params, fault)
            return
        if not self._authorized(route, params, headers):
            handler.respond(401, b"", "text/plain", fault=fault)
            return
        if route.query is None:
            handler.respond(404, b"Not Found", "text/plain", fault=fault)
            return
        document = self.documents[route.query]
        if route.metadata:
            handler.respond(200, json.dumps(document).encode(), "application/json", fault=fault)
            return
        dialect = Dialect(route.api, document, self.generations[route.api])
        if route.api == "bindaas":  # the key is no filter (and NBIA v4 rejects it as unknown)
            params = {k: v for k, v in params.items() if k != "api_key"}
        unknown = dialect.unknown_parameters(params)
        if dialect.rejects_unknown and unknown:
            message = (
                f"Invalid query parameter: '{unknown[0]}'. "
                f"Allowed parameters are: [{', '.join(dialect.allowed_parameters)}]"
            )
            handler.respond(400, message.encode(), "text/plain", fault=fault)
            return
        try:
            arguments = dialect.canonical_parameters(params)
        except ValueError as error:
            handler.respond(400, str(error).encode(), "text/plain", fault=fault)
            return
        for parameter in document["queryParameters"]:
            if parameter["required"] and not arguments.get(parameter["name"]):
                wire_name = dialect.wire_name(parameter["name"])
                message = f"A parameter, {wire_name} is required for this API call."
                handler.respond(400, message.encode(), "application/json", fault=fault)
                return
        if "ZIP" in document["returnTypes"]:
            md5 = (
                route.query == "getImageWithMD5Hash"
                or str(arguments.get("IncludeMD5")).lower() == "yes"
            )
            with_license = route.query != "getImageWithMD5Hash"
            self._send_archive(handler, arguments, fault, md5=md5, with_license=with_license)
        elif "DICOM" in document["returnTypes"]:
            self._send_image(handler, arguments, fault)
        else:
            self._send_rows(handler, dialect, arguments, fault)

    def _route(self, path: str) -> _Route:
        if path == _CONTROL_PATH:
            return _Route("control")
        if path in _TOKEN_PATHS:
            return _Route("token")
        if path.startswith(self.path + "/"):
            name, _, rest = path[len(self.path) + 1 :].partition("/")
            query = self._paths.get(("bindaas", name))
            if query is not None and rest in ("", "metadata"):
                return _Route("bindaas", query, metadata=rest == "metadata")
            return _Route("bindaas")
        match = _NBIA_PATH.match(path)
        if match is None:
            return _Route("none")
        api = f"nbia-{match['version'] or 'v2'}"  # the unversioned "advanced" API wants a token
        return _Route(api, self._paths.get((api, match["query"])))

    def _authorized(
        self, route: _Route, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> bool:
        if route.api == "bindaas":
            key = params.get("api_key") or headers.get("api_key")
            return not self.api_keys or key in self.api_keys
        if route.api == "nbia-v2":
            scheme, _, token = headers.get("authorization", "").partition(" ")
            return scheme.lower() == "bearer" and self._tokens.valid(token)
        return True

    def _send_token(
        self, handler: _Handler, params: Mapping[str, str], fault: Fault | None
    ) -> None:
        grant = params.get("grant_type")
        if grant == "password":
            user, password = params.get("username", ""), params.get("password", "")
            allowed = self.users is None or self.users.get(user) == password
            issued = self._tokens.issue(user) if allowed else None
        elif grant == "refresh_token":
            issued = self._tokens.refresh(params.get("refresh_token", ""))
        else:
            issued = None
        if issued is None:
            body = json.dumps({"error": "invalid_grant"}).encode()
            handler.respond(401, body, "application/json", fault=fault)
            return
        handler.respond(200, json.dumps(issued).encode(), "application/json", fault=fault)

    def _control(self, handler: _Handler, body: bytes) -> None:
        """``POST /_tcia_test/faults`` with ``{"fault": {...}, "query": ..., "times": n}``: inject
        a fault into a server running in another process."""
        try:
            order = json.loads(body)
            fields = dict(order["fault"])
            if "body" in fields:
                fields["body"] = str(fields["body"]).encode()
            fields["extra_zip_entries"] = tuple(
                (name, str(data).encode()) for name, data in fields.get("extra_zip_entries", ())
            )
            self.inject(Fault(**fields), query=order.get("query"), times=int(order.get("times", 1)))
        except (ValueError, KeyError, TypeError) as error:
            handler.respond(400, f"bad fault: {error}".encode(), "text/plain")
            return
        handler.respond(204, b"", "text/plain")

    def _send_rows(
        self, handler: _Handler, dialect: Dialect, arguments: Mapping[str, Any], fault: Fault | None
    ) -> None:
        rows = [dialect.render(row) for row in self._select(dialect.document, arguments)]
        requested = str(arguments.get("format", "json")).lower()
        if requested not in WRITERS:
            body = _SERVER_ERROR if rows else b""
            handler.respond(500 if rows else 200, body, "text/plain", fault=fault)
            return
        body = WRITERS[requested](rows, dialect.columns()) if rows else b""
        handler.respond(200, body, CONTENT_TYPES[requested], fault=fault)

    def _select(self, document: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[Row]:
        """Filter the joined table by the query's parameters, then project onto its attributes."""
        rows: Iterable[Row] = self._table
        for parameter in document["queryParameters"]:
            name = parameter["name"]
            if name not in arguments or name in _CONTROL_PARAMETERS or name in _ARCHIVE_OPTIONS:
                continue
            wanted = arguments[name]
            if name == "name":  # ContentsByName: the members of a shared list
                members = set(self.dataset.shared_list_members(wanted))
                rows = [row for row in rows if row["SeriesInstanceUID"] in members]
            elif parameter["type"] == "date":  # "since": released on or after the date
                since = wanted.isoformat()
                rows = [row for row in rows if str(row.get("DateReleased", ""))[:10] >= since]
            else:  # MySQL's default collation: equality ignores case
                folded = str(wanted).casefold()
                rows = [
                    row for row in rows if str(self._value(row, name) or "").casefold() == folded
                ]
        names = [attribute["name"] for attribute in document["attributes"]]
        if "SOPInstanceUID" in names:  # one row per image, not per series
            rows = [
                {**row, "SOPInstanceUID": uid}
                for row in rows
                for uid in self._images.images(row["SeriesInstanceUID"]).sop_instance_uids
            ]
        selected: dict[tuple[tuple[str, Any], ...], Row] = {}
        for row in rows:
            projected = {name: self._value(row, name) for name in names}
            projected = {name: value for name, value in projected.items() if value is not None}
            selected.setdefault(tuple(projected.items()), projected)
        return list(selected.values())

    def _value(self, row: Row, name: str) -> Any:
        if name in self._computed:
            return self._computed[name](row)
        return row.get(name)

    def _send_archive(
        self,
        handler: _Handler,
        arguments: Mapping[str, Any],
        fault: Fault | None,
        *,
        md5: bool,
        with_license: bool,
    ) -> None:
        uid = arguments["SeriesInstanceUID"]
        if uid not in self._images:
            handler.respond(200, b"", "application/octet-stream", fault=fault)
            return
        body = self._images.archive(
            uid, md5=md5, with_license=with_license, tamper=bool(fault and fault.tamper_image)
        )
        if fault and fault.extra_zip_entries:
            body = _with_entries(body, fault.extra_zip_entries)
        headers = {
            "Content-Disposition": f'attachment; filename="{uid}.zip"',
            "imageCount": str(len(self._images.images(uid).files)),
        }
        handler.respond(200, body, "application/octet-stream", headers, fault, chunked=True)

    def _send_image(
        self, handler: _Handler, arguments: Mapping[str, Any], fault: Fault | None
    ) -> None:
        """getSingleImage: one DICOM file."""
        uid, sop_uid = arguments["SeriesInstanceUID"], arguments["SOPInstanceUID"]
        if uid not in self._images:
            handler.respond(200, b"", "application/dicom", fault=fault)
            return
        images = self._images.images(uid)
        found = [
            data
            for (_, data), sop in zip(images.files, images.sop_instance_uids, strict=True)
            if sop == sop_uid
        ]
        headers = {"Content-Disposition": f"attachment; filename={sop_uid}.dcm"}
        handler.respond(200, found[0] if found else b"", "application/dicom", headers, fault)


def _with_entries(archive: bytes, entries: tuple[tuple[str, bytes], ...]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO(archive)
    with zipfile.ZipFile(buffer, "a") as zipped:
        for name, data in entries:
            zipped.writestr(zipfile.ZipInfo(name, date_time=(2014, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def _load_documents(metadata_dir: str | Path | None) -> dict[str, Mapping[str, Any]]:
    if metadata_dir is None:
        return dict(packaged_metadata().documents)
    documents: dict[str, Mapping[str, Any]] = {}
    for path in sorted(Path(metadata_dir).glob("*.json")):
        documents[path.stem] = json.loads(path.read_text("utf-8"))
    if not documents:
        raise ValueError(f"no metadata documents (*.json) in {metadata_dir}")
    return documents


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: TCIATestServer) -> None:
        self.app = app
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY every keep-alive response waits ~40 ms on Nagle's algorithm.
    disable_nagle_algorithm = True
    timeout = 60
    server_version = "tcia-models-test-server"

    def setup(self) -> None:
        super().setup()
        delay = self._http_server.app.connect_latency
        if delay:
            time.sleep(delay)

    def do_GET(self) -> None:
        try:
            self._http_server.app.dispatch(self)
        except (_ConnectionDropped, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_POST = do_GET

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    @property
    def _http_server(self) -> _HTTPServer:
        assert isinstance(self.server, _HTTPServer)
        return self.server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``server.requests`` instead."""

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        fault: Fault | None = None,
        *,
        chunked: bool = False,
    ) -> None:
        app = self._http_server.app
        if app.latency:
            time.sleep(app.latency)
        if fault:
            body = fault.spoil(body)
            content_type = fault.content_type or content_type
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        limit = fault.drop_after if fault else None
        self._write_body(body, chunked=chunked, limit=limit, bandwidth=app.bandwidth)

    def _write_body(
        self, body: bytes, *, chunked: bool, limit: int | None, bandwidth: float | None
    ) -> None:
        started, sent = time.monotonic(), 0
        for start in range(0, len(body), _CHUNK):
            piece = body[start : start + _CHUNK]
            if limit is not None and sent + len(piece) > limit:
                piece = piece[: limit - sent]
                self._write_piece(piece, chunked=chunked)
                self._drop()
            self._write_piece(piece, chunked=chunked)
            sent += len(piece)
            if bandwidth:
                ahead = sent / bandwidth - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        if limit is not None:
            self._drop()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _write_piece(self, piece: bytes, *, chunked: bool) -> None:
        if not piece:
            return
        if chunked:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        else:
            self.wfile.write(piece)

    def _drop(self) -> None:
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _ConnectionDropped
