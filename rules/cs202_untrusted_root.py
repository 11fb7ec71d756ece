"""CS202: the chain ends at a root that no trust anchor vouches for.

## What it checks
Whether the presented chain (completed with any missing intermediates camscan could find)
ends at a root that is not a trust anchor: a self-signed leaf, a device's built-in CA (seed
001), or a private CA the audit was not told about. Anchors are the Mozilla roots plus every
`--ca-bundle`; with `--trust site`, the bundles alone (the public verdict is then given as
information in `public_trust_status`).

Most cameras send only their leaf: the firmware's built-in root CA signs a certificate for
the current address at every boot (Sunell HTTPS FAQ, Q1), and a root is never sent. When the leaf's
issuer (or that of the last certificate sent) is not sent and camscan finds it nowhere, it is
a root (this rule) rather than a missing intermediate (CS201) when camscan can infer so, and
the finding says it is an inference (`inferred: true`) and why (`inference`, one entry per
reason):

- `vendor_pattern`: the issuer's name is a firmware built-in CA in camscan's vendor table
  (rules/vendor_pki.py: Dahua's "Product Root CA", its public source);
- `fleet` (leaves only): the same issuer (name and key id) signs the leaves of at least 3
  devices (distinct addresses) of the scan, no certificate presented anywhere in the scan
  bears its name, and none of those leaves has an AIA caIssuers URL (a per-model firmware CA);
- `root_name`: the issuer's Common Name calls it a root ("... Root CA") and the certificate
  it signed has no AIA caIssuers URL (roots are never sent; intermediates are fetchable).

With the first two the issuer is taken for the device's built-in CA (`inferred_as:
built_in_ca`); with the name alone, for a root (`root`): the built-in CA or a private root.

## Why it matters
No client connects to such a device without a warning unless its root was installed by hand,
and users who click through warnings cannot tell the real camera from an impostor. Unlike
peers (sslyze: "candidates exhausted"; testssl.sh: "chain incomplete"), camscan keeps this
apart from a missing intermediate: the fixes differ. A device that has no intermediate to
send cannot follow CS201's advice.

## How to fix
The Sunell HTTPS FAQ, Solution 1: export the device's built-in CA (Setting > System > Maintenance >
Export: "cacert.crt"), install it in the clients' trusted roots, and pass it to camscan with
`--ca-bundle cacert.crt` (the chain is then trusted). Mind that a built-in CA whose key is in
every firmware image vouches for every unit of the vendor, an attacker's included (CS403).
Better, Solutions 2-3 and OpenMV TLS guide: replace the certificate with one issued by your site CA
(CSR made on the device) and upload it with its chain; pass the site CA with `--ca-bundle
--trust site`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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
    if root.get("inferred"):
        message = _inferred_message(root, anchors)
    elif root["self_signed_leaf"]:
        message = f"the certificate is self-signed and is not among {anchors}"
    else:
        message = f"the chain ends at {root['subject']}, a root that is not among {anchors}"
    yield Violation(message, verdict.summary() | {"untrusted_root": root})


def _reason(basis: dict[str, Any]) -> str:
    kind = basis["basis"]
    if kind == "vendor_pattern":
        return f"its name is {basis['vendor']}'s firmware built-in CA ({basis['pattern']})"
    if kind == "fleet":
        return (
            f"it signs the leaves of {basis['devices']} devices in this scan, none of which "
            "sends it, and none of those leaves has an AIA URL to fetch it from"
        )
    return f"its name ({basis['common_name']!r}) says it is a root and no AIA URL says where to fetch it"


def _inferred_message(root: dict[str, Any], anchors: str) -> str:
    what = (
        "the device's built-in CA"
        if root["inferred_as"] == "built_in_ca"
        else "a root CA (a device's built-in CA or a private root)"
    )
    reasons = "; ".join(_reason(b) for b in root["inference"])
    return (
        f"the issuer of {root['issuer_of']} ({root['subject']}) is not sent by the device and is "
        f"not among {anchors}; camscan infers it is {what}, not a missing intermediate, because "
        f"{reasons} (an inference: camscan has not seen that certificate)"
    )


RULE = Rule(
    id="CS202",
    title="Untrusted root",
    severity=Severity.ERROR,
    citation="RFC 5280 6.1 (trust anchors); RFC 8446 4.4.2; Sunell HTTPS FAQ solutions 1-2, Q1; "
    "OpenMV TLS guide",
    rationale="A chain that ends at a root no client trusts fails verification everywhere the "
    "root was not installed by hand, and trains users to accept impostors. Also a leaf-only device "
    "whose issuer camscan infers to be its firmware's built-in CA (Sunell HTTPS FAQ): the finding says it is "
    "an inference and why.",
    remediation="Replace the certificate with one from your site CA (CSR made on the device; pass "
    "the CA with --ca-bundle --trust site), or export the device's built-in CA (Sunell HTTPS FAQ: "
    "cacert.crt), install it on every client and pass it with --ca-bundle (that CA vouches for "
    "every unit whose firmware carries its key).",
    doc=__doc__ or "",
    check=check,
)
