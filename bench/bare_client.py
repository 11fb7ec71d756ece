"""The floor for a certificate sweep: connect, handshake, read the chain; nothing else.

    python -m bench.bare_client --targets FILE --port 8443 [--concurrency 200]

Prints `chains N` and `seconds S`. It judges nothing and writes nothing: the time any scanner
must spend on the network and in OpenSSL, measured with the same event loop camscan uses.
"""

from __future__ import annotations

import argparse
import ssl
import time

import trio

from camscan.scanner.tls_probe import presented_chain


async def _one(address: str, port: int, context: ssl.SSLContext) -> bool:
    try:
        with trio.fail_after(5):
            tcp = await trio.open_tcp_stream(address, port)
            stream = trio.SSLStream(tcp, context, server_hostname=None)
            await stream.do_handshake()
    except (OSError, trio.TooSlowError, trio.BrokenResourceError, ssl.SSLError):
        return False
    chain = presented_chain(stream._ssl_object)  # as camscan's probe records it
    await tcp.aclose()  # no close_notify round trip: the chain is what we came for
    return bool(chain)


async def main(addresses: list[str], port: int, concurrency: int) -> int:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    limiter = trio.CapacityLimiter(concurrency)
    captured = 0

    async def run(address: str) -> None:
        nonlocal captured
        async with limiter:
            ok = await _one(address, port, context)
        captured += ok  # not `captured += await ...`: that reads `captured` before the await

    async with trio.open_nursery() as nursery:
        for address in addresses:
            nursery.start_soon(run, address)
    return captured


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", required=True)
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    addresses = [line.strip() for line in open(args.targets) if line.strip()]
    started = time.perf_counter()
    chains = trio.run(main, addresses, args.port, args.concurrency)
    print(f"chains {chains}\nseconds {time.perf_counter() - started:.3f}")
