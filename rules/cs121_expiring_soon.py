"""CS121: a certificate in the presented chain expires soon.

## What it checks
The leaf and every presented intermediate that is still valid but whose notAfter falls within
`--expiry-warn DAYS` (default 30) of the audit clock. A presented self-signed root is reported
as a notice. Use `--as-of` to forecast: `--as-of 2027-01-01` shows what will have failed by
then. Evidence gives the notAfter and the days left.

## Why it matters
Renewing a camera's certificate takes a maintenance window, a CSR round trip and sometimes a
reboot; at fleet scale that is weeks. The Milestone XProtect guide warns that the VMS "will
not warn you when a certificate is about to expire" and simply stops talking to the server.

## How to fix
Renew the certificate now and upload it; schedule renewals well inside the warning window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, iso, presented, role


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if ctx.expiry_warn_days <= 0:
        return
    try:
        horizon = ctx.now + dt.timedelta(days=ctx.expiry_warn_days)
    except OverflowError:  # an audit clock near 9999-12-31: the horizon is the end of time
        horizon = dt.datetime.max.replace(tzinfo=dt.UTC)
    for index, cert in enumerate(presented(obs)):
        not_after = cert.not_valid_after_utc
        # Expired (CS120) and not-yet-valid (CS122) certificates are other rules' findings.
        if not_after < ctx.now or not_after > horizon or cert.not_valid_before_utc > ctx.now:
            continue
        cert_role = role(index, cert)
        days_left = (not_after - ctx.now).total_seconds() / 86400
        evidence = cert_ref(index, cert, cert_role) | {
            "not_after": iso(not_after),
            "as_of": iso(ctx.now),
            "days_left": round(days_left, 1),
            "warn_days": ctx.expiry_warn_days,
        }
        severity = Severity.NOTICE if cert_role == "root" else None
        yield Violation(
            f"the {cert_role} expires on {iso(not_after)}, in {days_left:.0f} days "
            f"(warning window {ctx.expiry_warn_days} days)",
            evidence,
            severity,
        )


RULE = Rule(
    id="CS121",
    title="Certificate expires soon",
    severity=Severity.WARNING,
    citation="RFC 5280 4.1.2.5; Milestone XProtect certificates guide",
    rationale="Renewing device certificates takes time; a missed expiry silently cuts the VMS off.",
    remediation="Renew the certificate now and upload it; schedule renewals inside the warning window.",
    doc=__doc__ or "",
    check=check,
)
