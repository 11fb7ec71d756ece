"""The interface every issuer implements, and the checks camscan makes on what comes back.

An issuer turns a CSR for one device into a certificate chain (leaf first). camscan never
trusts that answer blindly: the leaf must carry the CSR's public key and every name of the
device, and be valid now. A wrong answer is refused before anything reaches the device, so the
device keeps serving what it served.

Errors have a closed `kind` so the apply engine, the audit log and `camscan issuer test` can say
in one line what is wrong: unreachable, trust (the server is not the one pinned), auth, refused
(the issuer answered no), pending (an enrolment that did not complete in time), timeout,
protocol (an answer that is not what the standard says) and config.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan.errors import CamscanError
from camscan.termtext import sanitize

KINDS = ("unreachable", "trust", "auth", "refused", "pending", "timeout", "protocol", "config")
MAX_MESSAGE = 300  # characters of a server's or a command's text quoted in an error


class IssuerError(CamscanError):
    """An issuer that could not issue (or revoke). Messages never carry a secret."""

    def __init__(self, kind: str, message: str) -> None:
        assert kind in KINDS, kind
        super().__init__(message)
        self.kind = kind

    def __str__(self) -> str:
        return f"issuer {self.kind}: {self.args[0]}"


def quote_remote(text: str | bytes) -> str:
    """Text a server or a command produced, made safe for one line of a terminal or a log."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    one_line = " ".join(text.split())
    clipped = one_line if len(one_line) <= MAX_MESSAGE else one_line[:MAX_MESSAGE] + "..."
    return sanitize(clipped)


@dataclass(frozen=True)
class Enrolment:
    """What one device needs: its CSR, the names its certificate must carry, the lifetime."""

    csr: x509.CertificateSigningRequest
    ips: tuple[str, ...]
    dns: tuple[str, ...]
    days: int
    renewal: bool = False  # replacing a certificate this issuer issued (EST /simplereenroll)
    identity: str | None = None  # the device (vendor, model, serial, port), for the site CA's inventory

    @property
    def csr_pem(self) -> bytes:
        return self.csr.public_bytes(serialization.Encoding.PEM)


@runtime_checkable
class Issuer(Protocol):
    """One configured issuer. `revoke` is optional: `supports_revoke` says whether it exists."""

    name: str
    kind: str
    # True when the issuer certifies only what the CSR itself asks (ACME, EST): a device CSR
    # without the device's names (ONVIF, ISAPI cannot put a SAN in one) cannot be used, and
    # camscan makes the key here instead.
    needs_csr_names: bool

    @property
    def supports_revoke(self) -> bool: ...

    async def issue(self, enrolment: Enrolment) -> list[x509.Certificate]:
        """The chain for the CSR, leaf first (checked by `check_issued` before it is used)."""
        ...

    async def revoke(self, cert: x509.Certificate, reason: str) -> None: ...

    def describe(self) -> str:
        """One line: the kind and where it issues from (no secret)."""
        ...

    async def test(self) -> str:
        """Check reachability, trust and credentials end to end; a one-line summary, or raise."""
        ...

    async def trust_anchors(self) -> list[x509.Certificate]:
        """The roots clients trust for this issuer's certificates (what the rescan trusts)."""
        ...


def csr_names(csr: x509.CertificateSigningRequest) -> tuple[set[str], set[str]]:
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    return (
        {str(ip) for ip in san.get_values_for_type(x509.IPAddress)},
        {d.lower() for d in san.get_values_for_type(x509.DNSName)},
    )


def wanted_names(ips: Sequence[str], dns: Sequence[str]) -> tuple[set[str], set[str]]:
    return {str(ipaddress.ip_address(i)) for i in ips}, {d.lower() for d in dns}


def check_issued(chain: Sequence[x509.Certificate], enrolment: Enrolment, issuer: str) -> None:
    """Refuse an answer that would leave the device with a wrong certificate."""
    if not chain:
        raise IssuerError("protocol", f"{issuer} returned no certificate")
    leaf = chain[0]
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if leaf.public_key().public_bytes(der, spki) != enrolment.csr.public_key().public_bytes(der, spki):
        raise IssuerError("protocol", f"{issuer} returned a certificate for another key than the CSR's")
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise IssuerError("refused", f"{issuer} issued a certificate without the device's names") from None
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    have_dns = {d.lower() for d in san.get_values_for_type(x509.DNSName)}
    want_ips, want_dns = wanted_names(enrolment.ips, enrolment.dns)
    missing = sorted((want_ips - have_ips) | (want_dns - have_dns))
    if missing:
        raise IssuerError(
            "refused", f"{issuer} issued a certificate without {', '.join(missing)} (the device's names)"
        )
    now = dt.datetime.now(dt.UTC)
    if not leaf.not_valid_before_utc <= now + dt.timedelta(minutes=5) or leaf.not_valid_after_utc <= now:
        raise IssuerError("protocol", f"{issuer} returned a certificate that is not valid now")


def parse_pem_chain(data: bytes, issuer: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise IssuerError("protocol", f"{issuer} returned something that is not a PEM certificate") from None
