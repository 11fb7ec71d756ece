"""CS601: the subject Common Name is not one of the subjectAltName values (WebPKI profile).

## What it checks
Under `--profile webpki`, whether the leaf's subject commonName, when present, is exactly one
of its SAN values: a DNS name character for character (no case folding, no conversion between
Unicode and punycode), an IPv4 address in dotted-decimal form (RFC 3986 3.2.2) or an IPv6
address in RFC 5952 form, equal to an iPAddress entry.

## Why it matters
BR 7.1.4.3 (7.1.2.7.2 in 2.x) lets the CN be present only as a copy of a SAN value. A CN that
differs ("Cam1.Example.com" vs "cam1.example.com", "010.0.0.1", an uncompressed IPv6) is what
CAs were told to stop issuing: linters (zlint, pkilint) and public CAs reject it, and old
clients that still read the CN see a name no browser would match.

## How to fix
Re-issue with the CN equal to the first SAN (or without a CN): in OpenSSL,
`-subj "/CN=vms.example.com" -addext "subjectAltName=DNS:vms.example.com"`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from camscan.certinfo import common_names
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import presented
from camscan.rules.webpki import BR, WEBPKI, leaf_san


def _ip_spelling(text: str) -> str | None:
    """The canonical spelling if `text` reads as an IP address at all, else None."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    chain = presented(obs)
    if not chain:
        return
    leaf = chain[0]
    cns = common_names(leaf)  # read from the DER when cryptography cannot decode the name
    if not cns:
        return
    dns, ips = leaf_san(obs)
    for cn in cns:
        if cn in dns or cn in ips:
            continue
        canonical = _ip_spelling(cn)
        why = (
            f"{cn!r} is not the RFC 5952 / dotted-decimal spelling {canonical!r}"
            if canonical and canonical in ips
            else f"{cn!r} is not among the SAN values"
        )
        yield Violation(
            f"the subject CN is not a copy of a subjectAltName value: {why}",
            {"common_name": cn, "san_dns": dns, "san_ip": ips},
        )


RULE = Rule(
    id="CS601",
    title="Subject CN not among the SAN values (WebPKI)",
    severity=Severity.WARNING,
    citation=f"{BR} 7.1.4.3 and 7.1.2.7.2; RFC 5952 4; RFC 3986 3.2.2",
    rationale="The BRs allow a CN only as a character-for-character copy of a SAN value; public CAs and "
    "linters reject anything else.",
    remediation="Re-issue with the CN equal to a SAN value (same case, punycode as in the SAN, canonical "
    "IP spelling), or without a CN.",
    doc=__doc__ or "",
    check=check,
    profile=WEBPKI,
)
