"""CS120: a certificate in the presented chain has expired.

## What it checks
The notAfter of the leaf and of every presented intermediate against the audit clock (now, or
`--as-of`). A certificate is valid up to and including its notAfter second (RFC 5280
4.1.2.5). A self-signed root the device also sends is reported as a warning: clients that
use their own copy of the root ignore it, but older ones (OpenSSL 1.0, the 2020 AddTrust
expiry) fail on it. Evidence says which certificate: position, role, subject, notAfter, and
how many days ago it expired.

## Why it matters
Every client refuses an expired certificate. A VMS that records over HTTPS stops receiving
video; XProtect "will not warn you when a certificate is about to expire" (Milestone guide).
An expired intermediate breaks a leaf that is itself still valid, which is why each
presented certificate is checked on its own.

## How to fix
Renew the certificate (or fetch the CA's current intermediate and configure the device to
send it instead of the old one), upload it, and watch for CS121 warnings from now on.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, iso, presented, role


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    for index, cert in enumerate(presented(obs)):
        not_after = cert.not_valid_after_utc
        if ctx.now <= not_after:
            continue
        cert_role = role(index, cert)
        days_ago = (ctx.now - not_after).total_seconds() / 86400
        evidence = cert_ref(index, cert, cert_role) | {
            "not_after": iso(not_after),
            "as_of": iso(ctx.now),
            "days_expired": int(days_ago),
        }
        severity = Severity.WARNING if cert_role == "root" else None
        yield Violation(
            f"the {cert_role} expired on {iso(not_after)} ({int(days_ago)} days before {iso(ctx.now)})",
            evidence,
            severity,
        )


RULE = Rule(
    id="CS120",
    title="Certificate expired",
    severity=Severity.ERROR,
    citation="RFC 5280 4.1.2.5 and 6.1.3; Milestone XProtect certificates guide",
    rationale="Clients refuse expired certificates; an expired intermediate breaks a valid leaf.",
    remediation="Renew the expired certificate (or replace the stale intermediate the device sends) "
    "and upload it.",
    doc=__doc__ or "",
    check=check,
)
