"""Runs the conformance cases (tests/data/conformance) through camscan's offline check.

Shared by tests/rules/test_conformance.py and bench/conformance_check.py. Each case becomes
exactly what `camscan check` would do with it: the case's roots are the only trust anchors
(--trust site), its intermediates are the presented chain, its peer is --ip/--dns, its
validation time is --as-of; no network (--offline), no intermediate cache.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from camscan.model import AuditContext, Severity
from camscan.rules.offline import CheckResult, check_chain
from camscan.rules.options import parse_as_of
from camscan.rules.trust import SITE, Bundle, TrustConfig

DATA = Path(__file__).resolve().parent.parent / "data" / "conformance"
FILES = ("x509-limbo-cases.json", "ip-identity-cases.json")

# reason label -> the rule ids whose finding explains it. R2's specific rules and R1's
# CS204 (path validation) are both accepted where the brief says "or the more specific rule".
REASON_RULES: dict[str, frozenset[str]] = {
    "HOSTNAME_MISMATCH": frozenset({"CS105", "CS108"}),
    "CN_NOT_IN_SAN": frozenset({"CS105", "CS108", "CS601"}),
    "WILDCARD_PUBLIC_SUFFIX": frozenset({"CS108", "CS604"}),
    "NO_SAN": frozenset({"CS106"}),
    "UNTRUSTED_ROOT": frozenset({"CS202"}),
    "INCOMPLETE_CHAIN": frozenset({"CS201"}),
    "EXPIRED": frozenset({"CS120", "CS204"}),
    "CHAIN_CERT_EXPIRED": frozenset({"CS120", "CS204"}),
    "NOT_YET_VALID": frozenset({"CS122", "CS204"}),
    "WEAK_KEY": frozenset({"CS101", "CS204"}),
    "FORBIDDEN_KEY_TYPE": frozenset({"CS101", "CS204", "CS605"}),
    "LEAF_IS_CA": frozenset({"CS103", "CS204"}),
    "EKU_NO_SERVER_AUTH": frozenset({"CS104", "CS204", "CS603"}),
    "EKU_INVALID": frozenset({"CS104", "CS204", "CS603"}),
    "CA_NOT_A_CA": frozenset({"CS204"}),
    "PATH_LENGTH_EXCEEDED": frozenset({"CS204"}),
    "KU_KEYCERTSIGN_ON_LEAF": frozenset({"CS103", "CS104", "CS204"}),
    "KU_INCONSISTENT": frozenset({"CS104", "CS204"}),
    "NOT_V3": frozenset({"CS110", "CS204"}),
    "NAME_CONSTRAINTS": frozenset({"CS204"}),
    "KEY_IDENTIFIER": frozenset({"CS204", "CS602"}),
    "BAD_SERIAL": frozenset({"CS204", "CS112"}),
    "EMPTY_NAME": frozenset({"CS204"}),
    "UNKNOWN_CRITICAL_EXTENSION": frozenset({"CS204"}),
    "BASIC_CONSTRAINTS_NOT_CRITICAL": frozenset({"CS204"}),
    "EXTENSION_PROFILE": frozenset({"CS204"}),
    "SAN_CRITICAL": frozenset({"CS204"}),
    "INVALID_SAN": frozenset({"CS204", "CS108", "CS606"}),
    "MALFORMED": frozenset({"CS203", "CS204"}),
}

# Cases whose file lacks a certificate the reason is about. Here the finding that matches
# what the file holds is accepted, and the harness says so.
CASE_NOTES: dict[str, tuple[frozenset[str], str]] = {
    "rfc5280::intermediate-ca-missing-basic-constraints": (
        frozenset({"CS201"}),
        "the case file carries no ICA (intermediates: [], roots: [root]); camscan can only "
        "report the leaf's issuer as missing (CS201), never judge that ICA's basicConstraints",
    ),
}


@dataclass(frozen=True)
class Outcome:
    case_id: str
    relevance: str
    group: str  # "limbo" or "ip"
    expected: str
    reason: str | None
    got: str  # "SUCCESS" / "FAILURE"
    rule_ids: tuple[str, ...]  # ids of error-severity findings
    all_rule_ids: tuple[str, ...]
    explained: bool  # for FAILURE: a finding whose rule matches the reason
    note: str | None = None

    @property
    def agrees(self) -> bool:
        if self.got != self.expected:
            return False
        return self.expected == "SUCCESS" or self.explained


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = []
    for name in FILES:
        group = "ip" if name.startswith("ip-") else "limbo"
        data = json.loads((DATA / name).read_text())
        cases.extend((group, case) for case in data["cases"])
    return cases


def _certs(pems: list[str]) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_pem_x509_certificate(p.encode()) for p in pems)


def audit_time(case: dict[str, Any], now: dt.datetime | None = None) -> dt.datetime:
    if case["validation_time"]:
        return parse_as_of(case["validation_time"])
    return (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)


def check_case(
    case: dict[str, Any], *, now: dt.datetime | None = None, profile: str = "device"
) -> CheckResult:
    """The offline check on one case (the in-process path of `camscan check`)."""
    with warnings.catch_warnings():
        # A few limbo certificates are deliberately malformed (negative serials); cryptography
        # warns when parsing them, and the rules must judge them anyway.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        roots = _certs(case["roots"])
        chain = [*_certs([case["leaf"]]), *_certs(case["intermediates"])]
        trust = TrustConfig(mode=SITE, site_bundles=(Bundle("roots", roots),), offline=True)
        ctx = AuditContext(now=audit_time(case, now), trust=trust, profile=profile)
        peer = case["peer"]
        ip = peer["value"] if peer["kind"] == "IP" else None
        dns = peer["value"] if peer["kind"] == "DNS" else None
        return check_chain(chain, ctx, ip=ip, dns=dns)


def judge(group: str, case: dict[str, Any], result: CheckResult, profile: str = "device") -> Outcome:
    # Under a profile, its own rules' findings (warnings, by design) are what it fails a
    # certificate for: a BR violation is a failure for a WebPKI client.
    failing = {f.rule_id for f in result.findings
               if f.severity is Severity.ERROR or (profile == "webpki" and f.rule_id.startswith("CS6"))}
    errors = tuple(sorted(failing))
    every = tuple(sorted({f.rule_id for f in result.findings}))
    got = "FAILURE" if errors else "SUCCESS"
    reason = case.get("reason")
    accepted = REASON_RULES.get(reason or "", frozenset())
    note = None
    if case["id"] in CASE_NOTES:
        extra, note = CASE_NOTES[case["id"]]
        accepted = accepted | extra
    explained = bool(accepted & set(errors))
    return Outcome(case["id"], case["relevance"], group, case["expected_result"], reason, got,
                   errors, every, explained, note)


def run_all(now: dt.datetime | None = None, profile: str = "device") -> list[Outcome]:
    return [judge(group, case, check_case(case, now=now, profile=profile), profile)
            for group, case in load_cases()]


def summary(outcomes: list[Outcome]) -> dict[str, tuple[int, int]]:
    """{"core": (agree, total), "ip": ..., "extra": ...}; "core" counts the limbo core cases."""
    buckets: dict[str, list[Outcome]] = {"core": [], "ip": [], "extra": []}
    for o in outcomes:
        key = "ip" if o.group == "ip" else o.relevance
        buckets[key].append(o)
    return {k: (sum(o.agrees for o in v), len(v)) for k, v in buckets.items()}
