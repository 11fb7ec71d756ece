"""The permissive TLS probe: connect, handshake whatever the certificate, record what was sent.

Trust is judged later by the rules; here an expired, self-signed, SHA-1 or RSA-1024 chain must
complete the handshake so it can be recorded. Every way a probe can end badly maps to one
`FailureKind`; only programming errors propagate.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import socket
import ssl
import sys
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import trio

from camscan.model import Endpoint, FailureKind, Observation, ProbeFailure, ProbeStage
from camscan.scanner.http_facts import DEFAULT_MAX_BYTES, fetch_http_facts, host_header

# OpenSSL 3 refuses servers without RFC 5746 secure renegotiation unless this is set; old
# camera firmware lacks it. (ssl exposes the constant from Python 3.12 on.)
_OP_LEGACY_SERVER_CONNECT = getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0x4)

_UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
_RESET_ERRNOS = {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}
_NOT_TLS_REASONS = (
    "WRONG_VERSION_NUMBER",
    "UNKNOWN_PROTOCOL",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "UNEXPECTED_MESSAGE",
    "BAD_PACKET_LENGTH",
    "RECORD_LENGTH_MISMATCH",
    "WRONG_SSL_VERSION",
    "LENGTH_MISMATCH",
)


@dataclass(frozen=True)
class ProbeSettings:
    connect_timeout: float = 3.0
    handshake_timeout: float = 5.0
    http_facts: bool = True
    http_timeout: float = 3.0
    http_max_bytes: int = DEFAULT_MAX_BYTES


@cache
def client_context() -> ssl.SSLContext:
    """Accept any certificate and any protocol OpenSSL still speaks (TLS 1.0 up, SECLEVEL 0)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # SECLEVEL=0 lets RSA-1024 keys and SHA-1 signatures through; anonymous suites are
    # excluded because a chain-less handshake would tell us nothing.
    ctx.set_ciphers("ALL:!aNULL:!eNULL:@SECLEVEL=0")
    ctx.options |= _OP_LEGACY_SERVER_CONNECT
    with warnings.catch_warnings():
        # The stdlib deprecates TLSv1 as a minimum; a scanner must still see such devices.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        except (ValueError, ssl.SSLError):  # pragma: no cover - OpenSSL built without TLS 1.0
            pass
    return ctx


_last_moment: dt.datetime = dt.datetime.min.replace(tzinfo=dt.UTC)


def _now() -> dt.datetime:
    """UTC now, to the millisecond, one object per millisecond: the thousands of failures a
    sweep of an empty /16 records within one millisecond share their timestamp."""
    global _last_moment
    moment = dt.datetime.now(dt.UTC)
    moment = moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)
    if moment != _last_moment:
        _last_moment = moment
    return _last_moment


def _failure(endpoint: Endpoint, stage: ProbeStage, kind: FailureKind, detail: str) -> ProbeFailure:
    return ProbeFailure(endpoint, stage, kind, detail[:300], _now())


def classify_os_error(exc: OSError) -> FailureKind:
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return FailureKind.REFUSED
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return FailureKind.RESET
    if exc.errno in _UNREACHABLE_ERRNOS:
        return FailureKind.UNREACHABLE
    if exc.errno in _RESET_ERRNOS:
        return FailureKind.RESET
    if isinstance(exc, TimeoutError) or exc.errno == errno.ETIMEDOUT:
        return FailureKind.TIMEOUT
    return FailureKind.ERROR


def classify_handshake_error(exc: BaseException) -> tuple[FailureKind, str]:
    """Map what trio.SSLStream raised (BrokenResourceError wrapping ssl/OS errors) to a kind."""
    cause: BaseException = exc
    if isinstance(exc, trio.BrokenResourceError) and exc.__cause__ is not None:
        cause = exc.__cause__
    detail = f"{type(cause).__name__}: {cause}"
    if isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return FailureKind.RESET, "connection closed during the handshake"
    if isinstance(cause, ssl.SSLError):
        reason = (cause.reason or "").upper()
        text = str(cause).upper()
        if "UNEXPECTED_EOF" in reason or ("EOF" in text and "VIOLATION" in text):
            return FailureKind.RESET, "connection closed during the handshake"
        if any(r in reason for r in _NOT_TLS_REASONS):
            return FailureKind.NOT_TLS, f"the peer does not speak TLS ({cause.reason})"
        return FailureKind.HANDSHAKE_FAILED, detail
    if isinstance(cause, OSError):
        kind = classify_os_error(cause)
        return (FailureKind.RESET if kind is FailureKind.REFUSED else kind), detail
    if isinstance(exc, trio.BrokenResourceError):
        return FailureKind.RESET, "connection closed during the handshake"
    return FailureKind.ERROR, detail


def presented_chain(ssl_object: Any) -> tuple[bytes, ...]:
    """The certificates the peer sent, in order, as DER (Python 3.13 public API or 3.11 private)."""
    public = getattr(ssl_object, "get_unverified_chain", None)
    raw: Any = public() if public is not None else ssl_object._sslobj.get_unverified_chain()
    if not raw:
        return ()
    encoding_der = getattr(ssl, "_ssl").ENCODING_DER  # noqa: B009 - private module on purpose
    return tuple(item if isinstance(item, bytes) else item.public_bytes(encoding_der) for item in raw)


