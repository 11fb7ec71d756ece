"""A minimal HTTP/1.1 responder for ACME http-01 challenges (RFC 8555 8.3), on h11 and trio.

It answers GET /.well-known/acme-challenge/TOKEN with the key authorization and 404 to
anything else, one request per connection, bounded in size and time. It listens only while
an order's challenges are being validated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import h11
import trio

PREFIX = "/.well-known/acme-challenge/"
IDLE = 10.0
MAX_REQUEST = 8192


async def _answer(stream: trio.SocketStream, tokens: Mapping[str, str]) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST)
    with trio.move_on_after(IDLE):
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(4096)
                    conn.receive_data(data)
                    if not data:
                        return
                    continue
                if isinstance(event, h11.Request):
                    path = event.target.decode("ascii", "replace").split("?", 1)[0]
                    token = path[len(PREFIX) :] if path.startswith(PREFIX) else None
                    body = tokens.get(token or "", "").encode()
                    status = 200 if body and event.method in (b"GET", b"HEAD") else 404
                    headers = [
                        ("Content-Type", "text/plain"),
                        ("Content-Length", str(len(body))),
                        ("Connection", "close"),
                    ]
                    await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
                    if event.method != b"HEAD":
                        await stream.send_all(conn.send(h11.Data(data=body)) or b"")
                    await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
                    return
                return
        except (h11.RemoteProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
            return
        finally:
            await stream.aclose()


@asynccontextmanager
async def responder(address: str, port: int, tokens: Mapping[str, str]) -> AsyncIterator[None]:
    """Serve `tokens` (token -> key authorization) on address:port for the body of the block."""
    try:
        listeners = await trio.open_tcp_listeners(port, host=address)
    except OSError as exc:
        from camscan.remediate.issuers.base import IssuerError

        raise IssuerError(
            "config",
            f"cannot answer http-01 on {address}:{port} ({exc.strerror}): this host must hold that "
            "address and port while the ACME server validates (see the issuers documentation)",
        ) from None
    # What the body raises is re-raised after the nursery closes, as itself: raised inside it,
    # trio would wrap it in an exception group the caller does not expect.
    error: BaseException | None = None
    async with trio.open_nursery() as nursery:

        async def handle(stream: trio.SocketStream) -> None:
            await _answer(stream, tokens)

        nursery.start_soon(trio.serve_listeners, handle, listeners)
        try:
            yield
        except BaseException as exc:
            error = exc
        nursery.cancel_scope.cancel()
    if error is not None:
        raise error
