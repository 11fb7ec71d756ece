"""CS110: a certificate in the presented chain is X.509 version 1.

## What it checks
The version field of the leaf and of every presented intermediate. A self-signed root the
device also sends is not judged: trust anchors may be v1 (RFC 5280 6.1.1 takes only their
name and key).

## Why it matters
A v1 certificate has no extensions at all: no subjectAltName (so it cannot name the camera's
IP address the way browsers require), no basicConstraints (so nothing says it is not a CA),
no key usage. RFC 5280 4.1.2.1 requires v3 when extensions are present and CA/B Forum BRs
7.1.1 require v3 outright; OpenSSL writes v1 when `openssl x509 -req` is given no extension
file, which is how such certificates end up on devices. A v1 intermediate is worse: clients
must guess whether it may act as a CA.

## How to fix
Re-issue the certificate as v3 with subjectAltName (the device's IP address and names),
basicConstraints cA=FALSE and extendedKeyUsage serverAuth (with OpenSSL, pass -extfile).
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, presented, role


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    for index, cert in enumerate(presented(obs)):
        if cert.version != x509.Version.v1:
            continue
        cert_role = role(index, cert)
        if cert_role == "root":
            continue
        yield Violation(
            f"the {cert_role} is an X.509 v1 certificate (no extensions: no SAN, no basicConstraints)",
            cert_ref(index, cert, cert_role) | {"version": "v1"},
        )


RULE = Rule(
    id="CS110",
    title="X.509 version 1 certificate",
    severity=Severity.WARNING,
    citation="RFC 5280 4.1.2.1; CA/B Forum BRs 7.1.1",
    rationale="A v1 certificate cannot carry subjectAltName, basicConstraints or key usage.",
    remediation="Re-issue as X.509 v3 with subjectAltName, basicConstraints cA=FALSE and EKU "
    "serverAuth (openssl: pass -extfile).",
    doc=__doc__ or "",
    check=check,
)
