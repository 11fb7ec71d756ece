"""Does the endpoint still accept TLS 1.0 / 1.1? Asked with hand-built ClientHellos.

The stdlib's ssl module deprecates (and OpenSSL builds may disable) the old versions, so the
hellos are built with scapy's TLS layer and sent over a plain trio TCP stream; the first
record of the answer is parsed: a ServerHello with the offered version means "accepted", an
alert or a higher version means "refused". No handshake is completed, nothing is decrypted.

scapy is heavy to import (about a second) and must never load at `camscan --help`, so it is
imported inside these functions only.
"""

from __future__ import annotations

import warnings
from typing import Any

import trio

from camscan.model import Endpoint
from camscan.scanner.tls_probe import aclose_quietly, connect

LEGACY_VERSIONS: dict[str, int] = {"TLSv1.0": 0x0301, "TLSv1.1": 0x0302}

# Suites a TLS 1.0/1.1 server would pick: ECDHE and plain RSA with AES-CBC and 3DES, the
# ECDSA variants for EC-keyed devices, and RC4 for the very old.
_CIPHERS = (0xC013, 0xC014, 0xC009, 0xC00A, 0x0033, 0x0039, 0x002F, 0x0035, 0x000A, 0x0005)
_GROUPS = (23, 24, 25, 29)  # secp256r1, secp384r1, secp521r1, x25519
_MAX_RECORD = 16_384 + 2048


def _scapy_tls() -> dict[str, Any]:
    with warnings.catch_warnings():
        # scapy's crypto helpers touch deprecated cryptography names at import time.
        warnings.simplefilter("ignore")
        from scapy.layers.tls.extensions import (
            ServerName,
            TLS_Ext_RenegotiationInfo,
            TLS_Ext_ServerName,
            TLS_Ext_SupportedGroups,
            TLS_Ext_SupportedPointFormat,
        )
        from scapy.layers.tls.handshake import TLSClientHello, TLSServerHello
        from scapy.layers.tls.record import TLS, TLSAlert
    return {
        "ServerName": ServerName,
        "TLS_Ext_RenegotiationInfo": TLS_Ext_RenegotiationInfo,
        "TLS_Ext_ServerName": TLS_Ext_ServerName,
        "TLS_Ext_SupportedGroups": TLS_Ext_SupportedGroups,
        "TLS_Ext_SupportedPointFormat": TLS_Ext_SupportedPointFormat,
        "TLSClientHello": TLSClientHello,
        "TLSServerHello": TLSServerHello,
        "TLS": TLS,
        "TLSAlert": TLSAlert,
    }


def client_hello(version: int, server_name: str | None = None) -> bytes:
    """One TLS record carrying a ClientHello that offers exactly `version`."""
    s = _scapy_tls()
    extensions = [
        s["TLS_Ext_SupportedGroups"](groups=list(_GROUPS)),
        s["TLS_Ext_SupportedPointFormat"](ecpl=[0]),
        s["TLS_Ext_RenegotiationInfo"](),
    ]
    if server_name:
        name = s["ServerName"](servername=server_name.encode("idna"))
        extensions.insert(0, s["TLS_Ext_ServerName"](servernames=[name]))
    hello = s["TLSClientHello"](version=version, ciphers=list(_CIPHERS), comp=[0], ext=extensions)
    # The record layer says TLS 1.0, as real clients do for compatibility.
    return bytes(s["TLS"](version=0x0301, type=22, msg=[hello]))


def parse_answer(record: bytes, offered: int) -> bool | None:
    """True: ServerHello with the offered version; False: alert or another version; None: not TLS."""
    if len(record) < 5 or record[0] not in (21, 22):
        return None
    s = _scapy_tls()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = s["TLS"](record)
        except Exception:
            return None
    messages = getattr(parsed, "msg", None) or []
    first = messages[0] if messages else None
    if isinstance(first, s["TLSServerHello"]):
        return int(first.version) == offered
    if isinstance(first, s["TLSAlert"]) or record[0] == 21:
        return False
    return None


async def _read_first_record(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while True:
        if len(data) >= 5:
            needed = 5 + int.from_bytes(data[3:5], "big")
            if len(data) >= needed or needed > _MAX_RECORD:
                return data[: min(needed, _MAX_RECORD)]
        chunk = await stream.receive_some(4096)
        if not chunk:
            return data
        data += chunk
        if len(data) > _MAX_RECORD:
            return data[:_MAX_RECORD]


async def accepts_version(
    endpoint: Endpoint, version: str, *, connect_timeout: float, timeout: float
) -> bool | None:
    """Whether `endpoint` answers a `version` ClientHello with a ServerHello. None: unknown."""
    offered = LEGACY_VERSIONS[version]
    hello = client_hello(offered, endpoint.server_name)
    tcp = await connect(endpoint, connect_timeout)
    if not isinstance(tcp, trio.SocketStream):
        return None
    try:
        with trio.move_on_after(timeout):
            try:
                await tcp.send_all(hello)
                record = await _read_first_record(tcp)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                # A reset in answer to an old hello is how many stacks say no.
                return False
            if not record:
                return False  # closed without a word: refused
            return parse_answer(record, offered)
        return None
    finally:
        await aclose_quietly(tcp)


async def probe_legacy(
    endpoint: Endpoint, *, connect_timeout: float, timeout: float
) -> tuple[str, ...] | None:
    """The legacy versions the endpoint accepts (maybe empty); None if it could not be told."""
    accepted: list[str] = []
    for version in LEGACY_VERSIONS:
        verdict = await accepts_version(
            endpoint, version, connect_timeout=connect_timeout, timeout=timeout
        )
        if verdict is None:
            return None
        if verdict:
            accepted.append(version)
    return tuple(accepted)
