"""CS404: the certificate still names the device's previous IP address.

## What it checks
The leaf names IP addresses (iPAddress SANs, or a CN that is an address) and none of them is
the address camscan reached, and there is evidence that a named address was this device's:

- **built-in CA**: the leaf was issued by a firmware built-in CA that makes the certificate at
  boot for the device's current address (the vendor table in rules/vendor_pki.py, shared with
  CS403 and the chain verdict, e.g. Dahua's "Product Root CA"). Such a certificate names the
  address the device had when it last booted.
- **history, same device**: the audit history (`camscan audit` runs) saw the same MAC address
  or serial number at a named address before.
- **history, same key or certificate**: the history saw this leaf's public key or this very
  certificate at a named address before. This evidence is not used when the key is shared by
  several devices in this scan (CS401): a shared key does not identify a device.

A certificate that names some unrelated wrong address, with none of this evidence, is only a
name mismatch (CS105), not this finding.

## Why it matters
Clients check the address they connect to against the certificate (RFC 6125 6.2), so after an
IP change every browser and VMS rejects the device, while the certificate itself looks fine.
The Sunell HTTPS FAQ, Q1: "The firmware has a root CA and root CA private key. By default, every time when
the device starts up, it will use the root CA and private key to generate a server
certificate ... according to the current device IP. After changing the device IP, the server
certificate IP doesn't match."

## How to fix
Reboot the device: firmware with a built-in CA regenerates its certificate for the new
address at boot (Sunell HTTPS FAQ, Q1 and step 4). Otherwise re-issue the certificate for the new
address (and preferably a DNS name that survives the next change) and upload it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from camscan import certinfo
from camscan.model import (
    AuditContext,
    Endpoint,
    HistoryFact,
    Observation,
    Rule,
    Severity,
    Violation,
    canonical_mac,
)
from camscan.rules.profile_helpers import (
    groups_by,
    ip_names,
    iso,
    leaf_of,
    presented,
    same_address,
)
from camscan.rules.vendor_pki import built_in_ca


class _HistoryIndex:
    def __init__(self, facts: Sequence[HistoryFact]) -> None:
        self.by: dict[tuple[str, str], list[HistoryFact]] = {}
        for fact in facts:
            if mac := canonical_mac(fact.mac):
                self.by.setdefault(("mac", mac), []).append(fact)
            if fact.serial:
                self.by.setdefault(("serial", fact.serial.strip().upper()), []).append(fact)
            self.by.setdefault(("key", fact.spki_sha256), []).append(fact)
            self.by.setdefault(("certificate", fact.leaf_sha256), []).append(fact)

    def get(self, kind: str, value: str) -> list[HistoryFact]:
        return self.by.get((kind, value), [])


def _history_evidence(
    obs: Observation,
    named: list[str],
    spki: str,
    index: _HistoryIndex,
    shared_keys: set[str],
) -> list[dict[str, Any]]:
    lookups: list[tuple[str, str]] = []
    if mac := canonical_mac(obs.identity.mac):
        lookups.append(("mac", mac))
    if obs.identity.serial:
        lookups.append(("serial", obs.identity.serial.strip().upper()))
    if spki not in shared_keys:
        lookups += [("key", spki), ("certificate", obs.leaf_sha256)]
    found: list[dict[str, Any]] = []
    for kind, value in lookups:
        facts = [
            f
            for f in index.get(kind, value)
            if f.seen_at <= obs.observed_at and any(same_address(f.endpoint.address, n) for n in named)
        ]
        if not facts:
            continue
        latest = max(facts, key=lambda f: f.seen_at)
        found.append(
            {
                "basis": f"history_{kind}",
                "address": latest.endpoint.address,
                "seen_at": iso(latest.seen_at),
                "matched": value,
            }
        )
    return found


def check_fleet(
    observations: Sequence[Observation], ctx: AuditContext
) -> Iterator[tuple[Endpoint, Violation]]:
    spkis: dict[Endpoint, str] = {}
    leaves = {}
    for obs in observations:
        leaf = leaf_of(obs)
        if leaf is not None:
            leaves[obs.endpoint] = leaf
            spkis[obs.endpoint] = certinfo.spki_sha256(leaf)
    shared_keys = {key for key, _, _ in groups_by(observations, spkis)}
    index = _HistoryIndex(ctx.history)
    for obs in observations:
        leaf = leaves.get(obs.endpoint)
        if leaf is None:
            continue
        named = ip_names(leaf)
        if not named or any(same_address(n, obs.endpoint.address) for n in named):
            continue
        bases = _history_evidence(obs, named, spkis[obs.endpoint], index, shared_keys)
        ca = built_in_ca(presented(obs))
        if ca is not None:
            bases.insert(
                0,
                {
                    "basis": "built_in_ca",
                    "issuer": certinfo.issuer_text(leaf),
                    "vendor": ca.vendor,
                    "pattern": ca.id,
                },
            )
        if not bases:
            continue
        previous = next((b["address"] for b in bases if "address" in b), named[0])
        how = (
            "the device's built-in CA made it for the address it had at boot"
            if bases[0]["basis"] == "built_in_ca"
            else f"the audit history saw this device there on {bases[0]['seen_at']}"
        )
        yield obs.endpoint, Violation(
            f"the certificate names {previous}, not {obs.endpoint.address}: {how}; "
            "the device changed address since the certificate was made",
            {
                "current_address": obs.endpoint.address,
                "named_addresses": named,
                "previous_address": previous,
                "evidence": bases,
                "sha256": obs.leaf_sha256,
                "not_before": iso(leaf.not_valid_before_utc),
            },
        )


RULE = Rule(
    id="CS404",
    title="Stale certificate after an IP change",
    severity=Severity.ERROR,
    citation="Sunell HTTPS FAQ (Q1, step 4); RFC 6125 6.2",
    rationale="After an address change the certificate names the old address and every client "
    "rejects the device.",
    remediation="Reboot the device (firmware with a built-in CA regenerates its certificate for the "
    "current address at boot, Sunell HTTPS FAQ Q1), or re-issue the certificate for the new address "
    "(preferably with a DNS name too) and upload it.",
    doc=__doc__ or "",
    check_fleet=check_fleet,
)
