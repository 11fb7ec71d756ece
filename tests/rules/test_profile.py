"""CS101-CS111 and CS403: the certificate-profile rules, one pass and one fail case at least each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from camscan import certinfo, pki
from camscan.model import Severity
from camscan.rules import (
    cs101_weak_key,
    cs102_weak_signature,
    cs103_leaf_is_ca,
    cs104_key_usage,
    cs109_long_validity,
    cs110_x509_v1,
    cs111_self_signed_leaf,
    cs403_vendor_default,
)
from camscan.rules.profile_helpers import is_self_signed
from camscan.rules.registry import evaluate
from tests.rules.profile_support import NOW, context, findings, observation, violations, weak

NB = NOW - dt.timedelta(days=10)


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.make_ca("camscan test root", not_before=NB - dt.timedelta(days=100))


def leaf(ca: pki.Issued | None, **kw: object) -> x509.Certificate:
    kw.setdefault("ips", ["127.0.0.1"])
    kw.setdefault("not_before", NB)
    return pki.make_leaf(ca, **kw).cert  # type: ignore[arg-type]


def custom_leaf(
    issuer: pki.Issued,
    extensions: Sequence[x509.ExtensionType],
    *,
    key: object = None,
    subject: x509.Name | None = None,
) -> x509.Certificate:
    """A leaf with exactly the given extensions (pki.make_leaf always adds KU and EKU)."""
    private = key if key is not None else pki.new_key("ec-p256")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or pki.name("127.0.0.1"))
        .issuer_name(issuer.cert.subject)
        .public_key(private.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(NB)
        .not_valid_after(NB + dt.timedelta(days=90))
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(issuer.key, hashes.SHA256())  # type: ignore[arg-type]


# --- CS101 weak key -----------------------------------------------------------------------------


def test_cs101_strong_keys_pass(ca: pki.Issued) -> None:
    for kind in ("ec-p256", "ec-p384", "rsa-2048", "ed25519"):
        obs = observation([leaf(ca, key=pki.new_key(kind)), ca.cert])
        assert violations(cs101_weak_key, obs) == [], kind


def test_cs101_rsa_1024_leaf_fails(ca: pki.Issued) -> None:
    obs = observation([leaf(ca, key=pki.new_key("rsa-1024")), ca.cert])
    [v] = violations(cs101_weak_key, obs)
    assert v.evidence["key_type"] == "RSA" and v.evidence["key_bits"] == 1024
    assert v.evidence["position"] == 0 and v.evidence["role"] == "leaf"
    [f] = findings("CS101", [obs])
    assert f.severity is Severity.ERROR and f.evidence["key_bits"] == 1024


def test_cs101_rsa_512_from_openssl_fails() -> None:
    [v] = violations(cs101_weak_key, observation([weak("rsa512-leaf.pem")]))
    assert v.evidence["key_bits"] == 512 and "512" in v.message


def test_cs101_weak_intermediate_and_presented_root() -> None:
    root = pki.make_ca("weak root", key=pki.new_key("rsa-1024"), not_before=NB)
    inter = pki.make_ca("weak intermediate", issuer=root, key=pki.new_key("rsa-1024"), not_before=NB)
    obs = observation([leaf(inter), inter.cert, root.cert])
    found = violations(cs101_weak_key, obs)
    assert [(v.evidence["position"], v.evidence["role"]) for v in found] == [
        (1, "intermediate"),
        (2, "root"),
    ]
    assert found[0].severity is None  # the rule's ERROR
    assert found[1].severity is Severity.WARNING  # clients use their own copy of a root


def test_cs101_small_curve_and_dsa_fail(ca: pki.Issued) -> None:
    p224 = custom_leaf(ca, [], key=ec.generate_private_key(ec.SECP224R1()))
    [v] = violations(cs101_weak_key, observation([p224, ca.cert]))
    assert v.evidence["key_type"] == "EC" and v.evidence["key_bits"] == 224
    with certinfo.dsa_tolerated():  # only making the key is deprecated; judging it must not warn
        dsa_key = dsa.generate_private_key(2048)
    dsa_leaf = custom_leaf(ca, [], key=dsa_key)
    [v] = violations(cs101_weak_key, observation([dsa_leaf, ca.cert]))
    assert v.evidence["key_type"] == "DSA" and v.evidence["key_bits"] == 2048
    # Every rule, and the facts every report shows, read a DSA leaf without a library warning
    # (the suite turns warnings into errors).
    result = evaluate([observation([dsa_leaf, ca.cert])], context())
    assert "CS101" in {f.rule_id for f in result}
    assert not [f for f in result if f.rule_id == "CS000"]
    assert certinfo.describe(dsa_leaf)["key_type"] == "DSA"
    assert certinfo.is_self_signed(dsa_leaf) is False


# --- CS102 weak signature hash ------------------------------------------------------------------


def test_cs102_sha1_leaf_and_intermediate_fail_root_exempt() -> None:
    chain = [weak("sha1-leaf.pem"), weak("sha1-intermediate.pem"), weak("sha1-root.pem")]
    found = violations(cs102_weak_signature, observation(chain))
    assert [(v.evidence["position"], v.evidence["role"]) for v in found] == [
        (0, "leaf"),
        (1, "intermediate"),
    ]
    assert all(v.evidence["signature_hash"] == "sha1" for v in found)
    assert found[0].evidence["signature_algorithm"] == "sha1WithRSAEncryption"
    # Through the registry: one finding for the endpoint, both certificates in its evidence.
    (finding,) = findings("CS102", [observation(chain)])
    assert finding.evidence["count"] == 2 and finding.message.startswith("2 problems: ")
    assert [v["position"] for v in finding.evidence["violations"]] == [0, 1]


def test_cs102_sha256_leaf_under_sha1_root_passes() -> None:
    chain = [weak("sha256-leaf-under-sha1-root.pem"), weak("sha1-root.pem")]
    assert violations(cs102_weak_signature, observation(chain)) == []


def test_cs102_md5_self_signed_leaf_fails() -> None:
    [v] = violations(cs102_weak_signature, observation([weak("md5-leaf.pem")]))
    assert v.evidence["signature_hash"] == "md5" and v.evidence["role"] == "leaf"
    assert "MD5" in v.message


def test_cs102_sha256_chain_passes(ca: pki.Issued) -> None:
    assert violations(cs102_weak_signature, observation([leaf(ca), ca.cert])) == []


# --- CS103 leaf is a CA -------------------------------------------------------------------------


def test_cs103_leaf_ca_true_fails(ca: pki.Issued) -> None:
    obs = observation([leaf(ca, is_ca=True), ca.cert])
    [v] = violations(cs103_leaf_is_ca, obs)
    assert v.evidence["basic_constraints_ca"] is True and v.evidence["key_cert_sign"] is True
    [f] = findings("CS103", [obs])
    assert f.severity is Severity.WARNING


def test_cs103_end_entity_passes(ca: pki.Issued) -> None:
    assert violations(cs103_leaf_is_ca, observation([leaf(ca), ca.cert])) == []
    # Only the leaf is judged: the CA above it is supposed to be a CA.
    no_bc = custom_leaf(ca, [])
    assert violations(cs103_leaf_is_ca, observation([no_bc, ca.cert])) == []


# --- CS104 key usage / extended key usage -------------------------------------------------------


def _ku(**flags: bool) -> x509.KeyUsage:
    names = (
        "digital_signature content_commitment key_encipherment data_encipherment key_agreement "
        "key_cert_sign crl_sign encipher_only decipher_only"
    ).split()
    return x509.KeyUsage(**{n: flags.get(n, False) for n in names})


def test_cs104_server_leaf_passes(ca: pki.Issued) -> None:
    assert violations(cs104_key_usage, observation([leaf(ca), ca.cert])) == []
    assert violations(cs104_key_usage, observation([leaf(ca, key=pki.new_key("rsa-2048")), ca.cert])) == []
    # Absent extensions impose no limit; anyExtendedKeyUsage allows serverAuth.
    assert violations(cs104_key_usage, observation([custom_leaf(ca, []), ca.cert])) == []
    any_eku = custom_leaf(ca, [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])])
    assert violations(cs104_key_usage, observation([any_eku, ca.cert])) == []


def test_cs104_client_auth_only_fails(ca: pki.Issued) -> None:
    obs = observation([leaf(ca, server_auth=False), ca.cert])
    [v] = violations(cs104_key_usage, obs)
    assert v.evidence["extended_key_usage"] == ["clientAuth"]
    assert findings("CS104", [obs])[0].severity is Severity.ERROR


def test_cs104_ec_key_agreement_only_fails(ca: pki.Issued) -> None:
    cert = custom_leaf(ca, [_ku(key_agreement=True)])
    [v] = violations(cs104_key_usage, observation([cert, ca.cert]))
    assert v.severity is None and "digitalSignature" in v.message
    assert v.evidence["key_usage"] == ["key_agreement"]


def test_cs104_rsa_key_encipherment_only_warns(ca: pki.Issued) -> None:
    cert = custom_leaf(ca, [_ku(key_encipherment=True)], key=pki.new_key("rsa-2048"))
    [v] = violations(cs104_key_usage, observation([cert, ca.cert]))
    assert v.severity is Severity.WARNING and "TLS 1.3" in v.message


# --- CS109 validity longer than policy ---------------------------------------------------------


def test_cs109_boundary_is_inclusive(ca: pki.Issued) -> None:
    exactly = leaf(ca, not_after=NB + dt.timedelta(days=398) - dt.timedelta(seconds=1))
    assert violations(cs109_long_validity, observation([exactly, ca.cert])) == []
    one_more = leaf(ca, not_after=NB + dt.timedelta(days=398))
    [v] = violations(cs109_long_validity, observation([one_more, ca.cert]))
    assert v.evidence["max_validity_days"] == 398


def test_cs109_ten_years_fails_and_policy_is_configurable(ca: pki.Issued) -> None:
    cert = leaf(ca, not_after=NB + dt.timedelta(days=3650))
    obs = observation([cert, ca.cert])
    [f] = findings("CS109", [obs])
    assert f.evidence["validity_days"] == 3650.0 and f.severity is Severity.WARNING
    assert violations(cs109_long_validity, obs, context(max_validity_days=3651)) == []
    # The CA above it (10 years) is not judged.
    assert violations(cs109_long_validity, observation([leaf(ca), ca.cert])) == []


# --- CS110 X.509 v1 ------------------------------------------------------------------------------


def test_cs110_v1_leaf_fails() -> None:
    obs = observation([weak("v1-leaf.pem")])
    [v] = violations(cs110_x509_v1, obs)
    assert v.evidence["version"] == "v1" and v.evidence["role"] == "leaf"
    assert len(findings("CS110", [obs])) == 1


def test_cs110_v3_passes_and_v1_root_is_exempt(ca: pki.Issued) -> None:
    assert violations(cs110_x509_v1, observation([leaf(ca), ca.cert])) == []
    # A self-signed v1 certificate further up is a trust anchor's business, not the device's.
    assert violations(cs110_x509_v1, observation([leaf(ca), weak("v1-leaf.pem")])) == []


# --- CS111 self-signed leaf ----------------------------------------------------------------------


def test_cs111_self_signed_fails() -> None:
    obs = observation([leaf(None, common_name="127.0.0.1")])
    [v] = violations(cs111_self_signed_leaf, obs)
    assert v.evidence["common_names"] == ["127.0.0.1"]
    [f] = findings("CS111", [obs])
    assert f.severity is Severity.WARNING


def test_cs111_md5_and_v1_self_signed_are_recognised() -> None:
    # certinfo.is_self_signed uses verify_directly_issued_by, which refuses MD5: ours does not.
    for name in ("md5-leaf.pem", "v1-leaf.pem"):
        assert len(violations(cs111_self_signed_leaf, observation([weak(name)]))) == 1, name
    assert is_self_signed(weak("sha1-root.pem"))


def test_cs111_ca_issued_and_self_issued_but_not_self_signed_pass(ca: pki.Issued) -> None:
    assert violations(cs111_self_signed_leaf, observation([leaf(ca), ca.cert])) == []
    # Subject == issuer, but another key signed it: self-issued, not self-signed.
    namesake = pki.make_ca("cam-42", not_before=NB)
    twin = leaf(namesake, subject=pki.name("cam-42"))
    assert twin.subject == twin.issuer
    assert violations(cs111_self_signed_leaf, observation([twin])) == []


# --- CS403 vendor default certificates -----------------------------------------------------------

DAHUA_CA_NAME = pki.name("Product Root CA", C="CN", ST="ZheJiang", L="HangZhou", O="DahuaTech")


def dahua_leaf(address: str) -> tuple[x509.Certificate, pki.Issued]:
    root = pki.make_ca("Product Root CA", subject=DAHUA_CA_NAME, not_before=NB)
    subject = pki.name(address, C="CN", ST="ZHEJIANG", L="HANGZHOU", O="DAHUA", OU="DAHUATECH")
    return leaf(root, subject=subject, ips=[address]), root


def test_cs403_dahua_product_root_ca() -> None:
    cert, _ = dahua_leaf("192.168.1.108")  # example, never contacted: the Dahua factory default IP
    obs = observation([cert])
    [v] = violations(cs403_vendor_default, obs)
    assert v.evidence["pattern"] == "dahua-product-root-ca" and v.evidence["built_in_ca"] is True
    assert v.evidence["matched_in"] == "issuer" and v.severity is Severity.WARNING
    assert findings("CS403", [obs])[0].evidence["vendor"] == "Dahua"


def test_cs403_shared_firmware_certificates_are_errors() -> None:
    hik = pki.name("hikvision.com", C="CN", ST="ZJ", L="HZ", O="HIKVISION", OU="HZ")
    dlink = pki.name("www.dlink.com", C="TW", ST="Asia", L="Asia", O="D-Link Corporation")
    for subject, pattern in ((hik, "hikvision-firmware-shared"), (dlink, "dlink-firmware-shared")):
        cert = pki.make_leaf(None, subject=subject, key=pki.new_key("rsa-2048"), not_before=NB).cert
        [v] = violations(cs403_vendor_default, observation([cert]))
        assert v.evidence["pattern"] == pattern and v.severity is Severity.ERROR
        assert v.evidence["shared_key"] is True


def test_cs403_lookalike_not_self_signed_and_ordinary_pass(ca: pki.Issued) -> None:
    # A D-Link-named certificate issued by the site CA is not the shared firmware certificate.
    dlink = pki.name("www.dlink.com", O="D-Link Corporation")
    assert violations(cs403_vendor_default, observation([leaf(ca, subject=dlink), ca.cert])) == []
    assert violations(cs403_vendor_default, observation([leaf(ca), ca.cert])) == []
    assert violations(cs403_vendor_default, observation([leaf(None, common_name="127.0.0.1")])) == []


def test_cs403_axis_device_id_is_a_notice() -> None:
    axis_ca = pki.make_ca("Axis device ID Intermediate CA ECC 2", not_before=NB)
    cert = leaf(axis_ca, subject=pki.name("axis-b8a44f000001-eccp256-1", SERIALNUMBER="B8A44F000001"))
    [v] = violations(cs403_vendor_default, observation([cert, axis_ca.cert]))
    assert v.evidence["pattern"] == "axis-device-id" and v.severity is Severity.NOTICE


def test_cs403_factory_default_address_self_signed() -> None:
    cert = leaf(None, common_name="192.168.1.64", ips=[])  # example, never contacted: Hikvision default
    [v] = violations(cs403_vendor_default, observation([cert]))
    assert v.evidence["pattern"] == "factory-default-address"


def test_dsa_signed_chain_is_built_and_judged_without_warnings() -> None:
    """An old device CA with a DSA key: the path is built through it, no library warning escapes."""
    with certinfo.dsa_tolerated():  # making DSA keys and signing with them is what is deprecated
        root = pki.make_ca("dsa device root", key=dsa.generate_private_key(2048), not_before=NB)
        device = leaf(root)
    result = evaluate([observation([device, root.cert])], context())
    assert not [f for f in result if f.rule_id == "CS000"]
    assert is_self_signed(root.cert)
    assert certinfo.key_description(root.cert) == ("DSA", 2048)
