"""CS122: a certificate in the presented chain is not yet valid.

## What it checks
The notBefore of the leaf and of every presented intermediate is later than the audit clock.
When the device's HTTP Date header was read, the evidence adds the device's clock: a device
whose clock runs ahead makes its boot-time certificate "in the future".

## Why it matters
Clients refuse a certificate before its notBefore just as after its notAfter. On cameras the
usual cause is the device clock: firmware that generates its certificate at boot (Sunell HTTPS FAQ, Q1)
stamps it with whatever time the device believes, and a clock set to the future, or reset and
then corrected by NTP the wrong way, yields a certificate nobody accepts yet. The Sunell HTTPS FAQ, step 3:
"Make sure that the device time is within the certificate valid period."

## How to fix
Set the device clock (configure NTP), then reboot the device so it regenerates its
certificate, or re-issue the certificate with a correct notBefore.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, iso, presented, role


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    device_time = obs.http.device_time if obs.http is not None else None
    for index, cert in enumerate(presented(obs)):
        not_before = cert.not_valid_before_utc
        if not_before <= ctx.now:
            continue
        cert_role = role(index, cert)
        early = (not_before - ctx.now).total_seconds()
        evidence = cert_ref(index, cert, cert_role) | {
            "not_before": iso(not_before),
            "as_of": iso(ctx.now),
            "seconds_early": int(early),
            "device_time": iso(device_time) if device_time is not None else None,
        }
        message = f"the {cert_role} is not valid until {iso(not_before)} ({early / 86400:.1f} days from now)"
        if device_time is not None and device_time >= not_before:
            message += f"; the device's clock reads {iso(device_time)}: it runs ahead"
        yield Violation(message, evidence)


RULE = Rule(
    id="CS122",
    title="Certificate not yet valid (device clock?)",
    severity=Severity.ERROR,
    citation="RFC 5280 4.1.2.5; Sunell HTTPS FAQ (step 3 and Q1)",
    rationale="Clients refuse a certificate before its notBefore; devices with a wrong clock make "
    "such certificates at boot.",
    remediation="Fix the device clock (NTP), then reboot so the firmware regenerates its certificate, "
    "or re-issue it with a correct notBefore.",
    doc=__doc__ or "",
    check=check,
)
