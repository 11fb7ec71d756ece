"""CS107: an IP address is written as a dNSName entry of the subjectAltName.

## What it checks
Whether any dNSName SAN entry is an IP address literal ("DNS:192.0.2.10"). Whether the
device's own address is also present as a proper iPAddress entry decides the message; the
mismatch itself, if any, is CS105's finding.

## Why it matters
RFC 5280 4.2.1.6 requires an IP address to be encoded as an iPAddress (4 or 16 octets), and
RFC 6125 6.2.1 has clients compare IPs only with iPAddress entries. The dNSName spelling is
the most common mistake in hand-written OpenSSL configs (`DNS.1 = 192.0.2.10`) and in device
web UIs that put the IP in a "domain name" field: the certificate looks right and never
matches.

## How to fix
Re-issue the certificate with the address as an IP SAN: in an OpenSSL config
`IP.1 = 192.0.2.10` (or `subjectAltName = IP:192.0.2.10`), not `DNS.1 = 192.0.2.10`.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.names import ip_in_san, ip_literal, ips_written_as_dns, san_view, target_of


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if not obs.chain_der:  # nothing presented: the probe's failure record says why
        return
    view = san_view(obs.leaf)
    wrong = ips_written_as_dns(view)
    if not wrong:
        return
    kind, target = target_of(obs)
    evidence = {"ip_dns_names": wrong, **view.evidence(), "target": target}
    literal = ip_literal(target) if kind == "ip" else None
    if literal is not None and any(ip_literal(d) == literal for d in wrong) and not ip_in_san(target, view):
        message = f"{target} is written as a dNSName, so clients reaching it by IP never match it"
        severity = Severity.ERROR
    else:
        message = f"IP address(es) written as dNSName: {', '.join(wrong)} (clients never match these)"
        severity = None
    yield Violation(message, evidence, severity)


RULE = Rule(
    id="CS107",
    title="IP address written as a dNSName",
    severity=Severity.WARNING,
    citation="RFC 5280 4.2.1.6; RFC 6125 6.2.1",
    rationale="An address in a dNSName entry is never compared with the IP a client connects "
    "to; the certificate looks right in a viewer and fails in every browser.",
    remediation="Re-issue the certificate with the address as an iPAddress SAN (IP.1 = <address> "
    "in an OpenSSL config), not as DNS.1 = <address>.",
    doc=__doc__ or "",
    check=check,
)
