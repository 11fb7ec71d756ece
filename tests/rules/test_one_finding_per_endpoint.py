"""One finding per rule per endpoint, whatever a device sends (registry.merge_violations).

The acceptance test scans a real TLS server on loopback that sends 42 certificates: its leaf,
the issuing CA and 40 expired certificates that belong to no path. That is one CS203 finding
counting the 40 strays (each listed in its evidence) and one CS120 finding for the 40 expired
ones, not 80 findings.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import jsonschema
import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.model import (
    AuditContext,
    Endpoint,
    Observation,
    Rule,
    ScanParameters,
    Severity,
    Violation,
)
from camscan.pipeline import judge, run_scan
from camscan.reports.csv_report import render_csv
from camscan.reports.json_report import build_document, load_schema
from camscan.rules.registry import (
    MESSAGES_QUOTED,
    all_rules,
    evaluate,
    merge_violations,
    violation_entries,
)
from camscan.rules.trust import SITE, Bundle, TrustConfig
from camscan.scanner.sweep import SweepOptions
from tests.reports.sample import build_audit
from tests.support.tls_servers import ServerSpec, serve

HOST = "127.62.0.1"
STRAYS = 40


async def test_a_device_sending_42_certificates_gets_one_finding_per_rule() -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = dt.timedelta(days=1)
    root = pki.make_ca("Site Root", not_before=now - 30 * day)
    issuing = pki.make_ca("Site Issuing CA", issuer=root, not_before=now - 30 * day)
    leaf = pki.make_leaf(issuing, common_name="cam42", ips=[HOST], not_before=now - day)
    strays = [
        pki.make_ca(f"Old CA {n:02d}", not_before=now - 400 * day, not_after=now - 10 * day).cert
        for n in range(STRAYS)
    ]
    spec = ServerSpec(chain=[leaf.cert, issuing.cert, *strays], key=leaf.key)
    trust = TrustConfig(mode=SITE, site_bundles=(Bundle("site.pem", (root.cert,)),), offline=True)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            endpoint = Endpoint(*await nursery.start(serve, spec, HOST))
            scan = await run_scan(
                [endpoint],
                SweepOptions(connect_timeout=2, handshake_timeout=5, http_timeout=2),
                ScanParameters(targets=(HOST,), ports=(endpoint.port,)),
            )
            nursery.cancel_scope.cancel()
    (obs,) = scan.observations
    assert len(obs.chain_der) == 2 + STRAYS  # the device really sent all 42
    audit = await judge(scan, AuditContext(now=now, trust=trust))

    per_rule = Counter((f.endpoint, f.rule_id) for f in audit.findings)
    assert max(per_rule.values()) == 1, per_rule
    (broken,) = [f for f in audit.findings if f.rule_id == "CS203"]
    assert broken.evidence["count"] == STRAYS
    assert broken.message.startswith(f"{STRAYS} problems: the device sends CN=Old CA 00")
    assert broken.message.endswith(f"and {STRAYS - MESSAGES_QUOTED} more (all listed in the evidence)")
    entries = violation_entries(broken)
    assert {e["problem"] for e in entries} == {"unrelated"}
    listed = sorted(subject for e in entries for subject in e["certificates"])
    assert listed == [f"CN=Old CA {n:02d}" for n in range(STRAYS)]
    assert broken.evidence["path"] == ["CN=cam42", "CN=Site Issuing CA", "CN=Site Root"]  # shared, once

    (expired,) = [f for f in audit.findings if f.rule_id == "CS120"]
    assert expired.evidence["count"] == STRAYS
    # 40 certificates, one sentence (they expired the same second): quoted once, counted.
    assert expired.message.startswith(f"{STRAYS} problems: the root expired on ")
    assert expired.message.endswith(f" ({STRAYS} times)")
    assert sorted(e["position"] for e in violation_entries(expired)) == list(range(2, 2 + STRAYS))
    assert all(len(e["sha256"]) == 64 for e in violation_entries(expired))

    # The report stays readable: one CSV row per finding, a schema-valid JSON document.
    assert len(render_csv(audit).splitlines()) == 1 + len(audit.findings) <= 1 + 10
    document = build_document(audit)
    jsonschema.validate(document, load_schema())
    assert json.loads(json.dumps(document))["endpoints"][0]["findings"][0]["evidence"]


# --- the merge itself -------------------------------------------------------------------------

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ENDPOINTS = (Endpoint("127.0.0.1", 443), Endpoint("127.0.0.2", 443))


def _rule(
    check: object = None, check_fleet: object = None, severity: Severity = Severity.WARNING
) -> Rule:
    return Rule(id="CS998", title="test", severity=severity, citation="-", rationale="-",
                remediation="-", doc="-", check=check, check_fleet=check_fleet)  # type: ignore[arg-type]


def _obs(endpoint: Endpoint) -> Observation:
    cert = pki.make_leaf(None, common_name="x", ips=[endpoint.address])
    return Observation(endpoint, (cert.cert_der,), "TLSv1.3", "x", NOW)


def test_one_violation_is_kept_as_it_was() -> None:
    only = Violation("the leaf is bad", {"position": 0})
    assert merge_violations([only], Severity.ERROR) is only


def test_violations_merge_worst_first_with_shared_evidence_once() -> None:
    merged = merge_violations(
        [
            Violation("root weak", {"path": ["a"], "position": 2}, Severity.WARNING),
            Violation("leaf weak", {"path": ["a"], "position": 0}),
            Violation("intermediate weak", {"path": ["a"], "position": 1}),
        ],
        Severity.ERROR,
    )
    assert merged.severity is Severity.ERROR
    assert merged.message == "3 problems: leaf weak; intermediate weak; root weak"
    assert merged.evidence == {
        "path": ["a"],
        "count": 3,
        "violations": [
            {"message": "leaf weak", "severity": "error", "position": 0},
            {"message": "intermediate weak", "severity": "error", "position": 1},
            {"message": "root weak", "severity": "warning", "position": 2},
        ],
    }


def test_repeated_sentences_are_quoted_once() -> None:
    same = [Violation("the root expired", {"position": n}) for n in range(2, 6)]
    merged = merge_violations([Violation("the leaf expired", {"position": 0}), *same,
                               Violation("a", {}), Violation("b", {})], Severity.ERROR)
    assert merged.message == "7 problems: the leaf expired; the root expired (4 times); a; and 1 more " \
        "(all listed in the evidence)"


def test_the_engine_merges_per_endpoint_for_observation_and_fleet_rules() -> None:
    def many(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
        for n in range(5):
            yield Violation(f"problem {n}", {"n": n})

    def fleet(observations: Sequence[Observation], ctx: AuditContext) -> Iterator[tuple[Endpoint, Violation]]:
        for n in range(3):
            for obs in observations:
                yield obs.endpoint, Violation(f"shared with {n}", {"other": n})

    observations = [_obs(e) for e in ENDPOINTS]
    for rule, count in ((_rule(check=many), 5), (_rule(check_fleet=fleet), 3)):
        found = evaluate(observations, AuditContext(now=NOW), rules=[rule])
        assert [f.endpoint for f in found] == list(ENDPOINTS)
        assert all(f.evidence["count"] == count and len(violation_entries(f)) == count for f in found)
        assert all(f.message.startswith(f"{count} problems: ") for f in found)


def test_no_rule_uses_the_keys_the_merge_reserves() -> None:
    # "count" and "violations" mark a merged finding (violation_entries reads them): a rule's own
    # evidence must not use them. Every rule, on a sample fleet with most defects planted.
    audit = build_audit()
    weak = sorted((Path(__file__).parent.parent / "data" / "weak").glob("*.pem"))
    stray = pki.make_ca("Stray CA").cert.public_bytes(serialization.Encoding.DER)

    def der(path: Path) -> bytes:
        return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)

    extra = [  # weak keys, SHA-1/MD5, v1, each followed by a stray certificate (CS203)
        Observation(Endpoint(f"127.63.0.{n}", 443), (der(path), stray), "TLSv1.2", "x", audit.as_of)
        for n, path in enumerate(weak, start=1)
    ]
    observations = [*audit.scan.observations, *extra]
    ctx = AuditContext(now=audit.as_of)
    spoke = set()
    for rule in all_rules():
        if rule.check is not None:
            said = [v for obs in observations for v in rule.check(obs, ctx)]
        else:
            assert rule.check_fleet is not None
            said = [v for _, v in rule.check_fleet(observations, ctx)]
        assert not [v for v in said if {"count", "violations"} & set(v.evidence)], rule.id
        spoke |= {rule.id} if said else set()
    assert len(spoke) >= 22, sorted(spoke)  # most rules spoke: their evidence was looked at


def test_what_a_rule_said_before_it_raised_still_counts() -> None:
    def half(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
        yield Violation("first")
        yield Violation("second")
        raise ValueError("strange certificate")

    found = evaluate([_obs(ENDPOINTS[0])], AuditContext(now=NOW), rules=[_rule(check=half)])
    assert sorted(f.rule_id for f in found) == ["CS000", "CS998"]
    (merged,) = [f for f in found if f.rule_id == "CS998"]
    assert merged.evidence["count"] == 2
