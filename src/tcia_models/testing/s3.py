"""A local S3-compatible server for tests of the IDC path: moto's server mode, on loopback.

``S3TestServer`` runs moto in a child process (so its memory, which holds every object, is given
back when it stops, and its warnings stay out of the test's process), and puts objects the way
IDC's public buckets serve them: readable without signing (``--no-sign-request``). Needs ``pip
install moto flask flask-cors`` (the ``dev`` extra has them).

``python -m tcia_models.testing.s3`` is the child: it prints the endpoint URL on its first line
and serves until its standard input closes (so it never outlives the process that started it).
"""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType
from typing import Self

import httpx

__all__ = ["S3TestServer"]

# Without it anonymous GETs are refused (moto enforces ACLs); with a form content type Flask
# eats the body and moto stores 0 bytes, answering 200 all the same.
_PUBLIC_OBJECT = {"x-amz-acl": "public-read", "Content-Type": "application/octet-stream"}


class S3TestServer:
    """``with S3TestServer() as s3: s3.create_bucket("idc-open-data"); s3.put(...)``; point
    s5cmd (or ``IDCOptions(endpoint_url=s3.endpoint_url)``) at ``s3.endpoint_url``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""
        self._http = httpx.Client(timeout=60)

    def start(self) -> Self:
        if self._process is not None:
            return self
        try:
            import moto.server  # noqa: F401  # pyright: ignore[reportUnusedImport]
        except ImportError:
            raise ImportError(
                "S3TestServer needs moto's server mode: pip install moto flask flask-cors"
            ) from None
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tcia_models.testing.s3", self._host],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # moto logs every request there
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError("the S3 test server (moto) did not start")
        self.endpoint_url = line
        return self

    def stop(self) -> None:
        self._http.close()
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()  # the child's signal to stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def create_bucket(self, bucket: str) -> None:
        self._http.put(f"{self.endpoint_url}/{bucket}").raise_for_status()

    def put(self, bucket: str, key: str, body: bytes) -> None:
        """Store ``body`` at ``s3://bucket/key``, readable without signing."""
        response = self._http.put(
            f"{self.endpoint_url}/{bucket}/{key}", content=body, headers=_PUBLIC_OBJECT
        )
        response.raise_for_status()

    def delete(self, bucket: str, key: str) -> None:
        self._http.delete(f"{self.endpoint_url}/{bucket}/{key}").raise_for_status()

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """The keys under ``prefix`` (ListObjectsV2, every page)."""
        import xml.etree.ElementTree as ElementTree

        keys: list[str] = []
        token: str | None = None
        while True:
            params = {"list-type": "2", "prefix": prefix}
            if token:
                params["continuation-token"] = token
            response = self._http.get(f"{self.endpoint_url}/{bucket}", params=params)
            response.raise_for_status()
            root = ElementTree.fromstring(response.content)  # noqa: S314 (our own server)
            space = root.tag.partition("}")[0] + "}" if root.tag.startswith("{") else ""
            keys += [node.text or "" for node in root.iter(f"{space}Key")]
            token = root.findtext(f"{space}NextContinuationToken")
            if not token:
                return keys


def _serve(host: str) -> None:
    from moto.server import ThreadedMotoServer  # pyright: ignore[reportMissingTypeStubs]

    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    bound_host, port = server.get_host_and_port()
    print(f"http://{bound_host}:{port}", flush=True)
    try:
        sys.stdin.read()  # until the parent closes it, or dies
    finally:
        server.stop()


if __name__ == "__main__":
    _serve(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1")
