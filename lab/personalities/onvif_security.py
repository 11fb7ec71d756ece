"""ONVIF certificate operations of the lab: the legacy device service (tds GetPkcs10Request,
LoadCertificates, LoadCertificateWithPrivateKey) and Advanced Security (advancedsecurity.wsdl).

Advanced Security comes in two flavours (DeviceSettings.onvif_security; "none" turns the
service off), as on real cameras:
"current" (the onvif/specs WSDL: RSA and ECC key generation, PKCS#12 upload, PBKDF2/AES) and
"1.0.2" (the 2013-2014 WSDL many units still run: RSA key generation only, no
CreateECCKeyPair, no UploadCertificateWithPrivateKeyInPKCS12; those answer
ter:ActionNotSupported). Each answers GetServiceCapabilities with what it has. A CSR carries
the subjectAltName a CSRAttribute X509v3Extension (OID 2.5.29.17) asks for.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from camscan import pki
from camscan.lab.certs import load_private_key
from camscan.lab.der import general_names
from camscan.lab.firmware import CertificateRejected
from camscan.lab.httpserver import Response
from camscan.lab.personalities.soapfault import TAS, TDS, Fault, Op, bad_arg, soap
from camscan.lab.personalities.xmlutil import all_local, b64, b64decode, el, find_local, text_local

if TYPE_CHECKING:
    from camscan.lab.device import Device

SAN_OID = "2.5.29.17"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
RSA_SHA256 = "1.2.840.113549.1.1.11"
SIGNATURES = {"ec": ECDSA_SHA256, "rsa": RSA_SHA256}
# DER of the OID pbeWithSHAAnd3-KeyTripleDES-CBC (1.2.840.113549.1.12.1.3, RFC 7292 appendix C).
PBE_3DES = bytes.fromhex("060a2a864886f70d010c0103")

# --- certificates: legacy device service ----------------------------------------------------

def _subject_cn(subject: str, device: Device) -> str:
    for part in subject.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().upper() == "CN" and value.strip():
            return value.strip()
    return device.ip


def _load_cert(data: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:BadCertificate"), "not a DER certificate") from None


def _cert_el(op: Element) -> bytes:
    try:
        return b64decode(text_local(op, "Certificate", "Data") or text_local(op, "Certificate"))
    except ValueError:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:BadCertificate"), "bad base64") from None


async def get_pkcs10_request(device: Device, op: Element) -> Response:
    cert_id = text_local(op, "CertificateID") or "camscan-https"
    store = device.firmware.keystore
    key_id = device.firmware.create_csr_key()
    store.keys[cert_id] = store.keys.pop(key_id)  # legacy ops name the key by CertificateID
    csr = device.firmware.csr(cert_id, _subject_cn(text_local(op, "Subject"), device))
    der = csr.public_bytes(serialization.Encoding.DER)
    return soap(f"<tds:GetPkcs10RequestResponse><tds:Pkcs10Request>{el('tt:Data', b64(der))}"
                "</tds:Pkcs10Request></tds:GetPkcs10RequestResponse>")


async def load_certificates(device: Device, op: Element) -> Response:
    chain = [_load_cert(b64decode(text_local(c, "Certificate", "Data")))
             for c in all_local(op, "NVTCertificate")]
    try:
        device.firmware.install_signed(chain)
    except CertificateRejected as exc:
        raise Fault("Receiver", ("ter:Action", "ter:NoMatchingPrivateKey"), str(exc)) from None
    return soap("<tds:LoadCertificatesResponse/>")


def _load_private_key(data: bytes) -> pki.PrivateKey:
    try:
        return load_private_key(data, der=True)
    except ValueError:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:BadPrivateKey"), "not a DER private key") from None


async def load_certificate_with_private_key(device: Device, op: Element) -> Response:
    item = find_local(op, "CertificateWithPrivateKey")
    if item is None:
        raise bad_arg("CertificateWithPrivateKey", "missing CertificateWithPrivateKey")
    cert = _load_cert(b64decode(text_local(item, "Certificate", "Data")))
    key = _load_private_key(b64decode(text_local(item, "PrivateKey", "Data")))
    try:
        device.firmware.upload([cert], key)
    except CertificateRejected as exc:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:KeyMismatch"), str(exc)) from None
    return soap("<tds:LoadCertificateWithPrivateKeyResponse/>")


async def get_certificates(device: Device, op: Element) -> Response:
    leaf = device.served().leaf
    der = leaf.public_bytes(serialization.Encoding.DER)
    return soap("<tds:GetCertificatesResponse><tds:NvtCertificate>"
                f"<tt:CertificateID>https</tt:CertificateID><tt:Certificate>{el('tt:Data', b64(der))}"
                "</tt:Certificate></tds:NvtCertificate></tds:GetCertificatesResponse>")


# --- certificates: Advanced Security keystore -----------------------------------------------

async def create_rsa_key_pair(device: Device, op: Element) -> Response:
    bits = text_local(op, "KeyLength")
    if bits not in ("2048", "3072", "4096"):
        raise bad_arg("KeyLength", f"unsupported RSA key length {bits!r}")
    # Generate off the event loop: RSA takes long enough to stall every other device.
    key = await trio.to_thread.run_sync(pki.new_key, f"rsa-{bits}")
    key_id = device.firmware.keystore.add_key(key)
    return soap(f"<tas:CreateRSAKeyPairResponse>{el('tas:KeyID', key_id)}"
                "<tas:EstimatedCreationTime>PT0S</tas:EstimatedCreationTime></tas:CreateRSAKeyPairResponse>")


async def create_ecc_key_pair(device: Device, op: Element) -> Response:
    curve = {"secp256r1": "ec-p256", "prime256v1": "ec-p256", "secp384r1": "ec-p384"}.get(
        text_local(op, "EllipticCurve"))
    if curve is None:
        raise bad_arg("EllipticCurve", "unsupported curve")
    key_id = device.firmware.keystore.add_key(pki.new_key(curve))
    return soap(f"<tas:CreateECCKeyPairResponse>{el('tas:KeyID', key_id)}"
                "<tas:EstimatedCreationTime>PT0S</tas:EstimatedCreationTime></tas:CreateECCKeyPairResponse>")


async def get_key_status(device: Device, op: Element) -> Response:
    if text_local(op, "KeyID") not in device.firmware.keystore.keys:
        raise bad_arg("KeyID", "no such key")
    return soap("<tas:GetKeyStatusResponse><tas:KeyStatus>ok</tas:KeyStatus></tas:GetKeyStatusResponse>")


def _csr_names(op: Element) -> tuple[list[str], list[str]]:
    """The IPs and DNS names of a subjectAltName CSRAttribute (X509v3Extension, 2.5.29.17)."""
    for ext in all_local(op, "X509v3Extension"):
        if text_local(ext, "extnOID") == SAN_OID:
            try:
                return general_names(b64decode(text_local(ext, "extnValue")))
            except ValueError:
                raise bad_arg("CSRAttribute", "the subjectAltName value is not DER GeneralNames") from None
    return [], []


async def create_pkcs10_csr(device: Device, op: Element) -> Response:
    key_id = text_local(op, "KeyID")
    key = device.firmware.keystore.keys.get(key_id)
    if key is None:
        raise bad_arg("KeyID", "no such key")
    algorithm = text_local(op, "SignatureAlgorithm", "algorithm")
    if algorithm != SIGNATURES["rsa" if isinstance(key, rsa.RSAPrivateKey) else "ec"]:
        raise bad_arg("SignatureAlgorithm", f"{algorithm!r} cannot sign with this key")
    ips, dns = _csr_names(op)
    cn = text_local(op, "Subject", "CommonName") or device.ip
    der = device.firmware.csr(key_id, cn, ips=ips, dns=dns).public_bytes(serialization.Encoding.DER)
    return soap(f"<tas:CreatePKCS10CSRResponse>{el('tas:PKCS10CSR', b64(der))}</tas:CreatePKCS10CSRResponse>")


async def upload_certificate(device: Device, op: Element) -> Response:
    cert = _load_cert(_cert_el(op))
    store = device.firmware.keystore
    key_id = store.key_for(cert)
    if key_id is None and text_local(op, "PrivateKeyRequired").lower() == "true":
        raise Fault("Receiver", ("ter:Action", "ter:NoMatchingPrivateKey"), "no key pair matches")
    cert_id = store.new_id("Cert")
    store.certificates[cert_id] = cert
    # A certificate without its private key here still gets a key entry (its public key).
    store.certificate_keys[cert_id] = key_id or store.new_id("PublicKey")
    return soap(f"<tas:UploadCertificateResponse>{el('tas:CertificateID', cert_id)}"
                f"{el('tas:KeyID', store.certificate_keys[cert_id])}</tas:UploadCertificateResponse>")


async def upload_pkcs12(device: Device, op: Element) -> Response:
    try:
        data = b64decode(text_local(op, "CertWithPrivateKey"))
        passphrase = text_local(op, "Passphrase").encode() or None
        key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:BadPKCS12File"), "cannot read the PKCS#12") from None
    if PBE_3DES in data and "3DES" not in KEYSTORE_CAPABILITIES[device.settings.onvif_security][0]:
        # It lists PBKDF2 with AES only (the ONVIF Security Baseline): a 3DES PFX is not readable.
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:BadPKCS12File"), "unsupported PKCS#12 encryption")
    if key is None or cert is None:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:BadPKCS12File"),
                    "PKCS#12 lacks a key or certificate")
    store = device.firmware.keystore
    key_id = store.add_key(key)  # type: ignore[arg-type]
    ids = []
    for c in [cert, *extra]:
        cid = store.new_id("Cert")
        store.certificates[cid] = c
        store.certificate_keys[cid] = key_id if c is cert else store.new_id("PublicKey")
        ids.append(cid)
    path_id = store.new_id("CertPath")
    store.paths[path_id] = tuple(ids)
    store.path_aliases[path_id] = text_local(op, "CertificationPathAlias")
    return soap("<tas:UploadCertificateWithPrivateKeyInPKCS12Response>"
                f"{el('tas:CertificationPathID', path_id)}{el('tas:KeyID', key_id)}"
                "</tas:UploadCertificateWithPrivateKeyInPKCS12Response>")


async def create_certification_path(device: Device, op: Element) -> Response:
    store = device.firmware.keystore
    ids = tuple((e.text or "").strip() for e in all_local(op, "CertificateID"))
    if not ids or any(i not in store.certificates for i in ids):
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:CertificateID"), "unknown certificate id")
    certs = [store.certificates[i] for i in ids]
    for child, parent in itertools.pairwise(certs):
        if child.issuer != parent.subject:
            raise Fault("Sender", ("ter:InvalidArgVal", "ter:InvalidCertificateChain"),
                        "each certificate must be issued by the next")
    path_id = store.new_id("CertPath")
    store.paths[path_id] = ids
    store.path_aliases[path_id] = text_local(op, "Alias")
    return soap(f"<tas:CreateCertificationPathResponse>{el('tas:CertificationPathID', path_id)}"
                "</tas:CreateCertificationPathResponse>")


def _assign(device: Device, path_id: str) -> None:
    store = device.firmware.keystore
    if path_id not in store.paths:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:CertificationPathID"), "unknown path")
    chain = [store.certificates[i] for i in store.paths[path_id]]
    try:
        device.firmware.install_signed(chain)
    except CertificateRejected:
        raise Fault("Receiver", ("ter:Action", "ter:NoPrivateKey"), "the leaf has no private key") from None
    device.personality_state["onvif_path"] = path_id


async def add_server_certificate_assignment(device: Device, op: Element) -> Response:
    _assign(device, text_local(op, "CertificationPathID"))
    return soap("<tas:AddServerCertificateAssignmentResponse/>")


async def replace_server_certificate_assignment(device: Device, op: Element) -> Response:
    _assign(device, text_local(op, "NewCertificationPathID"))
    return soap("<tas:ReplaceServerCertificateAssignmentResponse/>")


async def get_assigned_server_certificates(device: Device, op: Element) -> Response:
    path = device.personality_state.get("onvif_path")
    inner = el("tas:CertificationPathID", path) if path else ""
    tag = "tas:GetAssignedServerCertificatesResponse"
    return soap(f"<{tag}>{inner}</{tag}>")


KEYSTORE_CAPABILITIES = {
    # The current WSDL: KeyPairGeneration lists the algorithms; PKCS#12 with PBKDF2 + AES.
    "current": (
        'MaximumNumberOfKeys="16" MaximumNumberOfCertificates="32" '
        'MaximumNumberOfCertificationPaths="8" KeyPairGeneration="RSA ECC" '
        'RSAKeyLengths="2048 3072 4096" EllipticCurves="secp256r1 secp384r1" PKCS10="true" '
        'X509Versions="3" PKCS12="true" PasswordBasedEncryptionAlgorithms="PBKDF2 AES-128-CBC AES-256-CBC"',
        (ECDSA_SHA256, RSA_SHA256)),
    # Advanced Security 1.0.2: RSA only, no PKCS#12 (the attributes that WSDL defines).
    "1.0.2": (
        'MaximumNumberOfKeys="8" MaximumNumberOfCertificates="16" MaximumNumberOfCertificationPaths="4" '
        'RSAKeyPairGeneration="true" RSAKeyLengths="2048 3072" '
        'PKCS10ExternalCertificationWithRSA="true" X509Versions="3"',
        (RSA_SHA256,)),
}
TLS_SERVER = '<tas:TLSServerCapabilities TLSServerSupported="1.2" MaximumNumberOfTLSCertificationPaths="1"/>'


async def get_service_capabilities(device: Device, op: Element) -> Response:
    attributes, signatures = KEYSTORE_CAPABILITIES[device.settings.onvif_security]
    algorithms = "".join(f"<tas:SignatureAlgorithms>{el('tas:algorithm', a)}</tas:SignatureAlgorithms>"
                         for a in signatures)
    return soap("<tas:GetServiceCapabilitiesResponse><tas:Capabilities>"
                f"<tas:KeystoreCapabilities {attributes}>{algorithms}</tas:KeystoreCapabilities>"
                f"{TLS_SERVER}"
                "</tas:Capabilities></tas:GetServiceCapabilitiesResponse>")


CURRENT_ONLY = {"CreateECCKeyPair", "UploadCertificateWithPrivateKeyInPKCS12"}


def current_only(device: Device, ns: str, name: str) -> bool:
    """An operation this device's Advanced Security version does not have (with "none", the
    device has no Advanced Security service at all, as many Hikvision and Dahua units)."""
    flavour = device.settings.onvif_security
    if ns == TAS:
        return flavour == "none" or (flavour == "1.0.2" and name in CURRENT_ONLY)
    return False


SECURITY_OPERATIONS: dict[tuple[str, str], Op] = {
    (TDS, "GetPkcs10Request"): get_pkcs10_request,
    (TDS, "LoadCertificates"): load_certificates,
    (TDS, "LoadCertificateWithPrivateKey"): load_certificate_with_private_key,
    (TDS, "GetCertificates"): get_certificates,
    (TAS, "GetServiceCapabilities"): get_service_capabilities,
    (TAS, "CreateRSAKeyPair"): create_rsa_key_pair,
    (TAS, "CreateECCKeyPair"): create_ecc_key_pair,
    (TAS, "GetKeyStatus"): get_key_status,
    (TAS, "CreatePKCS10CSR"): create_pkcs10_csr,
    (TAS, "UploadCertificate"): upload_certificate,
    (TAS, "UploadCertificateWithPrivateKeyInPKCS12"): upload_pkcs12,
    (TAS, "CreateCertificationPath"): create_certification_path,
    (TAS, "AddServerCertificateAssignment"): add_server_certificate_assignment,
    (TAS, "ReplaceServerCertificateAssignment"): replace_server_certificate_assignment,
    (TAS, "GetAssignedServerCertificates"): get_assigned_server_certificates,
}
