"""CS109: the leaf certificate's validity period is longer than policy allows.

## What it checks
The leaf's validity period (notBefore to notAfter, both inclusive, as RFC 5280 4.1.2.5 counts
it) against the policy maximum in the audit context: 398 days unless configured otherwise.
Intermediates and roots are not judged: CA certificates legitimately live for years.

## Why it matters
The CA/Browser Forum BRs 6.3.2 capped publicly-trusted server certificates at 398 days
(ballot SC-081 lowers that to 200 days from March 2026, then 100, then 47 by 2029), and
Apple platforms reject even privately-trusted TLS certificates valid for more than 825 days.
Long-lived certificates are how a camera ends up presenting a key that leaked years ago, a
name it no longer has, or an algorithm that has since been broken: a short life forces the
renewal that fixes all three. Firmware-made certificates valid for 10 or 20 years (Sunell HTTPS FAQ:
"valid period is 10 years") never get that renewal.

## How to fix
Issue certificates for at most the policy period, and automate renewal (camscan's history and
the expiry rule CS121 warn ahead of time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, iso, leaf_of


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    leaf = leaf_of(obs)
    if leaf is None or ctx.max_validity_days <= 0:
        return
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    # Inclusive of both ends: 398 days is 398*86400 seconds counting notAfter's own second.
    period = not_after - not_before + dt.timedelta(seconds=1)
    if period <= dt.timedelta(days=ctx.max_validity_days):
        return
    days = period.total_seconds() / 86400
    evidence = cert_ref(0, leaf, "leaf") | {
        "not_before": iso(not_before),
        "not_after": iso(not_after),
        "validity_days": round(days, 1),
        "max_validity_days": ctx.max_validity_days,
    }
    yield Violation(
        f"the leaf is valid for {days:.0f} days, longer than the policy maximum of "
        f"{ctx.max_validity_days} days",
        evidence,
    )


RULE = Rule(
    id="CS109",
    title="Validity period longer than policy",
    severity=Severity.WARNING,
    citation="CA/B Forum BRs 6.3.2; RFC 5280 4.1.2.5; Apple TLS certificate requirements (825 days)",
    rationale="Long-lived certificates outlive their keys, names and algorithms and are never renewed.",
    remediation="Issue certificates for at most the policy period (398 days by default) and "
    "automate their renewal.",
    doc=__doc__ or "",
    check=check,
)
