"""Real TLS (and deliberately broken) servers on 127.x for tests and benchmarks.

Start one inside a test's nursery: `host, port = await nursery.start(serve, spec)`. Each server
listens on its own 127.x address with port 0 and runs until the nursery is cancelled. Behaviours:

- "tls": handshake with the given chain, then answer one HTTP request with the given headers;
- "tls-stall": handshake, then never answer the HTTP request;
- "silent": accept and never say a word (the probe must time out);
- "garbage": send bytes that are not TLS (the probe must say not_tls);
- "reset": accept and reset the connection at once (SO_LINGER 0);
- "close": accept and close cleanly before the handshake.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import ssl
import struct
import tempfile
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import h11
import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan.pki import PrivateKey, key_to_pem


@dataclass
class ServerSpec:
    chain: Sequence[x509.Certificate] = ()  # leaf first, sent in this order
    key: PrivateKey | None = None
    key_pem: bytes | None = None  # alternative to `key` (e.g. an openssl-made key file)
    behaviour: str = "tls"
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED
    http_status: int = 200
    # bytes for what a str cannot say on the wire (invalid UTF-8 from a hostile device)
    http_headers: list[tuple[str | bytes, str | bytes]] = field(
        default_factory=lambda: [("Server", "camscan-test"), ("Date", "Mon, 02 Jan 2023 03:04:05 GMT")]
    )
    http: bool = True  # False: close after the handshake without an HTTP answer
    client_ca: x509.Certificate | None = None  # demand a client certificate issued by this CA
    hold: float = 0.0  # keep each connection open this long before answering (limit tests)
    stats: ServerStats = field(default_factory=lambda: ServerStats())


@dataclass
class ServerStats:
    """What a server saw: connections accepted, peak concurrency, SNI names (None = no SNI)."""

    accepted: int = 0
    active: int = 0
    peak: int = 0
    accept_times: list[float] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)


def server_context(spec: ServerSpec) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # SECLEVEL 0 first: OpenSSL refuses to load an RSA-1024 or SHA-1 certificate otherwise.
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = spec.min_version
        ctx.maximum_version = spec.max_version
    key_pem = spec.key_pem or (key_to_pem(spec.key) if spec.key is not None else None)
    assert key_pem is not None and spec.chain, "a TLS server needs a chain and a key"
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in spec.chain)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = os.path.join(tmp, "chain.pem"), os.path.join(tmp, "key.pem")
        with open(cert_path, "wb") as handle:
            handle.write(chain_pem)
        with open(key_path, "wb") as handle:
            handle.write(key_pem)
        ctx.load_cert_chain(cert_path, key_path)
    if spec.client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=spec.client_ca.public_bytes(serialization.Encoding.PEM).decode())

    def record_sni(_obj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        spec.stats.server_names.append(server_name)

    ctx.sni_callback = record_sni
    return ctx


async def _answer_http(stream: trio.abc.Stream, spec: ServerSpec) -> None:
    conn = h11.Connection(our_role=h11.SERVER)
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(4096)
            if not data:
                return
            conn.receive_data(bytes(data))
            continue
        if isinstance(event, h11.Request):
            break
        return
    headers = [*spec.http_headers, ("Content-Length", "0"), ("Connection", "close")]
    await stream.send_all(conn.send(h11.Response(status_code=spec.http_status, headers=headers)) or b"")
    await stream.send_all(conn.send(h11.EndOfMessage()) or b"")


async def _fail_handshake_with_alert(stream: trio.SocketStream, ctx: ssl.SSLContext) -> None:
    """Run the server handshake over memory BIOs and flush the alert OpenSSL writes when it
    fails (trio.SSLStream drops it, and a real device would send it)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_side=True)
    # Bounded: a client that stops mid-handshake must not keep this connection open forever.
    with trio.move_on_after(10):
        for _ in range(64):  # a handshake takes a handful of round trips
            try:
                obj.do_handshake()
                return
            except ssl.SSLWantReadError:
                await stream.send_all(outgoing.read())
                data = await stream.receive_some(65536)
                if not data:
                    return
                incoming.write(data)
            except ssl.SSLError:
                await stream.send_all(outgoing.read())
                return


