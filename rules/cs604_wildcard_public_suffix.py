"""CS604: a wildcard SAN whose base is a public suffix (WebPKI profile).

## What it checks
Under `--profile webpki`, whether a dNSName `*.X` of the leaf has a public suffix as `X`:
`*.com`, `*.co.uk`, or a suffix of the Public Suffix List's private section such as
`*.github.io`. The list is the snapshot shipped with the `publicsuffixlist` package (nothing
is fetched at run time).

## Why it matters
A wildcard over a public suffix names every registrant below it: BR 3.2.2.6 forbids issuing
one, and browsers refuse to match it.

## How to fix
Name the host (or a wildcard under a domain you register), for example `*.vms.example.com`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.webpki import BR, WEBPKI, leaf_san


@cache
def _suffixes() -> object:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def is_public_suffix(name: str) -> bool:
    psl = _suffixes()
    return bool(psl.is_public(name.rstrip(".").lower()))  # type: ignore[attr-defined]


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    names, _ = leaf_san(obs)
    bad = [n for n in names if n.startswith("*.") and is_public_suffix(n[2:])]
    if bad:
        yield Violation(f"wildcard over a public suffix: {', '.join(bad)}", {"wildcards": bad})


RULE = Rule(
    id="CS604",
    title="Wildcard on a public suffix (WebPKI)",
    severity=Severity.WARNING,
    citation=f"{BR} 3.2.2.6 (wildcard domain validation); Public Suffix List",
    rationale="A wildcard over a public suffix covers every registrant below it; CAs must not issue it "
    "and browsers do not match it.",
    remediation="Use a host name, or a wildcard under a domain you register (*.vms.example.com).",
    doc=__doc__ or "",
    check=check,
    profile=WEBPKI,
)
