"""CS104: keyUsage or extendedKeyUsage does not allow TLS server authentication.

## What it checks
On the leaf: an extendedKeyUsage extension that lists neither serverAuth nor
anyExtendedKeyUsage; a keyUsage extension that lacks what a TLS server key needs:
digitalSignature (ECDHE key exchange, every TLS 1.3 handshake) or, for RSA keys only,
keyEncipherment (RSA key transport, TLS 1.2 and older). An RSA key allowed keyEncipherment
but not digitalSignature is reported as a warning: it works only with RSA key transport, which
TLS 1.3 removed. Absent extensions impose no limit and pass.

## Why it matters
RFC 5280 4.2.1.3 and 4.2.1.12: a certificate may be used only for what its key usages allow,
and TLS clients enforce it (RFC 8446 4.4.2.2; CA/B Forum BRs 7.1.2.7.10-11). A certificate
made for client authentication or e-mail, uploaded to a camera by mistake, fails in every
browser with an error that rarely names the real cause.

## How to fix
Re-issue the certificate with extendedKeyUsage serverAuth and keyUsage digitalSignature
(plus keyEncipherment for RSA keys).
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from camscan.certinfo import public_key
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, extension, leaf_of

_KU_FLAGS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def key_usage_names(ku: x509.KeyUsage) -> list[str]:
    names = [flag for flag in _KU_FLAGS if getattr(ku, flag)]
    if ku.key_agreement:
        # encipher_only/decipher_only raise unless key_agreement is set
        names += [flag for flag in ("encipher_only", "decipher_only") if getattr(ku, flag)]
    return names


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    return getattr(oid, "_name", None) or oid.dotted_string


def _is_rsa(cert: x509.Certificate) -> bool:
    try:
        return isinstance(public_key(cert), rsa.RSAPublicKey)
    except Exception:
        return False


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    leaf = leaf_of(obs)
    if leaf is None:
        return
    base = cert_ref(0, leaf, "leaf")
    eku = extension(leaf, x509.ExtendedKeyUsage)
    if eku is not None:
        usages = list(eku.value)
        if (
            ExtendedKeyUsageOID.SERVER_AUTH not in usages
            and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages
        ):
            yield Violation(
                "extendedKeyUsage does not include serverAuth: clients refuse it for a TLS server",
                base | {"extended_key_usage": [_oid_name(u) for u in usages]},
            )
    ku = extension(leaf, x509.KeyUsage)
    if ku is None:
        return
    names = key_usage_names(ku.value)
    is_rsa = _is_rsa(leaf)
    evidence = base | {"key_usage": names, "key_type": "RSA" if is_rsa else "other"}
    if ku.value.digital_signature:
        return
    if is_rsa and ku.value.key_encipherment:
        yield Violation(
            "keyUsage lacks digitalSignature: only RSA key transport works (no TLS 1.3, no ECDHE)",
            evidence,
            Severity.WARNING,
        )
        return
    needed = "digitalSignature or keyEncipherment" if is_rsa else "digitalSignature"
    yield Violation(f"keyUsage lacks {needed}: the key may not be used by a TLS server", evidence)


RULE = Rule(
    id="CS104",
    title="Key usage does not allow TLS server authentication",
    severity=Severity.ERROR,
    citation="RFC 5280 4.2.1.3 and 4.2.1.12; RFC 8446 4.4.2.2; CA/B Forum BRs 7.1.2.7.10-11",
    rationale="Clients enforce keyUsage and extendedKeyUsage; a certificate made for another "
    "purpose fails every TLS connection.",
    remediation="Re-issue with extendedKeyUsage serverAuth and keyUsage digitalSignature "
    "(plus keyEncipherment for RSA).",
    doc=__doc__ or "",
    check=check,
)
