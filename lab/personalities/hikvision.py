"""Hikvision-like ISAPI (device-protocols.md section 4): XML over HTTP(S) with Digest.

Quirks kept on purpose: the XML namespace is the firmware's (older `hikvision.com`, newer
`isapi.org`, per device), and a request the device understands but rejects (bad time, a key
that does not match) answers HTTP 200 with a ResponseStatus whose statusCode is not 1.

Certificates: Hikvision's guide names the import and selection URLs
(`POST /ISAPI/Security/serverCertificate/certificate?customID=`,
`PUT /ISAPI/Security/certificate/select/<functionName>?format=json`) but no public document
describes their bodies, so the lab does not invent one: those requests answer notSupport, and
certificates go through ONVIF Advanced Security, which this personality serves. Only the
certificate information (`GET .../serverCertificate/certificate`) is answered.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from camscan.lab.httpserver import Request, Response
from camscan.lab.identity import Identity
from camscan.lab.personalities.base import Personality
from camscan.lab.personalities.xmlutil import ParseError, el, parse, text_local
from camscan.lab.timesettings import hikvision_zone, posix_offset

if TYPE_CHECKING:
    from camscan.lab.device import Device

STATUS_TEXT = {1: "OK", 2: "Device Busy", 3: "Device Error", 4: "Invalid Operation",
               5: "Invalid XML Format", 6: "Invalid XML Content", 7: "Reboot Required"}


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
    now = device.time.local(device.clock.now().replace(microsecond=0))
    mode = "NTP" if device.time.mode == "NTP" else "manual"
    return document(device, "Time", el("timeMode", mode) + el("localTime", now.isoformat())
                    + el("timeZone", hikvision_zone(device.time.tz)))


def put_time(device: Device, request: Request) -> Response:
    """XML_Time: timeMode NTP|manual, localTime (ISO 8601, the device's zone when it carries no
    offset), timeZone (POSIX-inverted). A timeZone sent becomes the device's zone."""
    try:
        root = parse(request.body)
    except (ParseError, ValueError):
        return status(device, request.path, 5, "badXmlFormat", 400)
    mode = text_local(root, "timeMode", default="manual")
    zone_text = text_local(root, "timeZone")
    try:
        if mode not in ("NTP", "manual"):
            raise ValueError(mode)
        zone = dt.timezone(posix_offset(zone_text)) if zone_text else dt.timezone(device.time.offset)
        local_time = None
        if mode == "manual":
            local_time = dt.datetime.fromisoformat(text_local(root, "localTime"))
            if local_time.tzinfo is None:
                local_time = local_time.replace(tzinfo=zone)
    except ValueError:
        return status(device, request.path, 6, "badParameters")  # HTTP 200: the ISAPI quirk
    if zone_text and zone_text != hikvision_zone(device.time.tz):
        device.time.tz = zone_text  # a different zone sent is a zone change
    device.time.mode = "NTP" if mode == "NTP" else "Manual"
    if local_time is not None:
        device.set_clock(local_time.astimezone(dt.UTC))
    device.sync_ntp()
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


def get_certificate(device: Device, request: Request) -> Response:
    leaf = device.served().leaf
    return document(device, "CertificateInfo",
                    el("issuerDN", leaf.issuer.rfc4514_string())
                    + el("subjectDN", leaf.subject.rfc4514_string())
                    + el("startDate", leaf.not_valid_before_utc.date().isoformat())
                    + el("endDate", leaf.not_valid_after_utc.date().isoformat()) + el("type", "HTTPS")
                    + el("status", "normal"))


ROUTES = {
    ("GET", "/ISAPI/System/deviceInfo"): device_info,
    ("GET", "/ISAPI/System/time"): get_time,
    ("PUT", "/ISAPI/System/time"): put_time,
    ("GET", "/ISAPI/System/Network/interfaces"): interfaces,
    ("GET", "/ISAPI/System/status"): system_status,
    ("PUT", "/ISAPI/System/reboot"): reboot,
    ("GET", "/ISAPI/Security/serverCertificate/certificate"): get_certificate,
}
