"""CS101: a certificate in the presented chain has a weak public key.

## What it checks
Every certificate the device sends (leaf, intermediates, and a root if it sends one): RSA
keys shorter than 2048 bits, elliptic-curve keys on curves smaller than 256 bits, and any DSA
key. Ed25519 and Ed448 keys pass. Evidence names the chain position, subject, key type and size.

## Why it matters
NIST SP 800-131A Rev. 2 (section 3, table 2) disallows RSA keys under 2048 bits (112-bit
security) for digital signatures and key transport; DSA signature generation is no longer
approved (FIPS 186-5 removed it), and the CA/Browser Forum Baseline Requirements 6.1.5 allow
only RSA >= 2048 and the NIST P-256, P-384 and P-521 curves. Old camera firmware still makes
1024-bit RSA keys at first boot; a 512-bit key can be factored in hours on rented machines,
which lets anyone impersonate the camera or decrypt recorded RSA key-exchange traffic.

## How to fix
Generate a new key on the device (or off it) as ECDSA P-256 or RSA 2048/3072, get a new
certificate for it from your CA, and upload it. If the firmware cannot make such a key,
update the firmware.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan import certinfo
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, presented, role

MIN_RSA_BITS = 2048
MIN_EC_BITS = 256


def weakness(key_type: str, bits: int | None) -> str | None:
    """Why a key is weak, or None if it is acceptable (or of a type we cannot judge)."""
    if key_type == "RSA" and bits is not None and bits < MIN_RSA_BITS:
        return f"RSA key of {bits} bits (minimum {MIN_RSA_BITS})"
    if key_type == "EC" and bits is not None and bits < MIN_EC_BITS:
        return f"elliptic-curve key of {bits} bits (minimum {MIN_EC_BITS})"
    if key_type == "DSA":
        return f"DSA key ({bits} bits): DSA is no longer approved for signatures"
    return None


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    for index, cert in enumerate(presented(obs)):
        key_type, bits = certinfo.key_description(cert)
        why = weakness(key_type, bits)
        if why is None:
            continue
        cert_role = role(index, cert)
        evidence = cert_ref(index, cert, cert_role) | {"key_type": key_type, "key_bits": bits}
        # A weak key further up the chain is as fatal for the leaf as its own (forgeable CA),
        # except on a presented root, which clients take from their own store.
        severity = Severity.WARNING if cert_role == "root" else None
        yield Violation(f"the {cert_role} has a weak key: {why}", evidence, severity)


RULE = Rule(
    id="CS101",
    title="Weak public key",
    severity=Severity.ERROR,
    citation="NIST SP 800-131A Rev. 2, section 3 and table 2; FIPS 186-5; CA/B Forum BRs 6.1.5",
    rationale="Short RSA keys, small curves and DSA can be broken or are no longer approved; "
    "whoever breaks the key impersonates the camera.",
    remediation="Generate a new ECDSA P-256 or RSA >= 2048-bit key, have it certified by your CA "
    "and upload it; update firmware that cannot make such keys.",
    doc=__doc__ or "",
    check=check,
)
