"""CS108: the host name camscan used does not match the certificate (RFC 6125).

## What it checks
For endpoints reached by host name (a DNS target, or `camscan check --dns NAME`), whether a
dNSName SAN entry matches the name per RFC 6125 6.4: case-insensitive exact match, or a
wildcard that is the whole left-most label (`*.example.org` matches `cam1.example.org`, not
`example.org` nor `a.cam1.example.org`; no partial wildcards like `cam*.example.org`). The
Common Name is not consulted. A leaf without any SAN is CS106's finding instead.

## Why it matters
Browsers, VMS clients and HTTPS libraries refuse a certificate whose SAN does not name the
host they asked for; on a fleet it usually means a certificate copied between devices or a
host renamed without re-issuing its certificate.

## How to fix
Issue a certificate whose SAN lists the host name clients use (`DNS:cam01.example.org`);
use a wildcard only for the left-most label of names under one domain you control.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.certinfo import common_names
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.names import dns_in_san, san_view, target_of


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if not obs.chain_der:  # nothing presented: the probe's failure record says why
        return
    kind, host = target_of(obs)
    if kind != "dns":
        return
    view = san_view(obs.leaf)
    if not view.present or dns_in_san(host, view) is not None:
        return
    names = ", ".join(view.dns) if view.dns else "no DNS names"
    yield Violation(
        f"{host} does not match the certificate's SAN ({names})",
        {"host": host, **view.evidence(), "common_names": common_names(obs.leaf),
         "name_matches_san": False},
    )


RULE = Rule(
    id="CS108",
    title="Host name does not match the certificate",
    severity=Severity.ERROR,
    citation="RFC 6125 6.4; RFC 2818 3.1; CA/B Forum BRs 7.1.2.7.12",
    rationale="Clients verify the host name they connect to against the dNSName SAN entries "
    "only; a mismatch fails the connection or trains users to ignore warnings.",
    remediation="Re-issue the certificate with the host name clients use as a DNS SAN entry "
    "(wildcards only as the whole left-most label).",
    doc=__doc__ or "",
    check=check,
)
