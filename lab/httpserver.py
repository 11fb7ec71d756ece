"""A small HTTP/1.1 server over any trio stream (h11): the device web server and the control API.

Bounded everywhere, because a scanner may connect and say nothing, or send garbage: an idle
timeout per request, a body size limit, a request count per connection.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11
import trio

MAX_BODY = 1 << 20
IDLE_TIMEOUT = 15.0
MAX_REQUESTS = 100

REASONS = {200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # as sent (path and query)
    headers: dict[str, str]  # lower-case names
    body: bytes
    scheme: str = "https"

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query, keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Runs after the response is on the wire (a reboot must answer first, then go down).
    after: Callable[[], None] | None = None

    @classmethod
    def text(cls, text: str, status: int = 200, **kw: Any) -> Response:
        return cls(status, text.encode(), **kw)

    @classmethod
    def xml(cls, text: str, status: int = 200, content_type: str = "application/xml; charset=utf-8",
            **kw: Any) -> Response:
        return cls(status, text.encode(), content_type, **kw)

    @classmethod
    def json_body(cls, value: Any, status: int = 200, **kw: Any) -> Response:
        return cls(status, json.dumps(value).encode(), "application/json", **kw)


Handler = Callable[[Request], Awaitable[Response]]


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.replace(microsecond=0), usegmt=True)


async def _next_event(conn: h11.Connection, stream: trio.abc.Stream) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        with trio.fail_after(IDLE_TIMEOUT):
            data = await stream.receive_some(65536)
        conn.receive_data(bytes(data))


async def _send(conn: h11.Connection, stream: trio.abc.Stream, resp: Response, *,
                server: str, date: str | None, close: bool, head: bool = False) -> None:
    headers = [("Content-Type", resp.content_type), ("Content-Length", str(len(resp.body)))]
    if server:
        headers.append(("Server", server))
    if date:
        headers.append(("Date", date))
    if close:
        headers.append(("Connection", "close"))
    headers += resp.headers
    reason = REASONS.get(resp.status, "Status").encode()
    data = conn.send(h11.Response(status_code=resp.status, headers=headers, reason=reason))
    data = data or b""
    if resp.body and not head:  # a HEAD answer has the GET's headers and no body
        data += conn.send(h11.Data(data=resp.body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(data)


async def serve_http(stream: trio.abc.Stream, handler: Handler, *, scheme: str = "https",
                     server: str = "", date: Callable[[], str] | None = None) -> None:
    """Serve requests on `stream` until the peer closes, times out or misbehaves."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
    try:
        for _ in range(MAX_REQUESTS):
            try:
                event = await _next_event(conn, stream)
                if not isinstance(event, h11.Request):
                    return
                body = bytearray()
                while True:
                    part = await _next_event(conn, stream)
                    if isinstance(part, h11.Data):
                        body += part.data
                        if len(body) > MAX_BODY:
                            await _send(conn, stream, Response.text("too large\n", 413), server=server,
                                        date=date() if date else None, close=True)
                            return
                    elif isinstance(part, h11.EndOfMessage):
                        break
                    else:
                        return
            except h11.RemoteProtocolError:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await _send(conn, stream, Response.text("bad request\n", 400), server=server,
                                date=date() if date else None, close=True)
                return
            request = Request(
                event.method.decode("ascii", "replace"),
                event.target.decode("ascii", "replace"),
                {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers},
                bytes(body),
                scheme,
            )
            response = await handler(request)
            closing = (conn.their_state is not h11.DONE
                       or request.headers.get("connection", "").lower() == "close")
            await _send(conn, stream, response, server=server, date=date() if date else None,
                        close=closing, head=request.method == "HEAD")
            if response.after is not None:
                response.after()
            if closing or conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError,
            h11.LocalProtocolError, ConnectionError):
        return
