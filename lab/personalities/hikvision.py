"""Hikvision-like ISAPI (device-protocols.md section 4): XML over HTTP(S) with Digest.

Quirks kept on purpose: the XML namespace is the firmware's (older `hikvision.com`, newer
`isapi.org`, per device), and a request the device understands but rejects (bad time, a key
that does not match) answers HTTP 200 with a ResponseStatus whose statusCode is not 1.

Certificate upload has no reliable public description (section 4, [?]); the lab defines:
`PUT /ISAPI/Security/serverCertificate/certSignReq` with a `CertificateReq` XML body makes a new
on-device key and CSR (`GET .../downloadCertSignReq` returns it as PEM), and
`PUT /ISAPI/Security/serverCertificate/certificate` takes a PEM body: certificate chain alone
(installs against the on-device key) or chain + private key (upload).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan.lab.certs import load_private_key
from camscan.lab.firmware import CertificateRejected
from camscan.lab.httpserver import Request, Response
from camscan.lab.identity import Identity
from camscan.lab.personalities.base import Personality
from camscan.lab.personalities.xmlutil import ParseError, el, parse, pem_private_key_block, text_local

if TYPE_CHECKING:
    from camscan.lab.device import Device

STATUS_TEXT = {1: "OK", 2: "Device Busy", 3: "Device Error", 4: "Invalid Operation",
               5: "Invalid XML Format", 6: "Invalid XML Content", 7: "Reboot Required"}
_TZ = re.compile(r"^[A-Za-z]{3,}([+-])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?$")


def status(device: Device, path: str, code: int = 1, sub: str = "ok", http: int = 200,
           after: object = None) -> Response:
    ns = device.settings.isapi_namespace
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ResponseStatus version="2.0" xmlns="{ns}">'
            f"{el('requestURL', path)}<statusCode>{code}</statusCode>"
            f"{el('statusString', STATUS_TEXT[code])}{el('subStatusCode', sub)}</ResponseStatus>")
    return Response.xml(body, http, after=after)


def document(device: Device, root: str, inner: str) -> Response:
    ns = device.settings.isapi_namespace
    return Response.xml(f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} version="2.0" xmlns="{ns}">'
                        f"{inner}</{root}>")


def parse_posix_tz(text: str) -> dt.timedelta:
    """Hikvision's POSIX-style zone is inverted: `CST-8:00:00` is UTC+8."""
    match = _TZ.match(text.strip())
    if not match:
        raise ValueError(f"bad timeZone {text!r}")
    sign = -1 if match.group(1) == "+" else 1
    return sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))


class Hikvision(Personality):
    name = "hikvision"

    def realm(self, identity: Identity) -> str:
        return f"IP Camera({identity.serial[-8:]})"

    async def vendor_api(self, device: Device, request: Request) -> Response | None:
        path = request.path
        if not path.startswith("/ISAPI/"):
            return None
        denied = device.require_digest(request)
        if denied is not None:
            return denied
        route = ROUTES.get((request.method, path))
        if route is None:
            known = any(p == path for _, p in ROUTES)
            return status(device, path, 4, "methodNotAllowed" if known else "notSupport", 403)
        return route(device, request)


def device_info(device: Device, request: Request) -> Response:
    i = device.identity
    return document(device, "DeviceInfo",
                    el("deviceName", "IP CAMERA") + el("deviceID", device.name) + el("model", i.model)
                    + el("serialNumber", i.serial) + el("macAddress", i.mac)
                    + el("firmwareVersion", i.firmware.split(" build")[0])
                    + el("firmwareReleasedDate", "build 220112") + el("deviceType", "IPCamera"))


def get_time(device: Device, request: Request) -> Response:
    now = device.clock.now().replace(microsecond=0)
    return document(device, "Time", el("timeMode", "manual") + el("localTime", now.isoformat())
                    + el("timeZone", "CST+0:00:00"))


