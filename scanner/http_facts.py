"""One small HTTP request after the handshake: Server (vendor hint), Date (device clock),
WWW-Authenticate (Dahua realms carry the MAC). Parsed with h11, bounded in bytes and time.

The parsing half is pure (`facts_from_response`); the I/O half takes any trio stream.
"""

from __future__ import annotations

import datetime as dt
import email.utils

import h11
import trio

from camscan import __version__
from camscan.model import HTTPFacts
from camscan.termtext import decode_device_bytes

DEFAULT_MAX_BYTES = 16_384
_READ_CHUNK = 4096


def parse_http_date(value: str | None) -> dt.datetime | None:
    """RFC 9110 IMF-fixdate (and the obsolete forms email.utils accepts) -> aware UTC, or None."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        # RFC 9110 says HTTP dates are GMT; "-0000" parses as naive.
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    # h11 hands over bytes: UTF-8 (what devices send), invalid bytes as U+FFFD, never an error.
    values = [decode_device_bytes(value) for name, value in headers if name == wanted]
    return ", ".join(values) if values else None


def facts_from_response(response: h11.Response | h11.InformationalResponse) -> HTTPFacts:
    headers = list(response.headers.raw_items())
    lowered = [(name.lower(), value) for name, value in headers]
    date = _header(lowered, b"date")
    return HTTPFacts(
        status=response.status_code,
        server=_header(lowered, b"server"),
        date=date,
        device_time=parse_http_date(date),
        www_authenticate=_header(lowered, b"www-authenticate"),
    )


def host_header(address: str, port: int, server_name: str | None) -> str:
    host = server_name or (f"[{address}]" if ":" in address else address)
    return host if port == 443 else f"{host}:{port}"


async def fetch_http_facts(
    stream: trio.abc.Stream,
    host: str,
    *,
    timeout: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    method: str = "HEAD",
) -> HTTPFacts | None:
    """Send `METHOD / HTTP/1.1` and parse the response head. None if no usable response.

    Reads at most `max_bytes` and waits at most `timeout` seconds; a device that trickles or
    sends garbage costs us only that.
    """
    conn = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=max_bytes)
    request = h11.Request(
        method=method,
        target="/",
        headers=[
            ("Host", host),
            ("User-Agent", f"camscan/{__version__}"),
            ("Accept", "*/*"),
            ("Connection", "close"),
        ],
    )
    received = 0
    with trio.move_on_after(timeout):
        try:
            data = conn.send(request)
            assert data is not None
            await stream.send_all(data)
            data = conn.send(h11.EndOfMessage())
            if data:
                await stream.send_all(data)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    if received >= max_bytes:
                        return None
                    chunk = await stream.receive_some(min(_READ_CHUNK, max_bytes - received))
                    received += len(chunk)
                    conn.receive_data(bytes(chunk))  # b"" marks EOF
                    continue
                if isinstance(event, h11.InformationalResponse):
                    continue  # 100 Continue and friends: the final response follows
                if isinstance(event, h11.Response):
                    return facts_from_response(event)
                return None
        except (h11.ProtocolError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return None
    return None
