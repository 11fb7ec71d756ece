"""CS606: a dNSName that is not a valid host name (WebPKI profile).

## What it checks
Under `--profile webpki`, each dNSName of the leaf: labels of letters, digits and hyphens
(no underscore, no leading or trailing hyphen, 1 to 63 characters), at most 253 characters,
and a wildcard only as the whole leftmost label (`*.example.com`).

## Why it matters
BR 7.1.2.7.12 requires every dNSName to be a Fully-Qualified Domain Name or a Wildcard Domain
Name in preferred name syntax (RFC 5280 4.2.1.6, RFC 1034 3.5); underscores have been
forbidden since 2019 (ballot SC12) and such names do not match in strict clients.

## How to fix
Re-issue with the host's real, LDH name (`cam-1.example.com`, not `cam_1.example.com`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.webpki import BR, WEBPKI, leaf_san

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def valid(name: str) -> bool:
    labels = name.split(".")
    if labels and labels[0] == "*":
        labels = labels[1:]
    return 0 < len(name) <= 253 and bool(labels) and all(_LABEL.match(label) for label in labels)


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    names, _ = leaf_san(obs)
    bad = [n for n in names if not valid(n)]
    if bad:
        yield Violation(f"dNSName not in preferred name syntax: {', '.join(bad)}", {"invalid_dns_names": bad})


RULE = Rule(
    id="CS606",
    title="dNSName not a valid host name (WebPKI)",
    severity=Severity.WARNING,
    citation=f"{BR} 7.1.2.7.12; RFC 5280 4.2.1.6; RFC 1034 3.5; ballot SC12 (underscores)",
    rationale="Every dNSName must be an LDH host name or a leftmost-label wildcard; anything else is "
    "refused by CAs and by strict clients.",
    remediation="Re-issue with the host's LDH name (hyphens, not underscores).",
    doc=__doc__ or "",
    check=check,
    profile=WEBPKI,
)
