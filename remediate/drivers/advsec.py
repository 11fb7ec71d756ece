"""ONVIF Advanced Security keystore and TLS server (advancedsecurity.wsdl), chosen by capabilities.

Every call below is an operation of the official WSDL, checked against it in the tests:
https://github.com/onvif/specs/blob/development/wsdl/ver10/advancedsecurity/wsdl/advancedsecurity.wsdl
(current) and Advanced Security 1.0.2, which still ships on many cameras and has neither
CreateECCKeyPair nor UploadCertificateWithPrivateKeyInPKCS12. So the driver first reads
`GetServiceCapabilities` (KeystoreCapabilities) and uses only what the device says it has:

- key on the device: CreateECCKeyPair (secp256r1, when KeyPairGeneration lists ECC, or the
  deprecated ECCKeyPairGeneration is set, and EllipticCurves allows it), else CreateRSAKeyPair
  (2048 bits or the smallest listed length above it) -> GetKeyStatus until ok ->
  CreatePKCS10CSR with the device's IP and DNS names as a subjectAltName X509v3Extension
  CSRAttribute (OID 2.5.29.17, DER value) -> UploadCertificate -> CreateCertificationPath;
- key made here: UploadCertificateWithPrivateKeyInPKCS12, only where PKCS12 (or, for an RSA
  key, PKCS12CertificateWithRSAPrivateKeyUpload) is true. The PFX is encrypted with
  PBES2/PBKDF2/AES-256-CBC when the device lists AES-256 in PasswordBasedEncryptionAlgorithms,
  else with pbeWithSHAAnd3-KeyTripleDES-CBC and a SHA-1 MAC (RFC 7292 appendix C), which every
  PKCS#12 reader accepts; the one-time passphrase travels inside TLS.
Then Replace (or Add) ServerCertificateAssignment; rollback replaces it back.

After a verified renewal, `remove_superseded` deletes what the replaced assignment pointed at,
with operations both WSDL versions have: DeleteCertificationPath ("shall not delete the
certificates that are referenced by the certification path"), then DeleteCertificate for each
of its certificates no remaining path names ("shall not delete the public key"), then DeleteKey
for the leaf's key when no remaining certificate names it (the WSDL: "if a reference exists for
the specified key, a device shall produce the corresponding fault"). Only a path camscan made
(alias camscan-https) whose leaf is the certificate the device served before, and which is no
longer assigned to the TLS server, is touched.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from xml.etree.ElementTree import Element

import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from camscan.pki import PrivateKey
from camscan.remediate.drivers.base import DriverError, Kept
from camscan.remediate.drivers.soap import el, find, local, text

ECDSA_SHA256 = "1.2.840.10045.4.3.2"
RSA_SHA256 = "1.2.840.113549.1.1.11"
SAN_OID = "2.5.29.17"
KEY_WAIT_POLLS = 60  # GetKeyStatus polls, one a second: key generation on a camera takes seconds
ALIAS = "camscan-https"

Call = Callable[[str], Awaitable[Element]]


def _flag(attrs: dict[str, str], name: str) -> bool:
    return attrs.get(name, "").strip().lower() in ("true", "1")


@dataclass(frozen=True)
class KeystoreCapabilities:
    ecc: bool = False
    rsa: bool = False
    curves: tuple[str, ...] = ()
    rsa_lengths: tuple[int, ...] = ()
    pkcs12: bool = False
    pkcs12_rsa: bool = False
    pbe: tuple[str, ...] = ()
    signature_algorithms: tuple[str, ...] = ()

    @classmethod
    def parse(cls, answer: Element) -> KeystoreCapabilities:
        store = find(answer, "Capabilities", "KeystoreCapabilities")
        if store is None:
            return cls()
        a = dict(store.attrib)
        kinds = a.get("KeyPairGeneration", "").split()
        lengths = tuple(int(n) for n in a.get("RSAKeyLengths", "").split() if n.isdigit())
        return cls(
            ecc="ECC" in kinds or _flag(a, "ECCKeyPairGeneration"),
            rsa="RSA" in kinds or _flag(a, "RSAKeyPairGeneration"),
            curves=tuple(a.get("EllipticCurves", "").split()),
            rsa_lengths=lengths,
            pkcs12=_flag(a, "PKCS12"),
            pkcs12_rsa=_flag(a, "PKCS12CertificateWithRSAPrivateKeyUpload"),
            pbe=tuple(a.get("PasswordBasedEncryptionAlgorithms", "").split()),
            signature_algorithms=tuple(
                text(s, "algorithm") for s in store if local(s.tag) == "SignatureAlgorithms"
            ),
        )

    def key_request(self) -> tuple[str, str]:
        """The key-pair request body and the CSR signature algorithm, as the device allows."""
        if self.ecc and (not self.curves or "secp256r1" in self.curves):
            body = "<tas:CreateECCKeyPair><tas:EllipticCurve>secp256r1</tas:EllipticCurve>"
            body += f"{el('tas:Alias', ALIAS)}</tas:CreateECCKeyPair>"
            return body, ECDSA_SHA256
        if self.rsa:
            usable = sorted(n for n in self.rsa_lengths if n >= 2048)
            bits = 2048 if not self.rsa_lengths or 2048 in self.rsa_lengths else (usable or [0])[0]
            if bits:
                body = f"<tas:CreateRSAKeyPair>{el('tas:KeyLength', bits)}{el('tas:Alias', ALIAS)}"
                return body + "</tas:CreateRSAKeyPair>", RSA_SHA256
        raise DriverError("unsupported", "the device's keystore generates no usable key pair")

    def signs_with(self, oid: str) -> bool:
        return not self.signature_algorithms or oid in self.signature_algorithms

    def takes_pkcs12(self, key: PrivateKey) -> bool:
        return self.pkcs12 or (self.pkcs12_rsa and isinstance(key, rsa.RSAPrivateKey))

    def pkcs12_encryption(self, passphrase: bytes) -> serialization.KeySerializationEncryption:
        if any("AES-256" in name.upper() or "AES256" in name.upper() for name in self.pbe):
            algorithm = pkcs12.PBES.PBESv2SHA256AndAES256CBC
            mac: hashes.HashAlgorithm = hashes.SHA256()
        else:
            algorithm = pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC
            mac = hashes.SHA1()  # noqa: S303 - the MAC RFC 7292 readers all know
        return (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(50000)
            .key_cert_algorithm(algorithm)
            .hmac_hash(mac)
            .build(passphrase)
        )


def san_attribute(ips: Sequence[str], dns: Sequence[str]) -> str:
    """A CSRAttribute carrying subjectAltName (RFC 5280 4.2.1.6) as an X509v3Extension."""
    names: list[x509.GeneralName] = [x509.IPAddress(ip_address(i)) for i in ips]
    names += [x509.DNSName(d) for d in dns]
    if not names:
        return ""
    value = base64.b64encode(x509.SubjectAlternativeName(names).public_bytes()).decode()
    return (
        f"<tas:CSRAttribute><tas:X509v3Extension>{el('tas:extnOID', SAN_OID)}"
        f"<tas:critical>false</tas:critical>{el('tas:extnValue', value)}</tas:X509v3Extension>"
        "</tas:CSRAttribute>"
    )


class Keystore:
    """One device's Advanced Security service: `call(body)` posts to its XAddr."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self._caps: KeystoreCapabilities | None = None
        self.previous_path: str | None = None
        self.installed_path: str | None = None

    async def capabilities(self) -> KeystoreCapabilities:
        if self._caps is None:
            self._caps = KeystoreCapabilities.parse(await self.call("<tas:GetServiceCapabilities/>"))
        return self._caps

    async def create_csr(
        self, common_name: str, ips: Sequence[str], dns: Sequence[str]
    ) -> x509.CertificateSigningRequest:
        caps = await self.capabilities()
        request, signature = caps.key_request()
        if not caps.signs_with(signature):
            raise DriverError("unsupported", f"the keystore does not sign CSRs with {signature}")
        key_id = text(await self.call(request), "KeyID")
        for _ in range(KEY_WAIT_POLLS):
            status = text(await self.call(f"<tas:GetKeyStatus>{el('tas:KeyID', key_id)}</tas:GetKeyStatus>"),
                          "KeyStatus")
            if status == "ok":
                break
            if status == "corrupt":
                raise DriverError("rejected", "the device reports the new key pair as corrupt")
            await trio.sleep(1)
        else:
            raise DriverError("unreachable", f"the key pair was not ready after {KEY_WAIT_POLLS} s")
        answer = await self.call(
            f"<tas:CreatePKCS10CSR><tas:Subject>{el('tas:CommonName', common_name)}</tas:Subject>"
            f"{el('tas:KeyID', key_id)}{san_attribute(ips, dns)}"
            f"<tas:SignatureAlgorithm>{el('tas:algorithm', signature)}</tas:SignatureAlgorithm>"
            "</tas:CreatePKCS10CSR>"
        )
        try:
            return x509.load_der_x509_csr(base64.b64decode(text(answer, "PKCS10CSR")))
        except ValueError:
            raise DriverError("protocol", "the device's CSR cannot be read") from None

    async def install_signed(self, chain: Sequence[x509.Certificate]) -> None:
        ids = []
        for index, cert in enumerate(chain):
            der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
            required = "true" if index == 0 else "false"
            answer = await self.call(
                f"<tas:UploadCertificate>{el('tas:Certificate', der)}{el('tas:Alias', ALIAS)}"
                f"{el('tas:PrivateKeyRequired', required)}</tas:UploadCertificate>"
            )
            ids.append(text(answer, "CertificateID"))
        ids_xml = "".join(el("tas:CertificateID", i) for i in ids)
        made = await self.call(
            f"<tas:CreateCertificationPath><tas:CertificateIDs>{ids_xml}</tas:CertificateIDs>"
            f"{el('tas:Alias', ALIAS)}</tas:CreateCertificationPath>"
        )
        await self._assign(text(made, "CertificationPathID"))

    async def upload(self, chain: Sequence[x509.Certificate], key: PrivateKey) -> None:
        caps = await self.capabilities()
        if not caps.takes_pkcs12(key):
            raise DriverError("unsupported", "the device's keystore takes no PKCS#12 upload")
        passphrase = secrets.token_urlsafe(18)
        encryption = caps.pkcs12_encryption(passphrase.encode())
        bundle = pkcs12.serialize_key_and_certificates(
            ALIAS.encode(), key, chain[0], list(chain[1:]) or None, encryption
        )
        made = await self.call(
            "<tas:UploadCertificateWithPrivateKeyInPKCS12>"
            f"{el('tas:CertWithPrivateKey', base64.b64encode(bundle).decode())}"
            f"{el('tas:CertificationPathAlias', ALIAS)}"
            f"{el('tas:Passphrase', passphrase)}</tas:UploadCertificateWithPrivateKeyInPKCS12>"
        )
        await self._assign(text(made, "CertificationPathID"))

    async def _assign(self, new_path: str) -> None:
        assigned = await self.call("<tas:GetAssignedServerCertificates/>")
        self.previous_path = text(assigned, "CertificationPathID") or None
        if self.previous_path:
            await self._replace(self.previous_path, new_path)
        else:
            await self.call(
                "<tas:AddServerCertificateAssignment>"
                f"{el('tas:CertificationPathID', new_path)}</tas:AddServerCertificateAssignment>"
            )
        self.installed_path = new_path

    async def _replace(self, old: str, new: str) -> None:
        await self.call(
            "<tas:ReplaceServerCertificateAssignment>"
            f"{el('tas:OldCertificationPathID', old)}{el('tas:NewCertificationPathID', new)}"
            "</tas:ReplaceServerCertificateAssignment>"
        )

    async def _path(self, path_id: str) -> tuple[list[str], str]:
        """GetCertificationPath: the certificate IDs (leaf first) and the alias."""
        answer = await self.call(
            f"<tas:GetCertificationPath>{el('tas:CertificationPathID', path_id)}</tas:GetCertificationPath>"
        )
        path = find(answer, "CertificationPath")
        if path is None:
            raise DriverError("protocol", "GetCertificationPath: no CertificationPath")
        ids = [(c.text or "").strip() for c in path if local(c.tag) == "CertificateID"]
        return ids, text(path, "Alias")

    async def remove_superseded(self, old_leaf: bytes) -> str:
        old, new = self.previous_path, self.installed_path
        if not (old and new):
            raise Kept("no earlier certification path was assigned before this install")
        if old == new:
            raise Kept("the same certification path serves the new certificate")
        assigned = await self.call("<tas:GetAssignedServerCertificates/>")
        serving = {(p.text or "").strip() for p in assigned if local(p.tag) == "CertificationPathID"}
        if old in serving or new not in serving:
            raise Kept(f"certification path {old} is still assigned to the TLS server")
        ids, alias = await self._path(old)
        if alias != ALIAS or not ids:
            raise Kept(f"certification path {old} was not made by camscan (alias {alias[:40]!r})")
        leaf = await self.call(f"<tas:GetCertificate>{el('tas:CertificateID', ids[0])}</tas:GetCertificate>")
        try:
            content = base64.b64decode(text(leaf, "Certificate", "CertificateContent"), validate=True)
        except ValueError:
            content = b""
        if content != old_leaf:
            raise Kept(f"the leaf of certification path {old} is not the superseded certificate")
        key_id = text(leaf, "Certificate", "KeyID")
        await self.call(
            f"<tas:DeleteCertificationPath>{el('tas:CertificationPathID', old)}</tas:DeleteCertificationPath>"
        )
        removed = [f"certification path {old}"]
        listed = await self.call("<tas:GetAllCertificationPaths/>")
        still: set[str] = set()
        for path_id in (p.text or "" for p in listed if local(p.tag) == "CertificationPathID"):
            still.update((await self._path(path_id.strip()))[0])
        for cert_id in ids:
            if cert_id not in still:
                await self.call(
                    f"<tas:DeleteCertificate>{el('tas:CertificateID', cert_id)}</tas:DeleteCertificate>"
                )
                removed.append(f"certificate {cert_id}")
        certificates = await self.call("<tas:GetAllCertificates/>")
        keys = {text(c, "KeyID") for c in certificates if local(c.tag) == "Certificate"}
        if key_id and ids[0] not in still and key_id not in keys:
            await self.call(f"<tas:DeleteKey>{el('tas:KeyID', key_id)}</tas:DeleteKey>")
            removed.append(f"key {key_id}")
        return ", ".join(removed)

    async def rollback(self) -> bool:
        if not (self.previous_path and self.installed_path):
            return False
        await self._replace(self.installed_path, self.previous_path)
        return True
