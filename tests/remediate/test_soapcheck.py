"""The schema check itself: it must refuse what the official ONVIF schemas refuse, or the
conformance fixture proves nothing."""

from __future__ import annotations

import datetime as dt

from camscan.remediate.drivers.advsec import san_attribute
from camscan.remediate.drivers.soap import datetime_xml, envelope
from tests.support.soapcheck import Tally, check


def _problems(body: str, flavour: str = "current") -> list[str]:
    return check(envelope(body).encode(), flavour, "body", "test", Tally())


def test_the_operations_only_the_current_advanced_security_has_fail_the_1_0_2_schemas() -> None:
    ecc = "<tas:CreateECCKeyPair><tas:EllipticCurve>secp256r1</tas:EllipticCurve></tas:CreateECCKeyPair>"
    assert _problems(ecc) == []
    assert "no global element" in _problems(ecc, "1.0.2")[0]
    pfx = "<tas:UploadCertificateWithPrivateKeyInPKCS12><tas:CertWithPrivateKey>AA==</tas:CertWithPrivateKey>"
    assert _problems(pfx + "</tas:UploadCertificateWithPrivateKeyInPKCS12>", "1.0.2")


def test_order_names_and_values_are_checked() -> None:
    when = datetime_xml("tds:UTCDateTime", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    good = (
        f"<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType>"
        f"<tds:DaylightSavings>false</tds:DaylightSavings>{when}</tds:SetSystemDateAndTime>"
    )
    assert _problems(good) == []
    swapped = good.replace("<tds:DateTimeType>Manual</tds:DateTimeType>", "").replace(
        "</tds:DaylightSavings>", "</tds:DaylightSavings><tds:DateTimeType>Manual</tds:DateTimeType>"
    )
    assert _problems(swapped)
    assert _problems(good.replace(">Manual<", ">Sometimes<"))
    assert _problems(good.replace("tds:DaylightSavings", "tds:DaylightSaving"))


def test_the_csr_subject_alt_name_attribute_is_valid_in_both_sets() -> None:
    body = (
        "<tas:CreatePKCS10CSR><tas:Subject><tas:CommonName>cam</tas:CommonName></tas:Subject>"
        f"<tas:KeyID>k1</tas:KeyID>{san_attribute(['192.0.2.7'], ['cam.example.test'])}"
        "<tas:SignatureAlgorithm><tas:algorithm>1.2.840.10045.4.3.2</tas:algorithm></tas:SignatureAlgorithm>"
        "</tas:CreatePKCS10CSR>"
    )
    assert _problems(body) == [] and _problems(body, "1.0.2") == []
    assert _problems(body.replace("tas:extnOID", "tas:OID"))


def test_faults_must_be_soap_1_2_faults() -> None:
    good = (
        "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:InvalidArgVal</s:Value>"
        '</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">no</s:Text></s:Reason></s:Fault>'
    )
    wrapped = envelope(good).replace(
        "<s:Envelope ", '<s:Envelope xmlns:ter="http://www.onvif.org/ver10/error" '
    )
    assert check(wrapped.encode(), "current", "answer", "t", Tally()) == []
    bad = wrapped.replace("s:Sender", "s:Maybe").replace(' xml:lang="en"', "")
    assert len(check(bad.encode(), "current", "answer", "t", Tally())) >= 2


def test_the_pkcs12_encryption_follows_what_the_device_lists() -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    from camscan import pki
    from camscan.remediate.drivers.advsec import KeystoreCapabilities

    issued = pki.make_leaf(None, common_name="cam", ips=["192.0.2.7"])
    three_des = bytes.fromhex("060a2a864886f70d010c0103")  # pbeWithSHAAnd3-KeyTripleDES-CBC
    pbes2 = bytes.fromhex("06092a864886f70d01050d")  # PBES2
    for listed, want, other in (
        (("PBKDF2", "AES-128-CBC", "AES-256-CBC"), pbes2, three_des),
        (("PBKDF2", "AES-128-CBC"), three_des, pbes2),
        ((), three_des, pbes2),
    ):
        caps = KeystoreCapabilities(pkcs12=True, pbe=listed)
        pfx = pkcs12.serialize_key_and_certificates(
            b"x",
            issued.key,
            issued.cert,
            None,
            caps.pkcs12_encryption(b"pw"),  # type: ignore[arg-type]
        )
        assert want in pfx and other not in pfx, listed
        assert pkcs12.load_key_and_certificates(pfx, b"pw")[1] == issued.cert
