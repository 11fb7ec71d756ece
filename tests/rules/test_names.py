"""Name rules CS105-CS108: IP SAN by octets, CN-only, IP written as dNSName, RFC 6125 host names."""

from __future__ import annotations

import datetime as dt

import pytest

from camscan import pki
from camscan.model import AuditContext, Endpoint, Observation, Severity
from camscan.rules import cs105_ip_not_in_san, cs106_no_san, cs107_ip_as_dnsname, cs108_hostname_mismatch
from camscan.rules.names import dns_name_matches
from camscan.rules.registry import evaluate

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
CA = pki.make_ca("Names Test CA", not_before=NOW - dt.timedelta(days=10))


def obs_for(issued: pki.Issued, address: str = "127.0.0.7", server_name: str | None = None) -> Observation:
    return Observation(Endpoint(address, 443, server_name), (issued.cert_der,), "TLSv1.3", "x", NOW)


def leaf(**kwargs: object) -> pki.Issued:
    return pki.make_leaf(CA, not_before=NOW - dt.timedelta(days=1), **kwargs)  # type: ignore[arg-type]


CTX = AuditContext(now=NOW)


def ids(obs: Observation) -> set[str]:
    return {f.rule_id for f in evaluate([obs], AuditContext(now=NOW)) if f.rule_id.startswith("CS10")}


def test_cs105_passes_when_the_ip_is_an_ip_san() -> None:
    assert list(cs105_ip_not_in_san.check(obs_for(leaf(ips=["127.0.0.7"])), CTX)) == []


def test_cs105_fails_for_another_ip_and_names_both() -> None:
    (v,) = cs105_ip_not_in_san.check(obs_for(leaf(ips=["127.0.0.8"])), CTX)
    assert "127.0.0.8" in v.message and "127.0.0.7" in v.message
    assert v.evidence["san_ip_addresses"] == ["127.0.0.8"]
    assert v.evidence["ip_matches_san"] is False


def test_cs105_compares_octets_ipv4_mapped_is_not_ipv4() -> None:
    mapped = leaf(ips=["::ffff:127.0.0.7"])
    assert len(list(cs105_ip_not_in_san.check(obs_for(mapped), CTX))) == 1
    plain = leaf(ips=["127.0.0.7"])
    assert len(list(cs105_ip_not_in_san.check(obs_for(plain, "::ffff:127.0.0.7"), CTX))) == 1


def test_cs105_ipv6_equal_spellings_match() -> None:
    cert = leaf(ips=["::1"])
    assert list(cs105_ip_not_in_san.check(obs_for(cert, "0:0:0:0:0:0:0:1"), CTX)) == []


def test_cs105_ignores_the_cn_and_leaves_cn_only_to_cs106() -> None:
    cn_only = leaf(common_name="127.0.0.7", include_san=False)
    assert list(cs105_ip_not_in_san.check(obs_for(cn_only), CTX)) == []
    (v,) = cs106_no_san.check(obs_for(cn_only), CTX)
    assert "CN=127.0.0.7" in v.message and v.evidence["san_present"] is False


def test_cs106_passes_with_a_san() -> None:
    assert list(cs106_no_san.check(obs_for(leaf(ips=["127.0.0.7"])), CTX)) == []


def test_cs107_ip_written_as_dns_name_is_an_error_when_it_is_the_target() -> None:
    cert = leaf(dns=["127.0.0.7"])
    (v,) = cs107_ip_as_dnsname.check(obs_for(cert), CTX)
    assert v.severity is Severity.ERROR and v.evidence["ip_dns_names"] == ["127.0.0.7"]
    assert {"CS105", "CS107"} <= ids(obs_for(cert))


def test_cs107_is_a_warning_when_the_ip_san_is_also_right() -> None:
    cert = leaf(ips=["127.0.0.7"], dns=["127.0.0.7"])
    (v,) = cs107_ip_as_dnsname.check(obs_for(cert), CTX)
    assert v.severity is None  # the rule's default: warning
    assert "CS105" not in ids(obs_for(cert))


def test_cs107_passes_for_real_dns_names() -> None:
    assert list(cs107_ip_as_dnsname.check(obs_for(leaf(dns=["cam1.example.org"])), CTX)) == []


def test_cs108_matches_host_names_and_ignores_ip_targets() -> None:
    cert = leaf(dns=["cam1.example.org", "*.cams.example.org"])
    assert list(cs108_hostname_mismatch.check(obs_for(cert, server_name="CAM1.example.org."), CTX)) == []
    assert list(cs108_hostname_mismatch.check(obs_for(cert, server_name="a.cams.example.org"), CTX)) == []
    assert list(cs108_hostname_mismatch.check(obs_for(cert), CTX)) == []  # IP target: CS105's job
    (v,) = cs108_hostname_mismatch.check(obs_for(cert, server_name="cam2.example.org"), CTX)
    assert v.evidence["host"] == "cam2.example.org"


def test_name_target_is_not_matched_against_ip_sans_and_ip_target_not_against_dns() -> None:
    cert = leaf(ips=["127.0.0.7"])
    # reached by name: CS108, not CS105
    assert ids(obs_for(cert, server_name="cam1.example.org")) >= {"CS108"}
    assert "CS105" not in ids(obs_for(cert, server_name="cam1.example.org"))


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("example.org", "example.org", True),
        ("Example.ORG", "example.org.", True),
        ("a.example.org", "*.example.org", True),
        ("example.org", "*.example.org", False),  # wildcard needs a label
        ("a.b.example.org", "*.example.org", False),  # one label only
        ("baz.example.org", "ba*.example.org", False),  # no partial wildcards
        ("a.b.example.org", "a.*.example.org", False),  # left-most label only
        ("example", "*.example", False),  # never *.tld
        ("127.0.0.1", "*.0.0.1", False),  # never for IPs
        ("xn--bcher-kva.example", "xn--bcher-kva.example", True),
        ("bücher.example", "bücher.example", False),  # U-labels never match
    ],
)
def test_rfc6125_matching(host: str, pattern: str, expected: bool) -> None:
    assert dns_name_matches(host, pattern) is expected
