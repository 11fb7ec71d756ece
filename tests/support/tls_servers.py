"""Real TLS (and deliberately broken) servers on 127.x for tests and benchmarks.

Start one inside a test's nursery: `host, port = await nursery.start(serve, spec)`. Each server
listens on its own 127.x address with port 0 and runs until the nursery is cancelled. Behaviours:

- "tls": handshake with the given chain, then answer one HTTP request with the given headers;
- "silent": accept and never say a word (the probe must time out);
- "garbage": send bytes that are not TLS (the probe must say not_tls);
- "reset": accept and reset the connection at once (SO_LINGER 0);
- "close": accept and close cleanly before the handshake.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    http_headers: list[tuple[str, str]] = field(
        default_factory=lambda: [("Server", "camscan-test"), ("Date", "Mon, 02 Jan 2023 03:04:05 GMT")]
    )
    http: bool = True  # False: close after the handshake without an HTTP answer


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


async def _handle(stream: trio.SocketStream, spec: ServerSpec, ctx: ssl.SSLContext | None) -> None:
    try:
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
            tls = trio.SSLStream(stream, ctx, server_side=True, https_compatible=True)
            await tls.do_handshake()
            if spec.http:
                with trio.move_on_after(5):
                    await _answer_http(tls, spec)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await tls.aclose()
            return
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, h11.ProtocolError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()


async def serve(
    spec: ServerSpec,
    host: str = "127.0.0.1",
    *,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on host:0 and serve `spec` until cancelled; reports (host, port) to nursery.start."""
    ctx = server_context(spec) if spec.behaviour == "tls" else None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    await sock.bind((host, 0))
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
