"""CS202: the chain ends at a root that no trust anchor vouches for.

## What it checks
Whether the presented chain (completed with any missing intermediates camscan could find)
ends at a self-signed certificate that is not a trust anchor: a self-signed leaf, or a
device's built-in CA (seed 001), or a private CA the audit was not told about. Anchors are the
Mozilla roots plus every `--ca-bundle`; with `--trust site`, the bundles alone (the public
verdict is then given as information in `public_trust_status`).

## Why it matters
No client connects to such a device without a warning unless its root was installed by hand,
and users who click through warnings cannot tell the real camera from an impostor. Unlike
peers (sslyze: "candidates exhausted"; testssl.sh: "chain incomplete"), camscan keeps this
apart from a missing intermediate: the fixes differ.

## How to fix
Either distribute the root to the clients and tell camscan about it (`--ca-bundle
cacert.crt --trust site`, seed 001 solution 1), or better, issue the device a certificate
from the site's CA (seed 002) and upload it with its chain.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.trust import SITE, chain_verdict


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if not obs.chain_der:  # nothing presented: the probe's failure record says why
        return
    verdict = chain_verdict(obs, ctx)
    root = verdict.untrusted_root
    if root is None:
        return
    anchors = "any --ca-bundle" if verdict.trust_mode == SITE else "the Mozilla roots nor any --ca-bundle"
    if root["self_signed_leaf"]:
        message = f"the certificate is self-signed and is not among {anchors}"
    else:
        message = f"the chain ends at {root['subject']}, a root that is not among {anchors}"
    yield Violation(message, verdict.summary() | {"untrusted_root": root})


RULE = Rule(
    id="CS202",
    title="Untrusted root",
    severity=Severity.ERROR,
    citation="RFC 5280 6.1 (trust anchors); seed 001 solutions 1-2; seed 002",
    rationale="A chain that ends at a root no client trusts fails verification everywhere the "
    "root was not installed by hand, and trains users to accept impostors.",
    remediation="Issue the device a certificate from the site CA (and pass that CA with "
    "--ca-bundle --trust site), or install the device's root on every client and pass it too.",
    doc=__doc__ or "",
    check=check,
)