def _sockaddr(endpoint: Endpoint) -> tuple[int, tuple[Any, ...]]:
    """The family and socket address of an IP endpoint, without any name lookup.

    An IPv6 address may carry a zone (fe80::1%eth0): getaddrinfo with AI_NUMERICHOST turns
    it into the scope id a plain (address, port) tuple would drop. A host name is a bug
    here (sweep resolves names first) and must not become a blocking lookup on the event loop.
    """
    address = endpoint.address
    if ":" in address:
        info = socket.getaddrinfo(address, endpoint.port, socket.AF_INET6, socket.SOCK_STREAM, 0,
                                  socket.AI_NUMERICHOST)
        return socket.AF_INET6, info[0][4]
    socket.inet_pton(socket.AF_INET, address)  # OSError for anything but a dotted quad
    return socket.AF_INET, (address, endpoint.port)


@cache
def _connect_error(code: int) -> tuple[FailureKind, str]:
    # One entry per errno seen: a /16 of refusals shares one kind and one detail string.
    return classify_os_error(OSError(code, os.strerror(code))), sys.intern(os.strerror(code))


def _connect_failure(endpoint: Endpoint, code: int) -> ProbeFailure:
    kind, detail = _connect_error(code)
    return ProbeFailure(endpoint, ProbeStage.CONNECT, kind, detail, _now())


async def connect(endpoint: Endpoint, timeout: float) -> trio.SocketStream | ProbeFailure:
    """A TCP connection to an IP endpoint, or the failure it ended in.

    A plain nonblocking connect, the trio way (wait until writable, then read SO_ERROR), with
    one shortcut that makes a sweep of refused addresses cheap: the kernel often knows the
    answer before connect() returns (a local RST, an unreachable route), so SO_ERROR is read
    once before registering with the event loop. Only a connection still pending waits, under
    its own timeout.
    """
    family, sockaddr = _sockaddr(endpoint)
    sock = socket.socket(family, socket.SOCK_STREAM)
    waited = False
    try:
        sock.setblocking(False)
        code = sock.connect_ex(sockaddr)
        if code == errno.EINPROGRESS:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                # Still pending (SO_ERROR is 0 both while connecting and once connected).
                waited = True
                with trio.CancelScope(deadline=trio.current_time() + timeout) as scope:
                    await trio.lowlevel.wait_writable(sock)
                if scope.cancelled_caught:
                    _close(sock, waited)
                    return _failure(endpoint, ProbeStage.CONNECT, FailureKind.TIMEOUT,
                                    f"no answer within {timeout:g}s")
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            _close(sock, waited)
            return _connect_failure(endpoint, code)
    except BaseException:
        _close(sock, waited)
        raise
    return trio.SocketStream(trio.socket.from_stdlib_socket(sock))


def _close(sock: socket.socket, waited: bool) -> None:
    # trio must forget an fd it waited on before the number can be reused (notify_closing);
    # a socket it never saw needs no such step.
    if waited:
        trio.lowlevel.notify_closing(sock)
    sock.close()


async def aclose_quietly(stream: trio.abc.AsyncResource, timeout: float = 1.0) -> None:
    # trio closes the transport even if the close_notify cannot be sent in time.
    with trio.move_on_after(timeout):
        try:
            await stream.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass


async def probe(endpoint: Endpoint, settings: ProbeSettings) -> Observation | ProbeFailure:
    """Connect, handshake permissively, record the chain; then one bounded HTTP request."""
    tcp = await connect(endpoint, settings.connect_timeout)
    if isinstance(tcp, ProbeFailure):
        return tcp
    stream = trio.SSLStream(
        tcp,
        client_context(),
        server_hostname=endpoint.server_name,  # None for an IP target: no SNI
        https_compatible=True,
    )
    try:
        try:
            with trio.fail_after(settings.handshake_timeout):
                await stream.do_handshake()
        except trio.TooSlowError:
            return _failure(
                endpoint,
                ProbeStage.HANDSHAKE,
                FailureKind.TIMEOUT,
                f"TLS handshake did not finish within {settings.handshake_timeout:g}s",
            )
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError) as exc:
            kind, detail = classify_handshake_error(exc)
            return _failure(endpoint, ProbeStage.HANDSHAKE, kind, detail)
        observed_at = _now()
        ssl_object = stream._ssl_object  # trio does not forward get_unverified_chain
        chain = presented_chain(ssl_object)
        if not chain:
            return _failure(
                endpoint, ProbeStage.HANDSHAKE, FailureKind.HANDSHAKE_FAILED, "no certificate presented"
            )
        cipher = ssl_object.cipher()
        version = ssl_object.version() or "unknown"
        http = None
        if settings.http_facts:
            http = await fetch_http_facts(
                stream,
                host_header(endpoint.address, endpoint.port, endpoint.server_name),
                timeout=settings.http_timeout,
                max_bytes=settings.http_max_bytes,
            )
        return Observation(
            endpoint=endpoint,
            chain_der=chain,
            tls_version=version,
            cipher=cipher[0] if cipher else "unknown",
            observed_at=observed_at,
            http=http,
        )
    finally:
        await aclose_quietly(stream)
