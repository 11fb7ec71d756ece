"""ONVIF device management and Advanced Security (SOAP 1.2), device-protocols.md sections 1 and 3.

Authentication: HTTP Digest or WS-Security UsernameToken; GetSystemDateAndTime is PRE_AUTH.
A UsernameToken whose Created is more than five minutes from the *device* clock is refused
with a SOAP fault, as real devices do (clients first read the device time to correct for it).
Certificate installation: legacy tds (GetPkcs10Request, LoadCertificates,
LoadCertificateWithPrivateKey) and tas Flow A/B (key pair -> CSR -> UploadCertificate ->
CreateCertificationPath -> Add/ReplaceServerCertificateAssignment; PKCS#12 upload).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from camscan import pki
from camscan.lab.auth import check_username_token
from camscan.lab.certs import load_private_key
from camscan.lab.firmware import CertificateRejected
from camscan.lab.httpserver import Request, Response
from camscan.lab.personalities.xmlutil import (
    ParseError,
    all_local,
    b64,
    b64decode,
    el,
    find_local,
    local,
    namespace,
    parse,
    text_local,
)

if TYPE_CHECKING:
    from camscan.lab.device import Device

SOAP = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TAS = "http://www.onvif.org/ver10/advancedsecurity/wsdl"
PATHS = ("/onvif/device_service", "/onvif/security")
CONTENT_TYPE = "application/soap+xml; charset=utf-8"

_NS = (f'xmlns:s="{SOAP}" xmlns:tds="{TDS}" xmlns:tt="http://www.onvif.org/ver10/schema" '
       f'xmlns:tas="{TAS}" xmlns:ter="http://www.onvif.org/ver10/error"')


class Fault(Exception):
    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str, status: int = 500) -> None:
        super().__init__(reason)
        self.code, self.subcodes, self.reason, self.status = code, subcodes, reason, status


def envelope(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope {_NS}><s:Body>{body}</s:Body></s:Envelope>'


def soap(body: str, status: int = 200, **kw: object) -> Response:
    return Response.xml(envelope(body), status, content_type=CONTENT_TYPE, **kw)


def fault_response(fault: Fault) -> Response:
    sub = ""
    for code in reversed(fault.subcodes):
        sub = f"<s:Subcode><s:Value>{code}</s:Value>{sub}</s:Subcode>"
    body = (f"<s:Fault><s:Code><s:Value>s:{fault.code}</s:Value>{sub}</s:Code>"
            f'<s:Reason><s:Text xml:lang="en">{escape(fault.reason)}</s:Text></s:Reason></s:Fault>')
    return soap(body, fault.status)


def _bad_arg(name: str, reason: str) -> Fault:
    return Fault("Sender", ("ter:InvalidArgVal", f"ter:{name}"), reason)


def _datetime_xml(tag: str, moment: dt.datetime) -> str:
    return (f"<tt:{tag}><tt:Time><tt:Hour>{moment.hour}</tt:Hour><tt:Minute>{moment.minute}</tt:Minute>"
            f"<tt:Second>{moment.second}</tt:Second></tt:Time><tt:Date><tt:Year>{moment.year}</tt:Year>"
            f"<tt:Month>{moment.month}</tt:Month><tt:Day>{moment.day}</tt:Day></tt:Date></tt:{tag}>")


Op = Callable[["Device", Element], Awaitable[Response]]


async def get_system_date_and_time(device: Device, op: Element) -> Response:
    now = device.clock.now()
    return soap("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
                "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
                f"{_datetime_xml('UTCDateTime', now)}{_datetime_xml('LocalDateTime', now)}"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")


async def set_system_date_and_time(device: Device, op: Element) -> Response:
    kind = text_local(op, "DateTimeType")
    if kind not in ("Manual", "NTP"):
        raise _bad_arg("InvalidDateTime", f"DateTimeType must be Manual or NTP, not {kind!r}")
    tz = text_local(op, "TimeZone", "TZ", default="UTC0")
    if tz not in ("UTC0", "UTC", "GMT0"):
        raise _bad_arg("InvalidTimeZone", "the lab's devices keep UTC")
    if kind == "Manual":
        utc = find_local(op, "UTCDateTime")
        if utc is None:
            raise _bad_arg("InvalidDateTime", "UTCDateTime is required for Manual")
        try:
            moment = dt.datetime(
                int(text_local(utc, "Date", "Year")), int(text_local(utc, "Date", "Month")),
                int(text_local(utc, "Date", "Day")), int(text_local(utc, "Time", "Hour")),
                int(text_local(utc, "Time", "Minute")), int(text_local(utc, "Time", "Second")),
                tzinfo=dt.UTC)
        except ValueError as exc:
            raise _bad_arg("InvalidDateTime", f"bad date/time: {exc}") from None
        device.set_clock(moment)
    else:
        device.clock.offset = 0.0  # NTP: the lab's NTP server is the host clock
    return soap("<tds:SetSystemDateAndTimeResponse/>")


async def get_device_information(device: Device, op: Element) -> Response:
    ident = device.identity
    return soap("<tds:GetDeviceInformationResponse>"
                f"{el('tds:Manufacturer', ident.vendor.manufacturer)}{el('tds:Model', ident.model)}"
                f"{el('tds:FirmwareVersion', ident.firmware)}{el('tds:SerialNumber', ident.serial)}"
                f"{el('tds:HardwareId', ident.mac_bare[-6:])}</tds:GetDeviceInformationResponse>")


async def get_network_interfaces(device: Device, op: Element) -> Response:
    return soap("<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token=\"eth0\">"
                "<tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name>"
                f"{el('tt:HwAddress', device.identity.mac)}<tt:MTU>1500</tt:MTU></tt:Info>"
                "<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual>"
                f"{el('tt:Address', device.ip)}<tt:PrefixLength>16</tt:PrefixLength></tt:Manual>"
                "<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>"
                "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>")


async def get_services(device: Device, op: Element) -> Response:
    base = f"https://{device.ip}:{device.https_port}"
    services = [(TDS, "/onvif/device_service", 2, 6), (TAS, "/onvif/security", 1, 3)]
    body = "".join(
        f"<tds:Service>{el('tds:Namespace', ns)}{el('tds:XAddr', base + path)}"
        f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version></tds:Service>"
        for ns, path, major, minor in services)
    return soap(f"<tds:GetServicesResponse>{body}</tds:GetServicesResponse>")


async def system_reboot(device: Device, op: Element) -> Response:
    downtime = device.settings.reboot_downtime
    return soap("<tds:SystemRebootResponse>"
                f"{el('tds:Message', f'Rebooting in {downtime:g} seconds')}</tds:SystemRebootResponse>",
                after=device.schedule_reboot)


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
        raise _bad_arg("CertificateWithPrivateKey", "missing CertificateWithPrivateKey")
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
        raise _bad_arg("KeyLength", f"unsupported RSA key length {bits!r}")
    # Generate off the event loop: RSA takes long enough to stall every other device.
    key = await trio.to_thread.run_sync(pki.new_key, f"rsa-{bits}")
    key_id = device.firmware.keystore.add_key(key)
    return soap(f"<tas:CreateRSAKeyPairResponse>{el('tas:KeyID', key_id)}"
                "<tas:EstimatedCreationTime>PT0S</tas:EstimatedCreationTime></tas:CreateRSAKeyPairResponse>")


async def create_ecc_key_pair(device: Device, op: Element) -> Response:
    curve = {"secp256r1": "ec-p256", "prime256v1": "ec-p256", "secp384r1": "ec-p384"}.get(
        text_local(op, "EllipticCurve"))
    if curve is None:
        raise _bad_arg("EllipticCurve", "unsupported curve")
    key_id = device.firmware.keystore.add_key(pki.new_key(curve))
    return soap(f"<tas:CreateECCKeyPairResponse>{el('tas:KeyID', key_id)}"
                "<tas:EstimatedCreationTime>PT0S</tas:EstimatedCreationTime></tas:CreateECCKeyPairResponse>")


async def get_key_status(device: Device, op: Element) -> Response:
    if text_local(op, "KeyID") not in device.firmware.keystore.keys:
        raise _bad_arg("KeyID", "no such key")
    return soap("<tas:GetKeyStatusResponse><tas:KeyStatus>ok</tas:KeyStatus></tas:GetKeyStatusResponse>")


async def create_pkcs10_csr(device: Device, op: Element) -> Response:
    key_id = text_local(op, "KeyID")
    if key_id not in device.firmware.keystore.keys:
        raise _bad_arg("KeyID", "no such key")
    cn = text_local(op, "Subject", "CommonName") or device.ip
    der = device.firmware.csr(key_id, cn).public_bytes(serialization.Encoding.DER)
    return soap(f"<tas:CreatePKCS10CSRResponse>{el('tas:PKCS10CSR', b64(der))}</tas:CreatePKCS10CSRResponse>")


async def upload_certificate(device: Device, op: Element) -> Response:
    cert = _load_cert(_cert_el(op))
    store = device.firmware.keystore
    key_id = store.key_for(cert)
    if key_id is None and text_local(op, "PrivateKeyRequired").lower() == "true":
        raise Fault("Receiver", ("ter:Action", "ter:NoMatchingPrivateKey"), "no key pair matches")
    cert_id = store.new_id("Cert")
    store.certificates[cert_id] = cert
    return soap(f"<tas:UploadCertificateResponse>{el('tas:CertificateID', cert_id)}"
                f"{el('tas:KeyID', key_id or '')}</tas:UploadCertificateResponse>")


async def upload_pkcs12(device: Device, op: Element) -> Response:
    try:
        data = b64decode(text_local(op, "CertWithPrivateKey"))
        passphrase = text_local(op, "Passphrase").encode() or None
        key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:BadPKCS12File"), "cannot read the PKCS#12") from None
    if key is None or cert is None:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:BadPKCS12File"),
                    "PKCS#12 lacks a key or certificate")
    store = device.firmware.keystore
    key_id = store.add_key(key)  # type: ignore[arg-type]
    ids = []
    for c in [cert, *extra]:
        cid = store.new_id("Cert")
        store.certificates[cid] = c
        ids.append(cid)
    path_id = store.new_id("CertPath")
    store.paths[path_id] = tuple(ids)
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


PRE_AUTH = {"GetSystemDateAndTime"}
OPERATIONS: dict[tuple[str, str], Op] = {
    (TDS, "GetSystemDateAndTime"): get_system_date_and_time,
    (TDS, "SetSystemDateAndTime"): set_system_date_and_time,
    (TDS, "GetDeviceInformation"): get_device_information,
    (TDS, "GetNetworkInterfaces"): get_network_interfaces,
    (TDS, "GetServices"): get_services,
    (TDS, "SystemReboot"): system_reboot,
    (TDS, "GetPkcs10Request"): get_pkcs10_request,
    (TDS, "LoadCertificates"): load_certificates,
    (TDS, "LoadCertificateWithPrivateKey"): load_certificate_with_private_key,
    (TDS, "GetCertificates"): get_certificates,
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


def _authenticate(device: Device, request: Request, header: Element | None) -> Response | None:
    digest = device.auth.check(request.method, request.target, request.headers.get("authorization"))
    if digest == "ok":
        return None
    wsse = check_username_token(header, username=device.settings.username,
                                 password=device.settings.password, device_now=device.clock.now())
    if wsse == "ok":
        return None
    if wsse == "missing":
        return Response.text("Unauthorized\n", 401, headers=[
            ("WWW-Authenticate", device.auth.challenge(stale=digest == "stale"))])
    reason = ("the UsernameToken's Created is too far from the device clock" if wsse == "stale"
              else "Sender not Authorized")
    return fault_response(Fault("Sender", ("ter:NotAuthorized",), reason, status=400))


async def handle(device: Device, request: Request) -> Response:
    if request.method != "POST":
        return Response.text("Method Not Allowed\n", 405)
    try:
        root = parse(request.body)
    except (ParseError, ValueError):
        return fault_response(Fault("Sender", ("ter:WellFormed",), "malformed XML", 400))
    if root.tag != f"{{{SOAP}}}Envelope":
        return fault_response(Fault("Sender", ("ter:WellFormed",), "not a SOAP 1.2 envelope", 400))
    header = root.find(f"{{{SOAP}}}Header")
    body = root.find(f"{{{SOAP}}}Body")
    if body is None or len(body) == 0:
        return fault_response(Fault("Sender", ("ter:WellFormed",), "empty body", 400))
    op = body[0]
    handler = OPERATIONS.get((namespace(op.tag), local(op.tag)))
    if local(op.tag) not in PRE_AUTH:
        denied = _authenticate(device, request, header)
        if denied is not None:
            return denied
    if handler is None:
        return fault_response(Fault("Receiver", ("ter:ActionNotSupported",),
                                    f"{local(op.tag)} is not supported"))
    try:
        return await handler(device, op)
    except Fault as fault:
        return fault_response(fault)
    except ValueError as exc:
        return fault_response(Fault("Sender", ("ter:InvalidArgVal",), str(exc)))
