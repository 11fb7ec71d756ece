"""The explicit rule registry and the evaluator.

Adding a rule: write rules/csNNN_<topic>.py exposing RULE, then add its module name to
RULE_MODULES below. Ids are never reused; a test checks that every rule is registered and
fully documented.

One finding per rule per endpoint, whatever the device sends: a rule yields a violation per
offending certificate (or chain problem), and the evaluator merges an endpoint's violations of
one rule into one finding (merge_violations). A device that sends 40 stray certificates gets
one CS203 finding that counts them and lists each in its evidence, not 40 findings.
"""

from __future__ import annotations

import importlib
import traceback
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from camscan.model import AuditContext, Endpoint, Finding, Observation, Rule, Severity, Violation

# Sorted by id. Each entry is a module in this package that defines RULE.
RULE_MODULES: tuple[str, ...] = (
    "cs101_weak_key",
    "cs102_weak_signature",
    "cs103_leaf_is_ca",
    "cs104_key_usage",
    "cs105_ip_not_in_san",
    "cs106_no_san",
    "cs107_ip_as_dnsname",
    "cs108_hostname_mismatch",
    "cs109_long_validity",
    "cs110_x509_v1",
    "cs111_self_signed_leaf",
    "cs112_serial_number",
    "cs120_expired",
    "cs121_expiring_soon",
    "cs122_not_yet_valid",
    "cs201_missing_intermediate",
    "cs202_untrusted_root",
    "cs203_broken_chain",
    "cs204_path_validation",
    "cs205_name_constraints",
    "cs301_legacy_tls",
    "cs302_clock_skew",
    "cs401_shared_key",
    "cs402_shared_certificate",
    "cs403_vendor_default",
    "cs404_stale_after_ip_change",
    "cs501_key_mismatch",
    "cs601_cn_not_in_san",
    "cs602_key_identifiers",
    "cs603_eku_profile",
    "cs604_wildcard_public_suffix",
    "cs605_forbidden_key_type",
    "cs606_invalid_dns_san",
)

INTERNAL_ERROR_RULE_ID = "CS000"
# How many of a merged finding's violations its message quotes; the evidence lists them all.
MESSAGES_QUOTED = 3


