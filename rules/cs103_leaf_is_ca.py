"""CS103: the device's own certificate is marked as a CA (basicConstraints cA=TRUE).

## What it checks
The leaf (the first certificate the device sends) carries basicConstraints with cA=TRUE.
Evidence gives the path length constraint, whether the extension is critical, and whether the
key usage also allows certificate signing.

## Why it matters
A server certificate must not be a CA (RFC 5280 4.2.1.9; CA/B Forum BRs 7.1.2.7.8 require
cA=FALSE or an absent extension for subscriber certificates). It is common on cameras because
`openssl req -x509` with default settings writes cA=TRUE, and firmware makes its self-signed
certificate that way. The danger is what users do next: told to "trust this certificate" to
silence the browser warning, they install a CA into their trust store whose private key sits
on a camera. Whoever extracts that key (firmware dumps are easy) can mint a trusted
certificate for any web site on those machines. Recent TLS libraries also refuse a CA
certificate as an end-entity.

## How to fix
Issue the device a proper end-entity certificate (cA=FALSE, extendedKeyUsage serverAuth)
from your own CA, and remove the device's self-made certificate from any trust store it was
added to.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, extension, leaf_of


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    leaf = leaf_of(obs)
    if leaf is None:
        return
    bc = extension(leaf, x509.BasicConstraints)
    if bc is None or not bc.value.ca:
        return
    ku = extension(leaf, x509.KeyUsage)
    evidence = cert_ref(0, leaf, "leaf") | {
        "basic_constraints_ca": True,
        "path_length": bc.value.path_length,
        "critical": bc.critical,
        "key_cert_sign": bool(ku and ku.value.key_cert_sign),
    }
    yield Violation("the leaf certificate is marked as a CA (basicConstraints cA=TRUE)", evidence)


RULE = Rule(
    id="CS103",
    title="Leaf certificate is a CA",
    severity=Severity.WARNING,
    citation="RFC 5280 4.2.1.9; CA/B Forum BRs 7.1.2.7.8",
    rationale="A server certificate marked as a CA, once trusted, lets whoever holds the camera's "
    "key issue trusted certificates for any site.",
    remediation="Issue an end-entity certificate (cA=FALSE, EKU serverAuth) from your CA and remove "
    "the device's self-made CA certificate from trust stores.",
    doc=__doc__ or "",
    check=check,
)
