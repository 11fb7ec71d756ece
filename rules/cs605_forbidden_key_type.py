"""CS605: a key type or size the Baseline Requirements forbid (WebPKI profile).

## What it checks
Under `--profile webpki`, every certificate of the path: RSA keys of at least 2048 bits whose
modulus size is a multiple of 8, or ECDSA keys on P-256, P-384 or P-521. Anything else (an
RSA-2047 modulus, Ed25519, DSA, another curve) is reported.

## Why it matters
BR 6.1.5 and 6.1.6 list the only keys publicly trusted certificates may carry; clients built
for that list (and root programs) reject the rest. (CS101 still judges weak keys in every
profile.)

## How to fix
Re-issue with an ECDSA P-256 key (`openssl req -newkey ec -pkeyopt
ec_paramgen_curve:prime256v1`) or RSA-2048/3072.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from camscan.certinfo import public_key
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.webpki import BR, WEBPKI, path_certificates, role

CURVES = {"secp256r1", "secp384r1", "secp521r1"}


def problem(cert: x509.Certificate) -> str | None:
    try:
        key = public_key(cert)
    except (ValueError, TypeError):
        return "a public key that does not parse"
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        if bits < 2048 or bits % 8:
            return f"RSA-{bits} (at least 2048 bits, a multiple of 8)"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return None if key.curve.name in CURVES else f"ECDSA on {key.curve.name}"
    return f"a {type(key).__name__.removesuffix('PublicKey').lstrip('_')} key"


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    path = path_certificates(obs, ctx)
    found = [
        {"certificate": role(i, c, len(path)), "key": p}
        for i, c in enumerate(path)
        if (p := problem(c)) is not None
    ]
    if found:
        summary = "; ".join(f"{f['certificate']}: {f['key']}" for f in found[:3])
        yield Violation(f"a key type the BRs forbid ({summary})", {"problems": found})


RULE = Rule(
    id="CS605",
    title="Key type or size forbidden by the BRs (WebPKI)",
    severity=Severity.WARNING,
    citation=f"{BR} 6.1.5, 6.1.6; RFC 8017; FIPS 186-5",
    rationale="Publicly trusted certificates may carry only RSA (2048+ bits, size a multiple of 8) or "
    "ECDSA P-256/P-384/P-521 keys.",
    remediation="Re-issue with ECDSA P-256 or RSA-2048/3072.",
    doc=__doc__ or "",
    check=check,
    profile=WEBPKI,
)
