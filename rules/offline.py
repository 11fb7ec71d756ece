"""The offline check: judge certificate files before they are uploaded to a device.

Pure functions over bytes, so the conformance suite, the tests and `camscan check` share one
code path: `load_certificate_file` / `load_key_file` recognise PEM, DER and PKCS#12,
`observation_for` turns a chain into the Observation a scan would have made, and
`check_chain` runs every registered rule on it (plus CS501, key vs certificate).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from camscan.certinfo import cert_der
from camscan.errors import UsageError
from camscan.model import AuditContext, Endpoint, Finding, Observation, Severity
from camscan.rules.trust import ChainVerdict, chain_verdict, parse_certificates

# Where the offline check leaves the private key's public half for CS501 (leaf sha256 -> SPKI).
KEY_SPKI_CACHE = "camscan.rules.offline.key_spki"
OFFLINE_PORT = 443  # nominal: files have no port; reports need one
# A --dns check has no address; the name is what is matched. Never contacted, never bound.
DNS_PLACEHOLDER_ADDRESS = "0.0.0.0"  # noqa: S104

PasswordSource = Callable[[], bytes | None]


@dataclass
class Material:
    """What one file held: certificates (file order) and possibly a private key."""

    certs: list[x509.Certificate] = field(default_factory=list)
    key: object | None = None
    kind: str = ""  # "pem", "der", "pkcs12"


def _looks_pkcs12(data: bytes) -> bool:
    # PKCS#12 is a DER SEQUENCE whose first element is INTEGER 3 (the version).
    return data[:1] == b"\x30" and b"\x02\x01\x03" in data[:8]


def _load_pkcs12(data: bytes, name: str, password: PasswordSource) -> Material:
    attempts: list[bytes | None] = [None, b""]
    for attempt in range(3):
        pw = attempts[attempt] if attempt < 2 else password()
        if attempt == 2 and pw is None:
            break
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, pw)
        except ValueError:
            continue
        certs = ([cert] if cert is not None else []) + list(extra)
        return Material(certs, key, "pkcs12")
    raise UsageError(
        f"{name}: PKCS#12 file could not be opened (wrong or missing password: set "
        "CAMSCAN_P12_PASSWORD, or run on a terminal to be prompted)"
    )


def load_certificate_file(data: bytes, name: str, password: PasswordSource) -> Material:
    """PEM (certificates, and a key if the file holds one), DER, PKCS#7 or PKCS#12."""
    if not data.strip():
        raise UsageError(f"{name}: the file is empty")
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            certs = parse_certificates(data)
        except ValueError as exc:
            raise UsageError(f"{name}: no certificate found ({exc})") from exc
        key = None
        if b"PRIVATE KEY-----" in data:
            key = _pem_key(data, name, password)
        return Material(certs, key, "pem")
    if _looks_pkcs12(data):
        return _load_pkcs12(data, name, password)
    try:
        return Material(parse_certificates(data), None, "der")
    except ValueError:
        pass
    try:
        return _load_pkcs12(data, name, password)
    except UsageError:
        raise UsageError(f"{name}: not a certificate (expected PEM, DER, PKCS#7 or PKCS#12)") from None


def _pem_key(data: bytes, name: str, password: PasswordSource) -> object:
    start = data.find(b"-----BEGIN")
    blocks = [b for b in data[start:].split(b"-----END") if b"PRIVATE KEY" in b]
    if not blocks:
        raise UsageError(f"{name}: no private key found")
    try:
        return serialization.load_pem_private_key(data, None)
    except TypeError:  # encrypted: needs a password
        pw = password()
        if pw is None:
            raise UsageError(
                f"{name}: the private key is encrypted; set CAMSCAN_KEY_PASSWORD "
                "(or run on a terminal to be prompted)"
            ) from None
        try:
            return serialization.load_pem_private_key(data, pw)
        except ValueError:
            raise UsageError(f"{name}: wrong password for the private key") from None
    except ValueError as exc:
        raise UsageError(f"{name}: unreadable private key ({exc})") from None


def load_key_file(data: bytes, name: str, password: PasswordSource) -> object:
    """A private key: PEM (PKCS#8 or traditional, possibly encrypted), DER, or PKCS#12."""
    if not data.strip():
        raise UsageError(f"{name}: the file is empty")
    if data.lstrip().startswith(b"-----BEGIN"):
        return _pem_key(data, name, password)
    try:
        return serialization.load_der_private_key(data, None)
    except (ValueError, TypeError):
        pass
    material = _load_pkcs12(data, name, password)
    if material.key is None:
        raise UsageError(f"{name}: the PKCS#12 file holds no private key")
    return material.key


def key_spki(key: object) -> bytes:
    public = key.public_key()  # type: ignore[attr-defined]
    return bytes(
        public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def assemble_chain(
    cert_material: Material, chain_material: Material | None
) -> list[x509.Certificate]:
    """Leaf first: the CERT file's first certificate, then the rest of it, then --chain's."""
    chain = list(cert_material.certs)
    if chain_material is not None:
        seen = {cert_der(c) for c in chain}
        chain += [c for c in chain_material.certs if cert_der(c) not in seen]
    return chain


def validate_target(ip: str | None, dns: str | None) -> tuple[str | None, str | None]:
    """Normalised (ip, dns); a bad value is a UsageError naming it."""
    if ip is not None:
        try:
            return str(ipaddress.ip_address(ip.strip())), None
        except ValueError:
            raise UsageError(f"--ip {ip!r}: not an IPv4 or IPv6 address") from None
    if dns is not None:
        name = dns.strip().rstrip(".")
        try:
            ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            raise UsageError(f"--dns {dns!r} is an IP address: use --ip {name}")
        if not name or len(name) > 253 or any(not label or len(label) > 63 for label in name.split(".")):
            raise UsageError(f"--dns {dns!r}: not a valid host name")
        return None, name.lower()
    raise UsageError("give the name to check: --ip IP or --dns NAME")


def observation_for(
    chain: Sequence[x509.Certificate], *, ip: str | None, dns: str | None, now: dt.datetime
) -> Observation:
    """The Observation a scan would have recorded had the device presented `chain`."""
    endpoint = Endpoint(ip or DNS_PLACEHOLDER_ADDRESS, OFFLINE_PORT, dns)
    return Observation(
        endpoint=endpoint,
        chain_der=tuple(cert_der(c) for c in chain),
        tls_version="offline",
        cipher="offline",
        observed_at=now,
    )


@dataclass(frozen=True)
class CheckResult:
    observation: Observation
    findings: tuple[Finding, ...]
    verdict: ChainVerdict

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def passed(self) -> bool:
        """No error-severity finding (the exit status of `camscan check`)."""
        return self.errors == 0


def check_chain(
    chain: Sequence[x509.Certificate],
    ctx: AuditContext,
    *,
    ip: str | None = None,
    dns: str | None = None,
    key: object | None = None,
) -> CheckResult:
    """Run every registered rule on `chain` as if a device at `ip` / named `dns` presented it."""
    from camscan.rules.registry import evaluate

    if not chain:
        raise UsageError("no certificate to check")
    obs = observation_for(chain, ip=ip, dns=dns, now=ctx.now)
    if key is not None:
        ctx.cache.setdefault(KEY_SPKI_CACHE, {})[obs.leaf_sha256] = key_spki(key)
    findings = tuple(evaluate([obs], ctx))
    return CheckResult(obs, findings, chain_verdict(obs, ctx))
