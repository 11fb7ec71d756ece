"""Does the endpoint still accept TLS 1.0 / 1.1? Asked with one hand-built ClientHello.

The stdlib's ssl module deprecates (and OpenSSL builds may disable) the old versions, so the
hello is built with scapy's TLS layer and sent over a plain trio TCP stream. It offers TLS 1.0
and 1.1 together (client_version 1.1); the server answers with the highest version it will
speak: a ServerHello for 1.1 or 1.0 says which legacy version it accepts, an alert (or a
version above the offer) that it accepts neither. No handshake is completed, nothing is
decrypted: one connection per device, beside the certificate connection.

scapy is heavy to import (about a second) and must never load at `camscan --help`, so it is
imported inside these functions only, and each hello is built once per name (then only its
random changes).
"""

from __future__ import annotations

import functools
import os
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
_VERSION_NAMES = {code: name for name, code in LEGACY_VERSIONS.items()}
_RANDOM_AT = 11  # record header (5) + handshake header (4) + client_version (2)


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


def _build_hello(version: int, server_name: str | None) -> bytes:
    """One TLS record carrying a ClientHello whose highest version is `version` (scapy)."""
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


@functools.lru_cache(maxsize=1024)
def _hello_template(version: int, server_name: str | None) -> bytes:
    # scapy takes ~11 ms to build a hello: build it once per version and name, then only the
    # random changes (a /24 of devices costs one build, not 254).
    return _build_hello(version, server_name)


def client_hello(version: int, server_name: str | None = None) -> bytes:
    """A ClientHello offering every version up to `version`, with a fresh client random."""
    template = _hello_template(version, server_name)
    return template[:_RANDOM_AT] + os.urandom(32) + template[_RANDOM_AT + 32:]


def parse_answer(record: bytes) -> str | bool | None:
    """The legacy version a ServerHello picked ("TLSv1.0" / "TLSv1.1"); False when the server
    refused (an alert, or a version above what was offered); None when the answer is not TLS.

    Read from the record's fixed layout (type, ServerHello, server_version): no parser needed
    for three fields, and no scapy on the hot path.
    """
    if len(record) < 5 or record[0] not in (21, 22):
        return None
    if record[0] == 21:
        return False
    if len(record) < 11 or record[5] != 2:  # handshake type 2: ServerHello
        return None
    return _VERSION_NAMES.get(int.from_bytes(record[9:11], "big"), False)


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


async def probe_legacy(
    endpoint: Endpoint, *, connect_timeout: float, timeout: float
) -> tuple[str, ...] | None:
    """The highest legacy version the endpoint accepts, as a 1-tuple (empty: it accepts none;
    None: it could not be told). One connection: the hello offers TLS 1.0 and 1.1 together and
    the server picks the highest it will speak; a server that wants 1.2 or later refuses."""
    hello = client_hello(LEGACY_VERSIONS["TLSv1.1"], endpoint.server_name)
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
                return ()
            if not record:
                return ()  # closed without a word: refused
            verdict = parse_answer(record)
            if verdict is None:
                return None
            return (verdict,) if isinstance(verdict, str) else ()
        return None
    finally:
        await aclose_quietly(tcp)
