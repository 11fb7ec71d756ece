"""Names cryptography refuses to decode (camscan.rawnames via camscan.certinfo).

A UTF8String with invalid bytes cannot come from a real TLS server in these tests: OpenSSL,
which the test servers run on, refuses to load such a certificate. Firmware on other TLS
stacks does send them, so certinfo and the rules are checked here on the certificate itself;
tests/reports/test_hostile_text.py scans the other hostile names from a real server.
"""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from camscan import certinfo, pki, rawnames
from camscan.lab.der import substitute
from camscan.rules.registry import INTERNAL_ERROR_RULE_ID, PROFILES, evaluate
from tests.rules.profile_support import context, observation

BAD_CN = b"cam\xff\xfe\xc3(\x1b[2J\xe2\x80\xae-01"  # invalid UTF-8, ESC, U+202E
BAD_CA = b"CA \xc0\xaf\xed\xa0\x80 root"  # an overlong "/" and an encoded surrogate


def _hostile_pair() -> tuple[x509.Certificate, x509.Certificate]:
    ca = pki.make_ca("Q" * len(BAD_CA))
    leaf = pki.make_leaf(ca, common_name="P" * len(BAD_CN), ips=["127.0.0.1"])
    ca_swap = {b"Q" * len(BAD_CA): BAD_CA}
    leaf_swaps = {**ca_swap, b"P" * len(BAD_CN): BAD_CN}
    return substitute(leaf.cert, ca.key, leaf_swaps), substitute(ca.cert, ca.key, ca_swap)


def test_invalid_utf8_string_is_decoded_with_replacement() -> None:
    leaf, ca = _hostile_pair()
    with pytest.raises(ValueError):
        leaf.subject  # noqa: B018 - what cryptography does with such a name
    shown, ca_shown = BAD_CN.decode("utf-8", "replace"), BAD_CA.decode("utf-8", "replace")
    assert "\ufffd" in shown and "\ufffd" in ca_shown
    assert certinfo.common_names(leaf) == [shown]
    assert certinfo.subject_text(leaf) == f"CN={shown}"
    assert certinfo.issuer_text(leaf) == certinfo.subject_text(ca) == f"CN={ca_shown}"
    info = certinfo.describe(leaf)
    assert info["subject"] == f"CN={shown}" and info["self_issued"] is False
    assert certinfo.is_self_issued(ca) is True
    assert certinfo.name_der(leaf, "issuer") == certinfo.name_der(ca, "subject")


@pytest.mark.parametrize("profile", PROFILES)
def test_rules_judge_such_a_chain_without_crashing(profile: str) -> None:
    leaf, ca = _hostile_pair()
    findings = evaluate([observation([leaf, ca])], context(profile=profile))
    assert [f for f in findings if f.rule_id == INTERNAL_ERROR_RULE_ID] == []
    assert "CS202" in {f.rule_id for f in findings}  # the chain was built up to its unknown root


def test_every_string_type_and_rfc4514_escaping() -> None:
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "SE", _type=_ASN1Type.PrintableString),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme, Inc. +1", _type=_ASN1Type.BMPString),
        x509.NameAttribute(NameOID.COMMON_NAME, " #cam;=\\ ", _type=_ASN1Type.UTF8String),
    ])
    cert = pki.make_leaf(None, subject=name, ips=["127.0.0.1"]).cert
    der = certinfo.cert_der(cert)
    assert rawnames.name_text(der, "subject") == cert.subject.rfc4514_string()
    assert rawnames.common_names(der) == [" #cam;=\\ "]
    assert rawnames.name_der(der, "subject") == cert.subject.public_bytes()


@pytest.mark.parametrize("cut", [0, 1, 5, 40, 200])
def test_truncated_der_never_raises(cut: int) -> None:
    der = certinfo.cert_der(pki.make_leaf(None, common_name="cam", ips=["127.0.0.1"]).cert)
    broken = der[:cut]
    assert rawnames.name_text(broken, "subject") == ""
    assert rawnames.subject_alt_names(broken) is None
    assert rawnames.name_der(broken, "issuer") == b""
