"""CS205 (a leaf outside its CA's name constraints) against x509-limbo's name-constraint cases
and hand-made chains: it fires on each case whose SAN a real verifier refuses, on none it
accepts, and never crashes on a malformed constraint (CS204 reports that one)."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509

from camscan import pki
from camscan.model import AuditContext
from camscan.rules.nameconstraints import dns_within, looks_like_host
from camscan.rules.offline import check_chain
from camscan.rules.trust.anchors import Bundle, TrustConfig
from tests.rules.conformance_harness import check_case, load_cases

NC_CASES = [c for _, c in load_cases() if c["id"].startswith("rfc5280::nc::")]


def test_the_limbo_name_constraint_cases_are_there() -> None:
    assert len(NC_CASES) >= 8


@pytest.mark.parametrize("case", NC_CASES, ids=[c["id"] for c in NC_CASES])
def test_cs205_agrees_with_x509_limbo(case: dict[str, object]) -> None:
    rule_ids = {f.rule_id for f in check_case(case).findings}
    assert "CS000" not in rule_ids  # no rule crashed on a malformed constraint
    if case["expected_result"] == "SUCCESS":
        assert "CS205" not in rule_ids
    elif "invalid" not in str(case["id"]):  # malformed constraints are CS204's
        assert "CS205" in rule_ids


def _ctx(anchor: x509.Certificate) -> AuditContext:
    trust = TrustConfig(mode="site", site_bundles=(Bundle("anchor", (anchor,)),), offline=True)
    return AuditContext(now=pki.utcnow(), trust=trust)


def test_excluded_subtrees_and_an_intermediate_constraint() -> None:
    constraints = x509.NameConstraints(
        permitted_subtrees=None,
        excluded_subtrees=[
            x509.DNSName("corp.example"),
            x509.IPAddress(ipaddress.ip_network("198.51.100.0/24")),
        ],
    )
    root = pki.make_ca("root")
    issuing = pki.make_ca("issuing", issuer=root, extensions=[(constraints, True)])
    good = pki.make_leaf(issuing, dns=["cam.example.internal"], ips=["127.0.0.9"])
    bad = pki.make_leaf(issuing, dns=["cam.corp.example"], ips=["127.0.0.9"])
    assert not [f for f in check_chain([good.cert, issuing.cert], _ctx(root.cert), ip="127.0.0.9").findings
                if f.rule_id == "CS205"]
    [finding] = [f for f in check_chain([bad.cert, issuing.cert], _ctx(root.cert), ip="127.0.0.9").findings
                 if f.rule_id == "CS205"]
    assert finding.evidence["outside"] == [{"name": "DNS:cam.corp.example", "reason": "excluded"}]
    assert finding.evidence["ca_subject"] == "CN=issuing"


@pytest.mark.parametrize(("name", "tree", "inside"), [
    ("example.internal", "example.internal", True),
    ("cam.example.internal", "example.internal", True),
    ("cam.example.internal.", "EXAMPLE.internal", True),
    ("badexample.internal", "example.internal", False),
    ("example.internal", ".example.internal", False),
    ("a.example.internal", ".example.internal", True),
])
def test_dns_subtree_matching(name: str, tree: str, inside: bool) -> None:
    assert dns_within(name, tree) is inside


@pytest.mark.parametrize(("cn", "host"), [
    ("127.77.0.6", True), ("cam7.example.internal", True), ("camera", False),
    ("camscan site CA", False), ("-bad.example", False), ("", False),
])
def test_which_common_names_openssl_takes_for_host_names(cn: str, host: bool) -> None:
    assert looks_like_host(cn) is host
