"""CS105: the IP address camscan reached is not an iPAddress entry of the certificate's SAN.

## What it checks
For endpoints reached by IP address (no host name), whether the leaf's subjectAltName holds
an iPAddress entry equal to that address, compared octet by octet: 192.0.2.1 does not match
the IPv4-mapped ::ffff:192.0.2.1, nor a dNSName "192.0.2.1", nor the Common Name. A leaf with
no subjectAltName at all is CS106's finding instead.

## Why it matters
Browsers, VMS clients and HTTPS libraries match an IP only against iPAddress SANs (RFC 6125
section 6.2.1, RFC 2818 section 3.1, CA/B Forum BRs 7.1.2.7.12) and show "Not secure" or
refuse to connect otherwise. On cameras the usual cause is a re-addressed device still
serving the certificate made for its old address: firmware with a built-in CA regenerates it
only at boot (Sunell HTTPS FAQ, Q1).

## How to fix
Reboot the camera if its firmware regenerates its certificate from a built-in CA (Sunell HTTPS FAQ,
step 4). Otherwise issue a certificate whose SAN lists the device's address as an IP entry
(for example `subjectAltName = IP:192.0.2.10`), and upload it with its chain.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.certinfo import common_names
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.names import ip_in_san, ips_written_as_dns, san_view, target_of


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if not obs.chain_der:  # nothing presented: the probe's failure record says why
        return
    kind, address = target_of(obs)
    if kind != "ip":
        return
    view = san_view(obs.leaf)
    if not view.present or ip_in_san(address, view):
        return
    as_dns = [d for d in ips_written_as_dns(view) if d.strip().rstrip(".") == address]
    evidence = {
        "address": address,
        **view.evidence(),
        "common_names": common_names(obs.leaf),
        "ip_matches_san": False,
    }
    if view.error is not None:
        # A dNSName with non-ASCII bytes, say: strict clients refuse the whole extension, so
        # an iPAddress entry beside it does not help (the reports still show what it holds).
        evidence["san_error"] = view.error
        message = f"the certificate's SAN does not parse, so {address} cannot match"
    elif as_dns:
        message = f"{address} is in the SAN only as a dNSName, which clients never match to an IP"
    elif view.ips:
        listed = ", ".join(str(ip) for ip in view.ips)
        message = f"the certificate names {listed}, not {address} (a re-addressed device?)"
    else:
        message = f"the certificate's SAN has no IP address entry; {address} cannot match"
    yield Violation(message, evidence)


RULE = Rule(
    id="CS105",
    title="Device IP address not in the certificate's subjectAltName",
    severity=Severity.ERROR,
    citation="RFC 6125 6.2.1; RFC 2818 3.1; RFC 5280 4.2.1.6; CA/B Forum BRs 7.1.2.7.12; Sunell HTTPS FAQ Q1",
    rationale="Clients match an IP target only against iPAddress SAN entries; any other name "
    "fails verification, so users learn to click through warnings or switch verification off.",
    remediation="Reboot devices that regenerate their certificate at boot; otherwise issue a "
    "certificate with the device's address as an IP SAN (IP:<address>) and upload it.",
    doc=__doc__ or "",
    check=check,
)
