"""Trust anchors and bundles: the Mozilla roots, --ca-bundle files, and the trust configuration."""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.x509 import verification as xv

from camscan.errors import UsageError
from camscan.model import AuditContext
from camscan.rules.chains import (
    AnchorIndex,
    Candidate,
    identity,
)

PUBLIC = "public"
SITE = "site"
TRUST_MODES = (PUBLIC, SITE)

VERDICT_KEY = "camscan.rules.trust.verdict"
PUBLIC_VERDICT_KEY = "camscan.rules.trust.public_verdict"
AIA_KEY = "camscan.rules.trust.aia"
SIGS_KEY = "camscan.rules.trust.signatures"
FLEET_KEY = "camscan.rules.trust.fleet"

AIA_TIMEOUT = 3.0  # seconds per fetch: a dead AIA server must not stall an audit
AIA_MAX_BYTES = 256 * 1024  # an intermediate is ~1-2 KB; a PKCS#7 bundle a few KB
AIA_ROUNDS = 3  # fetched intermediates may themselves point at their issuer's AIA
AIA_CONCURRENCY = 8
CACHE_MAX_FILES = 2000




# ---------------------------------------------------------------- loading certificates


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """PEM (one or many), DER, or PKCS#7 (DER or PEM). Raises ValueError if none is found."""
    from cryptography.hazmat.primitives.serialization import pkcs7

    stripped = data.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        if b"-----BEGIN PKCS7-----" in data or b"-----BEGIN CMS-----" in data:
            return list(pkcs7.load_pem_pkcs7_certificates(data))
        if b"-----BEGIN CERTIFICATE-----" in data or b"-----BEGIN X509 CERTIFICATE-----" in data:
            return list(x509.load_pem_x509_certificates(data))
        raise ValueError("PEM data without a CERTIFICATE block")
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    try:
        certs = list(pkcs7.load_der_pkcs7_certificates(data))
    except Exception as exc:
        raise ValueError("neither PEM, DER nor PKCS#7 certificates") from exc
    if not certs:
        raise ValueError("a PKCS#7 structure without certificates")
    return certs


@dataclass(frozen=True)
class Bundle:
    """Certificates read from one file the user named."""

    path: str
    certs: tuple[x509.Certificate, ...]


def load_bundle(path: str | os.PathLike[str], *, option: str = "--ca-bundle") -> Bundle:
    """Read a PEM or DER bundle; an unreadable or empty file is a one-line UsageError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise UsageError(f"{option} {path}: the file is empty")
    try:
        certs = parse_certificates(data)
    except ValueError as exc:
        raise UsageError(f"{option} {path}: no certificate found ({exc})") from exc
    return Bundle(str(path), tuple(certs))


@functools.cache
def public_anchors() -> tuple[x509.Certificate, ...]:
    """The Mozilla root program's anchors as shipped by certifi."""
    import certifi
    from cryptography.utils import CryptographyDeprecationWarning

    with open(certifi.where(), "rb") as handle, warnings.catch_warnings():
        # One Mozilla root has a non-positive serial; cryptography warns, and a library
        # warning about the user's trust store is noise they cannot act on.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return tuple(x509.load_pem_x509_certificates(handle.read()))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "camscan" / "intermediates"


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TrustConfig:
    """What the audit trusts and where it may look for missing intermediates."""

    mode: str = PUBLIC
    site_bundles: tuple[Bundle, ...] = ()
    intermediates: tuple[Bundle, ...] = ()
    offline: bool = False
    cache_dir: Path | None = None  # None: no cache (neither read nor written)
    aia_timeout: float = AIA_TIMEOUT
    aia_max_bytes: int = AIA_MAX_BYTES

    def __post_init__(self) -> None:
        if self.mode not in TRUST_MODES:
            raise UsageError(f"--trust {self.mode!r}: expected one of {', '.join(TRUST_MODES)}")
        if self.mode == SITE and not any(b.certs for b in self.site_bundles):
            raise UsageError("--trust site needs at least one --ca-bundle FILE (the site's CA)")

    @cached_property
    def site_anchors(self) -> tuple[x509.Certificate, ...]:
        return tuple(c for b in self.site_bundles for c in b.certs)

    @cached_property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        if self.mode == SITE:
            return self.site_anchors
        return public_anchors() + self.site_anchors

    @cached_property
    def store(self) -> xv.Store:
        return xv.Store(list(self.anchors))

    @cached_property
    def anchor_index(self) -> AnchorIndex:
        return AnchorIndex(self.anchors)

    @cached_property
    def public_store(self) -> xv.Store:
        return _public_store()

    def anchor_source(self, cert: x509.Certificate) -> str:
        wanted = identity(cert)
        for bundle in self.site_bundles:
            if any(identity(c) == wanted for c in bundle.certs):
                return f"--ca-bundle {bundle.path}"
        return "Mozilla root store (certifi)"

    @cached_property
    def file_intermediates(self) -> tuple[Candidate, ...]:
        return tuple(
            Candidate(c, "intermediates-file", b.path) for b in self.intermediates for c in b.certs
        )

    @cached_property
    def cached_intermediates(self) -> tuple[Candidate, ...]:
        """Intermediates fetched by earlier runs (DER files named by their SHA-256)."""
        if self.cache_dir is None or not self.cache_dir.is_dir():
            return ()
        found: list[Candidate] = []
        for entry in sorted(self.cache_dir.glob("*.der"))[:CACHE_MAX_FILES]:
            try:
                cert = x509.load_der_x509_certificate(entry.read_bytes())
            except (OSError, ValueError):
                continue  # a corrupt cache entry is not the user's problem
            found.append(Candidate(cert, "cache", str(entry)))
        return tuple(found)


@functools.cache
def public_index() -> AnchorIndex:
    return AnchorIndex(public_anchors())


@functools.cache
def _public_store() -> xv.Store:
    return xv.Store(list(public_anchors()))


_DEFAULT_CONFIG: TrustConfig | None = None


def config_of(ctx: AuditContext) -> TrustConfig:
    """ctx.trust, or (for contexts built without options) public trust, offline, no cache."""
    global _DEFAULT_CONFIG
    if isinstance(ctx.trust, TrustConfig):
        return ctx.trust
    if _DEFAULT_CONFIG is None:
        _DEFAULT_CONFIG = TrustConfig(offline=True)
    return _DEFAULT_CONFIG