def put_time(device: Device, request: Request) -> Response:
    try:
        root = parse(request.body)
    except (ParseError, ValueError):
        return status(device, request.path, 5, "badXmlFormat", 400)
    try:
        zone = parse_posix_tz(text_local(root, "timeZone", default="CST+0:00:00"))
        local_time = dt.datetime.fromisoformat(text_local(root, "localTime"))
        if local_time.tzinfo is None:
            local_time = local_time.replace(tzinfo=dt.timezone(zone))
    except ValueError:
        return status(device, request.path, 6, "badParameters")  # HTTP 200: the ISAPI quirk
    if text_local(root, "timeMode", default="manual") == "NTP":
        device.clock.offset = 0.0
    else:
        device.set_clock(local_time.astimezone(dt.UTC))
    return status(device, request.path)


def interfaces(device: Device, request: Request) -> Response:
    return document(device, "NetworkInterfaceList",
                    "<NetworkInterface><id>1</id><IPAddress><ipVersion>v4</ipVersion>"
                    f"<addressingType>static</addressingType>{el('ipAddress', device.ip)}"
                    "<subnetMask>255.255.0.0</subnetMask></IPAddress>"
                    f"<Link>{el('MACAddress', device.identity.mac)}<autoNegotiation>true</autoNegotiation>"
                    "<speed>100</speed><duplex>full</duplex><MTU>1500</MTU></Link></NetworkInterface>")


def system_status(device: Device, request: Request) -> Response:
    now = device.clock.now().replace(microsecond=0)
    return document(device, "DeviceStatus", el("currentDeviceTime", now.isoformat())
                    + el("deviceUpTime", int(device.uptime)))


def reboot(device: Device, request: Request) -> Response:
    return status(device, request.path, after=device.schedule_reboot)


def cert_sign_request(device: Device, request: Request) -> Response:
    try:
        root = parse(request.body) if request.body.strip() else None
    except (ParseError, ValueError):
        return status(device, request.path, 5, "badXmlFormat", 400)
    cn = text_local(root, "commonName") if root is not None else ""
    key_id = device.firmware.create_csr_key()
    csr = device.firmware.csr(key_id, cn or device.ip)
    device.personality_state["hik_csr"] = csr.public_bytes(serialization.Encoding.PEM)
    return status(device, request.path)


def download_csr(device: Device, request: Request) -> Response:
    pem = device.personality_state.get("hik_csr")
    if not isinstance(pem, bytes):
        return status(device, request.path, 4, "noCertSignReq", 404)
    return Response(200, pem, "application/x-pem-file")


def get_certificate(device: Device, request: Request) -> Response:
    leaf = device.served().leaf
    return document(device, "CertificateInfo",
                    el("issuerDN", leaf.issuer.rfc4514_string())
                    + el("subjectDN", leaf.subject.rfc4514_string())
                    + el("startDate", leaf.not_valid_before_utc.date().isoformat())
                    + el("endDate", leaf.not_valid_after_utc.date().isoformat()) + el("type", "HTTPS")
                    + el("status", "normal"))


def put_certificate(device: Device, request: Request) -> Response:
    try:
        chain = x509.load_pem_x509_certificates(request.body)
    except ValueError:
        return status(device, request.path, 6, "badCertificate")
    try:
        key_pem = pem_private_key_block(request.body)
        if key_pem is not None:
            device.firmware.upload(chain, load_private_key(key_pem))
        else:
            device.firmware.install_signed(chain)
    except (CertificateRejected, ValueError, TypeError) as exc:
        return status(device, request.path, 6, _sub_code(exc))  # HTTP 200, as the devices do
    return status(device, request.path)


def _sub_code(exc: Exception) -> str:
    return "certificateKeyMismatch" if "match" in str(exc) else "badPrivateKey"


ROUTES = {
    ("GET", "/ISAPI/System/deviceInfo"): device_info,
    ("GET", "/ISAPI/System/time"): get_time,
    ("PUT", "/ISAPI/System/time"): put_time,
    ("GET", "/ISAPI/System/Network/interfaces"): interfaces,
    ("GET", "/ISAPI/System/status"): system_status,
    ("PUT", "/ISAPI/System/reboot"): reboot,
    ("PUT", "/ISAPI/Security/serverCertificate/certSignReq"): cert_sign_request,
    ("GET", "/ISAPI/Security/serverCertificate/downloadCertSignReq"): download_csr,
    ("GET", "/ISAPI/Security/serverCertificate/certificate"): get_certificate,
    ("PUT", "/ISAPI/Security/serverCertificate/certificate"): put_certificate,
}
