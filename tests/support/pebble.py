"""Pebble, the ACME test server of Let's Encrypt (Debian package `pebble`), started by a test.

Pebble implements RFC 8555 with IP identifiers (RFC 8738) and external account binding; it
validates http-01 for real, by fetching http://ADDRESS:HTTP_PORT/.well-known/acme-challenge/
TOKEN, so a test passes only if camscan answers on the device's loopback address. Its issuing
root is made anew at every start and published on its management interface.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509

from camscan import pki
from tests.support.tls_servers import unused_port

EAB_KID = "camscan-kid"
EAB_HMAC = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"  # base64url, test only


def available() -> bool:
    return shutil.which("pebble") is not None


@dataclass(frozen=True)
class Pebble:
    directory: str
    server_ca: Path  # pins pebble's own TLS certificate
    roots: Path  # the issuing root (what clients trust for the certificates it issues)
    intermediates: Path
    http_port: int
    log: Path
    management: str  # the management interface (roots, certificate status by serial)


@contextmanager
def pebble(tmp: Path, *, http_port: int | None = None, validity_days: int = 90) -> Iterator[Pebble]:
    """Pebble on 127.0.0.1. The ports are picked free then released, so another process on this
    machine may take one first: a start that fails is tried again (three times at most)."""
    for attempt in range(3):
        try:
            manager = _pebble(tmp / f"try{attempt}", http_port=http_port, validity_days=validity_days)
            server = manager.__enter__()
        except RuntimeError:
            if attempt == 2:
                raise
            continue
        try:
            yield server
        finally:
            manager.__exit__(None, None, None)
        return


@contextmanager
def _pebble(tmp: Path, *, http_port: int | None, validity_days: int) -> Iterator[Pebble]:
    tmp.mkdir(parents=True, exist_ok=True)
    tls_ca = pki.make_ca("pebble test WFE CA")
    wfe = pki.make_leaf(tls_ca, common_name="127.0.0.1", ips=["127.0.0.1"], dns=["localhost"])
    (tmp / "wfe.pem").write_bytes(wfe.cert_pem)
    (tmp / "wfe.key").write_bytes(wfe.key_pem)
    (tmp / "wfe-ca.pem").write_bytes(tls_ca.cert_pem)
    port, management = unused_port(), unused_port()
    http_port = http_port or unused_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{management}",
            "certificate": str(tmp / "wfe.pem"),
            "privateKey": str(tmp / "wfe.key"),
            "httpPort": http_port,
            "tlsPort": unused_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": True,
            "externalAccountMACKeys": {EAB_KID: EAB_HMAC},
            "certificateValidityPeriod": validity_days * 86400,
        }
    }
    (tmp / "pebble.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "PEBBLE_VA_NOSLEEP": "1",  # no random sleep before validating
        "PEBBLE_WFE_NONCEREJECT": "0",  # no deliberately rejected nonces
        "PEBBLE_AUTHZREUSE": "0",  # every order is validated for real
    }
    log = tmp / "pebble.log"
    with log.open("wb") as out:
        # DNS questions go to a port nothing answers on: only IP identifiers are used.
        process = subprocess.Popen(
            ["pebble", "-config", str(tmp / "pebble.json"), "-dnsserver", f"127.0.0.1:{unused_port()}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while b"ACME directory available" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pebble did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        context = ssl.create_default_context(cafile=str(tmp / "wfe-ca.pem"))
        with httpx.Client(verify=context, timeout=10) as client:
            root = client.get(f"https://127.0.0.1:{management}/roots/0").content
            intermediate = client.get(f"https://127.0.0.1:{management}/intermediates/0").content
        x509.load_pem_x509_certificate(root)
        (tmp / "roots.pem").write_bytes(root)
        (tmp / "intermediates.pem").write_bytes(intermediate)
        yield Pebble(
            f"https://127.0.0.1:{port}/dir", tmp / "wfe-ca.pem", tmp / "roots.pem",
            tmp / "intermediates.pem", http_port, log, f"https://127.0.0.1:{management}",
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
