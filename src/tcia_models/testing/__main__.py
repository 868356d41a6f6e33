"""``python -m tcia_models.testing``: run the test server until interrupted.

Prints the base URL on the first line of standard output, so a script can read it.
"""

from __future__ import annotations

import argparse
import contextlib

from .dataset import Dataset, ImageShape
from .server import TCIATestServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tcia_models.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--api-key", action="append", default=[], help="require this key (repeatable)"
    )
    parser.add_argument("--dataset", help="a dataset file (default: the usage guide's test data)")
    parser.add_argument(
        "--synthetic-series", type=int, help="serve this many made-up series instead"
    )
    parser.add_argument("--images-per-series", type=int, default=10)
    parser.add_argument("--image-size", type=int, default=8, help="rows = columns of each image")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each response")
    parser.add_argument(
        "--connect-latency", type=float, default=0.0, help="seconds per new connection"
    )
    parser.add_argument("--bandwidth", type=float, help="bytes per second per connection")
    parser.add_argument("--prewarm", action="store_true", help="build every archive before serving")
    args = parser.parse_args()
    dataset = None
    if args.synthetic_series:
        dataset = Dataset.synthetic(
            series_count=args.synthetic_series,
            images_per_series=args.images_per_series,
            image_shape=ImageShape(args.image_size, args.image_size),
        )
    elif args.dataset:
        dataset = Dataset.load(args.dataset)
    server = TCIATestServer(
        host=args.host,
        port=args.port,
        api_keys=args.api_key,
        dataset=dataset,
        latency=args.latency,
        connect_latency=args.connect_latency,
        bandwidth=args.bandwidth,
        prewarm=args.prewarm,
    )
    print(server.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
