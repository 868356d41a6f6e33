"""``python -m tcia_models.testing [--port N] [--api-key K]``: run the test server."""

from __future__ import annotations

import argparse
import contextlib

from .server import TCIATestServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tcia_models.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--api-key", action="append", default=[], help="require this key (repeatable)"
    )
    args = parser.parse_args()
    server = TCIATestServer(host=args.host, port=args.port, api_keys=args.api_key)
    print(f"TCIA test server at {server.base_url} (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
