"""CS203: the presented chain is broken: a bad signature, wrong order, or unrelated certificates.

## What it checks
The certificates the device sends after its leaf: a certificate bearing the issuer's name
whose key does not verify the signature below it (error); intermediates not in order, each
followed by its issuer (warning); certificates that belong to no path from the leaf
(warning: often an old intermediate left behind after a renewal); the same certificate sent
twice (warning).

## Why it matters
A signature that does not verify means the chain was assembled from mismatched files (a new
leaf with the old CA's intermediate, say) and no client can validate it. RFC 5246 7.4.2
requires the order; TLS 1.3 (RFC 8446 4.4.2) tolerates disorder, but many embedded and older
clients do not, and stray certificates make them pick a wrong path.

## How to fix
Rebuild the chain file from the CA's issued files: the leaf first, then each intermediate
followed by the one that signed it, nothing else (leave out the root and any old
intermediates), and upload it again.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.trust import chain_verdict


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if not obs.chain_der:  # nothing presented: the probe's failure record says why
        return
    verdict = chain_verdict(obs, ctx)
    for problem in verdict.problems:
        severity = Severity.ERROR if problem.kind == "bad_signature" else Severity.WARNING
        yield Violation(
            problem.message,
            verdict.summary() | {"problem": problem.kind, "certificates": list(problem.certificates)},
            severity,
        )


RULE = Rule(
    id="CS203",
    title="Broken chain (bad signature, wrong order, unrelated certificates)",
    severity=Severity.ERROR,
    citation="RFC 5280 6.1.3 (a)(1); RFC 5246 7.4.2; RFC 8446 4.4.2",
    rationale="A signature that does not verify makes the chain unusable; disorder and stray "
    "certificates break stricter clients.",
    remediation="Upload the leaf followed by each intermediate in order (leaf, its issuer, that "
    "one's issuer...), without the root or leftovers from earlier certificates.",
    doc=__doc__ or "",
    check=check,
)