async def _handle(stream: trio.SocketStream, spec: ServerSpec, ctx: ssl.SSLContext | None) -> None:
    stats = spec.stats
    stats.accepted += 1
    stats.active += 1
    stats.peak = max(stats.peak, stats.active)
    stats.accept_times.append(trio.current_time())
    try:
        if spec.hold:
            await trio.sleep(spec.hold)
        if spec.behaviour == "silent":
            await trio.sleep_forever()
        elif spec.behaviour == "garbage":
            await stream.send_all(b"SSH-2.0-OpenSSH_9.0 this is not TLS\r\n" * 4)
            await trio.sleep(5)
        elif spec.behaviour == "reset":
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif spec.behaviour == "close":
            pass
        else:
            assert ctx is not None
            if spec.client_ca is not None:
                await _fail_handshake_with_alert(stream, ctx)
                return
            tls = trio.SSLStream(stream, ctx, server_side=True, https_compatible=True)
            await tls.do_handshake()
            if spec.behaviour == "tls-stall":
                await trio.sleep_forever()
            if spec.http:
                with trio.move_on_after(5):
                    await _answer_http(tls, spec)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await tls.aclose()
            return
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, h11.ProtocolError):
        pass
    finally:
        stats.active -= 1
        with contextlib.suppress(Exception):
            await stream.aclose()


async def serve(
    spec: ServerSpec,
    host: str = "127.0.0.1",
    *,
    port: int = 0,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on host:port (0: any free port) and serve `spec` until cancelled.

    Reports the bound (host, port) to nursery.start.
    """
    ctx = server_context(spec) if spec.behaviour.startswith("tls") else None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    await sock.bind((host, port))
    sock.listen(128)
    listener = trio.SocketListener(sock)
    port = sock.getsockname()[1]
    async with listener, trio.open_nursery() as nursery:
        task_status.started((host, port))
        while True:
            stream = await listener.accept()
            nursery.start_soon(_handle, stream, spec, ctx)


def unused_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (bound then released): connecting to it is refused."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextlib.contextmanager
def serve_in_thread(
    servers: Sequence[tuple[ServerSpec, str]],
) -> Iterator[list[tuple[str, int]]]:
    """Run servers in their own trio loop on a thread, for sync code (CLI tests, benchmarks)."""
    with run_in_thread(_serve_all, servers) as addresses:
        yield addresses


async def _serve_all(
    servers: Sequence[tuple[ServerSpec, str]],
    *,
    task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with trio.open_nursery() as nursery:
        task_status.started([await nursery.start(serve, spec, host) for spec, host in servers])


@contextlib.contextmanager
def run_in_thread(
    start: Callable[..., Awaitable[object]], *args: object, startup_timeout: float = 60
) -> Iterator[Any]:
    """Run `await start(*args, task_status=...)` in its own trio loop on a thread and yield what
    it reports to task_status; on exit, cancel it through the loop's token (no polling) and
    join the thread. An error before start-up is raised here, not lost in the thread."""
    ready: queue.Queue[tuple[Any, trio.lowlevel.TrioToken, trio.CancelScope] | BaseException] = (
        queue.Queue()
    )

    async def main() -> None:
        try:
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:
                    value = await nursery.start(start, *args)
                    ready.put((value, trio.lowlevel.current_trio_token(), scope))
        except BaseException as exc:
            ready.put(exc)

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    item = ready.get(timeout=startup_timeout)
    if isinstance(item, BaseException):
        raise item
    value, token, scope = item
    try:
        yield value
    finally:
        with contextlib.suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(scope.cancel, trio_token=token)
        thread.join(timeout=30)
    assert not thread.is_alive(), "the server thread did not stop within 30 s"
    late = None if ready.empty() else ready.get_nowait()
    if isinstance(late, BaseException):  # the servers crashed while the test ran: say so
        raise late
