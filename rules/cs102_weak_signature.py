"""CS102: a certificate in the presented chain is signed with SHA-1 or MD5.

## What it checks
The signature algorithm of every certificate the device sends: SHA-1, MD5, MD4 and MD2 based
signatures (RSA PKCS#1 v1.5, RSA-PSS, ECDSA, DSA) are flagged, with the chain position,
subject and algorithm as evidence. The leaf is always judged, even when self-signed. A
self-signed root further up the chain is not: nobody relies on a trust anchor's signature over
itself (RFC 5280 6.1 takes the anchor's key, not its signature; browsers accept SHA-1 roots),
so flagging it would only make noise. The certificates it signs are judged as usual.

## Why it matters
Chosen-prefix collisions for MD5 (2008, the rogue CA) and SHA-1 (2020, "SHA-1 is a
Shambles") let an attacker obtain a signature on one certificate and transplant it onto
another. NIST SP 800-131A Rev. 2 (section 9) disallows SHA-1 for digital signature
generation, RFC 6151 retires MD5 for signatures, and the CA/Browser Forum BRs 7.1.3.2 forbid
both; current browsers and TLS libraries reject such chains outright.

## How to fix
Re-issue the certificate (and any intermediate signed with SHA-1/MD5) with SHA-256 or better.
Firmware that signs its own certificates with SHA-1 needs an update, or a certificate from
your own CA uploaded to the device.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509

from camscan import certinfo
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, presented, role

# Signature algorithm OIDs with a broken hash, by name (also catches what cryptography
# cannot map to a hash object, such as MD2).
WEAK_SIGNATURE_OIDS: dict[str, str] = {
    "1.2.840.113549.1.1.2": "md2",  # md2WithRSAEncryption
    "1.2.840.113549.1.1.3": "md4",  # md4WithRSAEncryption
    "1.2.840.113549.1.1.4": "md5",  # md5WithRSAEncryption
    "1.2.840.113549.1.1.5": "sha1",  # sha1WithRSAEncryption
    "1.3.14.3.2.29": "sha1",  # sha1WithRSASignature (OIW)
    "1.2.840.10045.4.1": "sha1",  # ecdsa-with-SHA1
    "1.2.840.10040.4.3": "sha1",  # dsa-with-sha1
    "1.3.14.3.2.27": "sha1",  # dsaWithSHA1 (OIW)
}
WEAK_HASHES = frozenset({"md2", "md4", "md5", "sha1"})
_DISPLAY = {"md2": "MD2", "md4": "MD4", "md5": "MD5", "sha1": "SHA-1"}


def weak_hash(cert: x509.Certificate) -> str | None:
    by_oid = WEAK_SIGNATURE_OIDS.get(cert.signature_algorithm_oid.dotted_string)
    if by_oid:
        return by_oid
    name = certinfo.signature_hash_name(cert)  # RSA-PSS carries its hash in parameters
    return name if name in WEAK_HASHES else None


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    for index, cert in enumerate(presented(obs)):
        hash_name = weak_hash(cert)
        if hash_name is None:
            continue
        cert_role = role(index, cert)
        if cert_role == "root":
            continue
        evidence = cert_ref(index, cert, cert_role) | {
            "signature_algorithm": certinfo.signature_algorithm_name(cert),
            "signature_hash": hash_name,
        }
        yield Violation(
            f"the {cert_role} is signed with {_DISPLAY.get(hash_name, hash_name)} "
            f"({certinfo.signature_algorithm_name(cert)})",
            evidence,
        )


RULE = Rule(
    id="CS102",
    title="SHA-1 or MD5 signature in the presented chain",
    severity=Severity.ERROR,
    citation="NIST SP 800-131A Rev. 2, section 9; RFC 6151; CA/B Forum BRs 7.1.3.2",
    rationale="Collision attacks on MD5 and SHA-1 allow forged certificates; clients reject them.",
    remediation="Re-issue the certificate (and any SHA-1/MD5 intermediate) signed with SHA-256 or "
    "better; update firmware that signs with SHA-1.",
    doc=__doc__ or "",
    check=check,
)
