"""Reading and deleting in the lab's ONVIF Advanced Security keystore (advancedsecurity.wsdl,
operations both the current and the 1.0.2 versions have): GetCertificationPath,
GetAllCertificationPaths, GetCertificate, GetAllCertificates, DeleteCertificationPath,
DeleteCertificate, DeleteKey.

Deletes follow the WSDL's documentation: an unknown ID is InvalidArgVal; "if a reference exists
... the corresponding fault" (env:Sender/ter:InvalidArgVal/ter:ReferenceExists, the fault the
ONVIF device test tool expects): a path assigned to the TLS server, a certificate a path names,
a key a certificate names or the served certificate uses; DeleteCertificationPath "shall not
delete the certificates", DeleteCertificate "shall not delete the public key". A keystore that
cannot delete (Firmware.refuses_deletes) answers the *Deletion fault the WSDL names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from cryptography.hazmat.primitives import serialization

from camscan.lab.httpserver import Response
from camscan.lab.personalities.soapfault import TAS, Fault, Op, bad_arg, soap
from camscan.lab.personalities.xmlutil import b64, el, text_local

if TYPE_CHECKING:
    from camscan.lab.device import Device

def _refuses(device: Device, what: str) -> None:
    reason = device.firmware.refuses_deletes
    if reason:
        raise Fault("Receiver", ("ter:Action", f"ter:{what}Deletion"), reason)


def _reference(reason: str) -> Fault:
    return Fault("Sender", ("ter:InvalidArgVal", "ter:ReferenceExists"), reason)


def _path_xml(device: Device, path_id: str) -> str:
    store = device.firmware.keystore
    ids = "".join(el("tas:CertificateID", i) for i in store.paths[path_id])
    alias = store.path_aliases.get(path_id)
    return ids + (el("tas:Alias", alias) if alias else "")


def _cert_xml(device: Device, cert_id: str) -> str:
    store = device.firmware.keystore
    der = store.certificates[cert_id].public_bytes(serialization.Encoding.DER)
    key_id = store.certificate_keys.get(cert_id) or store.key_for(store.certificates[cert_id])
    return (f"{el('tas:CertificateID', cert_id)}{el('tas:KeyID', key_id or 'PublicKey-0')}"
            f"{el('tas:CertificateContent', b64(der))}")


async def get_certification_path(device: Device, op: Element) -> Response:
    path_id = text_local(op, "CertificationPathID")
    if path_id not in device.firmware.keystore.paths:
        raise bad_arg("CertificationPathID", "no such certification path")
    return soap(f"<tas:GetCertificationPathResponse><tas:CertificationPath>{_path_xml(device, path_id)}"
                "</tas:CertificationPath></tas:GetCertificationPathResponse>")


async def get_all_certification_paths(device: Device, op: Element) -> Response:
    ids = "".join(el("tas:CertificationPathID", p) for p in device.firmware.keystore.paths)
    return soap(f"<tas:GetAllCertificationPathsResponse>{ids}</tas:GetAllCertificationPathsResponse>")


async def get_certificate(device: Device, op: Element) -> Response:
    cert_id = text_local(op, "CertificateID")
    if cert_id not in device.firmware.keystore.certificates:
        raise bad_arg("CertificateID", "no such certificate")
    return soap(f"<tas:GetCertificateResponse><tas:Certificate>{_cert_xml(device, cert_id)}"
                "</tas:Certificate></tas:GetCertificateResponse>")


async def get_all_certificates(device: Device, op: Element) -> Response:
    items = "".join(f"<tas:Certificate>{_cert_xml(device, c)}</tas:Certificate>"
                    for c in device.firmware.keystore.certificates)
    return soap(f"<tas:GetAllCertificatesResponse>{items}</tas:GetAllCertificatesResponse>")


async def delete_certification_path(device: Device, op: Element) -> Response:
    store, path_id = device.firmware.keystore, text_local(op, "CertificationPathID")
    if path_id not in store.paths:
        raise bad_arg("CertificationPathID", "no such certification path")
    if device.personality_state.get("onvif_path") == path_id:
        raise _reference("the certification path is assigned to the TLS server")
    _refuses(device, "CertificationPath")
    del store.paths[path_id]
    store.path_aliases.pop(path_id, None)
    return soap("<tas:DeleteCertificationPathResponse/>")


async def delete_certificate(device: Device, op: Element) -> Response:
    store, cert_id = device.firmware.keystore, text_local(op, "CertificateID")
    if cert_id not in store.certificates:
        raise bad_arg("CertificateID", "no such certificate")
    if any(cert_id in ids for ids in store.paths.values()):
        raise _reference("a certification path names the certificate")
    _refuses(device, "Certificate")
    del store.certificates[cert_id]  # the WSDL: its public key stays
    store.certificate_keys.pop(cert_id, None)
    return soap("<tas:DeleteCertificateResponse/>")


async def delete_key(device: Device, op: Element) -> Response:
    store, key_id = device.firmware.keystore, text_local(op, "KeyID")
    if key_id not in store.keys:
        raise bad_arg("KeyID", "no such key")
    named = {store.certificate_keys.get(c) or store.key_for(cert) for c, cert in store.certificates.items()}
    served = device.firmware.installed
    if key_id in named or (served is not None and served.key is store.keys[key_id]):
        raise _reference("a certificate names the key")
    _refuses(device, "Key")
    del store.keys[key_id]
    return soap("<tas:DeleteKeyResponse/>")


KEYSTORE_OPERATIONS: dict[tuple[str, str], Op] = {
    (TAS, "GetCertificationPath"): get_certification_path,
    (TAS, "GetAllCertificationPaths"): get_all_certification_paths,
    (TAS, "GetCertificate"): get_certificate,
    (TAS, "GetAllCertificates"): get_all_certificates,
    (TAS, "DeleteCertificationPath"): delete_certification_path,
    (TAS, "DeleteCertificate"): delete_certificate,
    (TAS, "DeleteKey"): delete_key,
}