@cache
def rules_fingerprint() -> str:
    """"sha256:<hex>" of every module of this package (the registry, each rule, trust and chain
    logic), so two reports judged by different rule code or documentation can be told apart
    (`camscan merge` refuses to mix them) even between two builds of one camscan version."""
    import hashlib
    from importlib.resources import files
    from importlib.resources.abc import Traversable

    digest = hashlib.sha256()
    folders: list[tuple[str, Traversable]] = [("", files("camscan.rules"))]
    while folders:  # breadth first, each folder's entries by name: one order everywhere
        prefix, folder = folders.pop(0)
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            name = prefix + entry.name
            if entry.is_dir() and entry.name != "__pycache__":
                folders.append((name + "/", entry))
            elif entry.name.endswith(".py") and entry.is_file():
                digest.update(name.encode() + b"\0" + entry.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def judging_fingerprint(ctx: AuditContext) -> str:
    """"sha256:<hex>" of the settings the rules judge with, the clock aside: trust mode, the
    anchors and intermediates by content (not file name), offline, and the thresholds. Two
    reports judged alike have the same one; `camscan merge` judges again only with it."""
    import hashlib
    import json

    from cryptography.hazmat.primitives import hashes

    def digests(bundles: Iterable[object]) -> list[str]:
        certs = (cert for bundle in bundles for cert in getattr(bundle, "certs", ()))
        return sorted(cert.fingerprint(hashes.SHA256()).hex() for cert in certs)

    trust = ctx.trust
    settings = {
        "trust": None if trust is None else {
            "mode": trust.mode,
            "anchors": digests(trust.site_bundles),
            "intermediates": digests(trust.intermediates),
            "offline": bool(trust.offline),
        },
        "expiry_warn_days": ctx.expiry_warn_days,
        "max_validity_days": ctx.max_validity_days,
        "clock_skew_warn_seconds": ctx.clock_skew_warn_seconds,
    }
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@cache
def all_rules() -> tuple[Rule, ...]:
    rules = tuple(
        importlib.import_module(f"camscan.rules.{module}").RULE for module in RULE_MODULES
    )
    return tuple(sorted(rules, key=lambda r: r.id))


PROFILES: tuple[str, ...] = ("device", "webpki")


def rules_for(profile: str) -> tuple[Rule, ...]:
    """The rules a profile judges with: the device rules, plus the profile's own."""
    return tuple(r for r in all_rules() if r.profile is None or r.profile == profile)


def get_rule(rule_id: str) -> Rule | None:
    wanted = rule_id.strip().upper()
    return next((r for r in all_rules() if r.id == wanted), None)


def merge_violations(violations: Sequence[Violation], default: Severity) -> Violation:
    """One violation standing for several of one rule on one endpoint.

    Severity: the worst. Message: the count, then the first few distinct messages (worst first).
    Evidence: what every violation's evidence agrees on (e.g. CS203's chain summary), then
    "count" and "violations", one entry per violation: its message, severity and the rest of
    its evidence (which certificate: position, subject, sha256...).
    """
    if len(violations) == 1:
        return violations[0]
    ordered = sorted(violations, key=lambda v: -(v.severity or default).rank)  # stable: rule order
    evidences = [dict(v.evidence) for v in ordered]
    common = {
        key: value
        for key, value in evidences[0].items()
        if all(key in other and other[key] == value for other in evidences[1:])
    }
    entries: list[dict[str, Any]] = [
        {
            "message": v.message,
            "severity": (v.severity or default).value,
            **{key: value for key, value in evidence.items() if key not in common},
        }
        for v, evidence in zip(ordered, evidences, strict=True)
    ]
    count = len(ordered)
    # The same sentence for several certificates (40 expired strays) is quoted once, counted.
    repeats = Counter(v.message for v in ordered)
    distinct = list(dict.fromkeys(v.message for v in ordered))[:MESSAGES_QUOTED]
    quoted = "; ".join(m if repeats[m] == 1 else f"{m} ({repeats[m]} times)" for m in distinct)
    rest = count - sum(repeats[m] for m in distinct)
    more = f"; and {rest} more (all listed in the evidence)" if rest > 0 else ""
    return Violation(
        f"{count} problems: {quoted}{more}",
        {**common, "count": count, "violations": entries},
        ordered[0].severity or default,
    )


def violation_entries(finding: Finding) -> list[dict[str, Any]]:
    """Each violation behind a finding, as merge_violations recorded it: its message, severity
    and its evidence (the shared keys included), for one violation or many alike."""
    evidence = dict(finding.evidence)
    entries = evidence.pop("violations", None)
    if not isinstance(entries, list) or "count" not in evidence:
        return [{"message": finding.message, "severity": finding.severity.value, **evidence}]
    evidence.pop("count")
    return [{**evidence, **entry} for entry in entries]


def _finding(rule: Rule, endpoint: Endpoint, violations: Sequence[Violation]) -> Finding:
    violation = merge_violations(violations, rule.severity)
    return Finding(
        rule_id=rule.id,
        severity=violation.severity or rule.severity,
        endpoint=endpoint,
        title=rule.title,
        message=violation.message,
        evidence=dict(violation.evidence),
        remediation=rule.remediation,
    )


def _crash_finding(rule: Rule, endpoint: Endpoint, exc: BaseException) -> Finding:
    """A rule that raises on a strange certificate becomes a finding; the audit goes on."""
    return Finding(
        rule_id=INTERNAL_ERROR_RULE_ID,
        severity=Severity.WARNING,
        endpoint=endpoint,
        title="A rule could not evaluate this certificate",
        message=f"rule {rule.id} failed on this endpoint: {type(exc).__name__}: {exc}",
        evidence={
            "rule_id": rule.id,
            "exception": type(exc).__name__,
            "where": "".join(traceback.format_tb(exc.__traceback__, limit=-1)).strip(),
        },
        remediation="Report this to the camscan developers with the certificate (it is public).",
    )


def evaluate(
    observations: Sequence[Observation],
    ctx: AuditContext,
    rules: Iterable[Rule] | None = None,
) -> list[Finding]:
    """Run every applicable rule on every observation; return all findings, deterministically sorted."""
    selected = tuple(rules) if rules is not None else rules_for(ctx.profile)
    findings: list[Finding] = []
    for rule in selected:
        if rule.check is not None:
            for obs in observations:
                found: list[Violation] = []
                try:
                    found.extend(rule.check(obs, ctx))
                except Exception as exc:
                    findings.append(_crash_finding(rule, obs.endpoint, exc))
                if found:  # what the rule said before it failed still counts
                    findings.append(_finding(rule, obs.endpoint, found))
        elif rule.check_fleet is not None:
            by_endpoint: dict[Endpoint, list[Violation]] = {}
            try:
                for endpoint, violation in rule.check_fleet(observations, ctx):
                    by_endpoint.setdefault(endpoint, []).append(violation)
            except Exception as exc:
                for obs in observations:
                    findings.append(_crash_finding(rule, obs.endpoint, exc))
            findings.extend(_finding(rule, endpoint, vs) for endpoint, vs in by_endpoint.items())
    findings.sort(key=lambda f: (f.endpoint.sort_key, -f.severity.rank, f.rule_id, f.message))
    return findings
