"""Run N real TLS servers on consecutive 127.x addresses, one fixed port, until killed.

    python -m bench.tls_fleet --first 127.200.0.10 --count 20 --port 18443

Prints "ready" on stdout once every server listens. Loopback only: the first address must be
in 127.0.0.0/8. Each server presents a leaf + intermediate chain (RSA-2048 leaf, like most
cameras) and answers the HTTP HEAD with Server and Date headers.
"""

from __future__ import annotations

import argparse
import email.utils
import functools
import ipaddress
import ssl
import sys

import trio

from camscan import pki
from tests.support.tls_servers import ServerSpec, serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--first", default="127.200.0.10")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--port", type=int, default=18443)
    parser.add_argument("--legacy", action="store_true", help="also accept TLS 1.0/1.1")
    args = parser.parse_args(argv)
    first = ipaddress.IPv4Address(args.first)
    last = first + (args.count - 1)
    if not (first.is_loopback and last.is_loopback):
        parser.error("the fleet lives on loopback (127.0.0.0/8) only")
    return args


async def main(args: argparse.Namespace) -> None:
    root = pki.make_ca("bench root")
    intermediate = pki.make_ca("bench intermediate", issuer=root)
    first = ipaddress.IPv4Address(args.first)
    async with trio.open_nursery() as nursery:
        for i in range(args.count):
            host = str(first + i)
            key = pki.new_key("rsa-2048")
            leaf = pki.make_leaf(intermediate, common_name=f"cam-{i}", ips=[host], key=key)
            spec = ServerSpec(
                chain=[leaf.cert, intermediate.cert],
                key=leaf.key,
                min_version=ssl.TLSVersion.TLSv1 if args.legacy else ssl.TLSVersion.TLSv1_2,
                http_headers=[("Server", "bench-cam"), ("Date", email.utils.formatdate(usegmt=True))],
            )
            await nursery.start(functools.partial(serve, spec, host, port=args.port))
        print("ready", flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    try:
        trio.run(main, parse_args())
    except KeyboardInterrupt:
        sys.exit(0)
