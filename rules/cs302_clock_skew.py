"""CS302: the device's clock is wrong (HTTP Date header vs. camscan's clock).

## What it checks
The Date header of the device's HTTP answer, parsed to UTC, against the moment camscan
completed the handshake (the scanner's clock, not `--as-of`). A difference larger than the
threshold (300 seconds by default) is reported, with both times and the skew in seconds.
Endpoints that sent no Date header, or one that does not parse, are not judged. The classic
case is a camera that lost power and came back in 1970 with no NTP.

## Why it matters
A camera's clock decides what certificate it makes at boot (Sunell HTTPS FAQ, Q1 and step 3: "Make
sure that the device time is within the certificate valid period"), whether it accepts the
certificates of the servers it talks to (802.1X, syslog over TLS, cloud), the timestamps burnt
into video evidence, and whether digest-authentication nonces and ONVIF WS-UsernameToken
timestamps are accepted. A clock years off usually means no working NTP at all.

## How to fix
Configure NTP on the device (or set its time from the VMS), check that the NTP server is
reachable from the camera VLAN, then reboot if the device makes its certificate at boot.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import iso


def describe_skew(seconds: float) -> str:
    magnitude = abs(seconds)
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if magnitude >= size:
            amount = f"{magnitude / size:.1f} {unit}"
            break
    else:
        amount = f"{magnitude:.0f} seconds"
    return f"{amount} {'ahead' if seconds > 0 else 'behind'}"


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if obs.http is None or obs.http.device_time is None:
        return
    skew = (obs.http.device_time - obs.observed_at).total_seconds()
    if abs(skew) <= ctx.clock_skew_warn_seconds:
        return
    evidence = {
        "device_date_header": obs.http.date,
        "device_time": iso(obs.http.device_time),
        "observed_at": iso(obs.observed_at),
        "skew_seconds": int(skew),
        "threshold_seconds": ctx.clock_skew_warn_seconds,
    }
    yield Violation(
        f"the device's clock is {describe_skew(skew)} (it reads {iso(obs.http.device_time)})",
        evidence,
    )


RULE = Rule(
    id="CS302",
    title="Device clock skew",
    severity=Severity.WARNING,
    citation="Sunell HTTPS FAQ (step 3 and Q1); RFC 9110 6.6.1 (Date); RFC 5280 6.1.3 (validity checks "
    "need a clock)",
    rationale="A wrong device clock yields not-yet-valid boot certificates, rejected peer "
    "certificates and wrong evidence timestamps.",
    remediation="Configure NTP on the device and make sure the NTP server is reachable; reboot if "
    "the device makes its certificate at boot.",
    doc=__doc__ or "",
    check=check,
)
