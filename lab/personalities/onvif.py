"""ONVIF device management (devicemgmt.wsdl, SOAP 1.2), device-protocols.md section 1; the
certificate operations are in onvif_security.py.

Time: GetSystemDateAndTime reports the device's own settings (DateTimeType, zone, local time);
SetSystemDateAndTime changes the mode to what DateTimeType says and the zone only when a
TimeZone is sent (it is optional); SetNTP sets the servers. A device on a reachable NTP server
follows it (lab/timesettings.py).

Authentication: HTTP Digest or WS-Security UsernameToken; GetSystemDateAndTime is PRE_AUTH.
A UsernameToken whose Created is more than five minutes from the *device* clock is refused
with a SOAP fault, as real devices do (clients first read the device time to correct for it).
Certificate installation: legacy tds (GetPkcs10Request, LoadCertificates,
LoadCertificateWithPrivateKey) and tas Flow A/B (key pair -> CSR -> UploadCertificate ->
CreateCertificationPath -> Add/ReplaceServerCertificateAssignment; PKCS#12 upload).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from camscan.lab.auth import check_username_token
from camscan.lab.httpserver import Request, Response
from camscan.lab.personalities.onvif_keystore import KEYSTORE_OPERATIONS
from camscan.lab.personalities.onvif_security import SECURITY_OPERATIONS, current_only
from camscan.lab.personalities.soapfault import (
    CONTENT_TYPE,
    SOAP,
    TAS,
    TDS,
    Fault,
    Op,
    bad_arg,
    datetime_xml,
    envelope,
    fault_response,
    soap,
)
from camscan.lab.personalities.xmlutil import (
    ParseError,
    el,
    find_local,
    local,
    namespace,
    parse,
    text_local,
)
from camscan.lab.timesettings import posix_offset

if TYPE_CHECKING:
    from camscan.lab.device import Device

PATHS = ("/onvif/device_service", "/onvif/security")


async def get_system_date_and_time(device: Device, op: Element) -> Response:
    now = device.clock.now()
    time = device.time
    return soap("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                f"{el('tt:DateTimeType', time.mode)}{el('tt:DaylightSavings', str(time.dst).lower())}"
                f"<tt:TimeZone>{el('tt:TZ', time.tz)}</tt:TimeZone>"
                f"{datetime_xml('UTCDateTime', now)}{datetime_xml('LocalDateTime', time.local(now))}"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")


async def set_system_date_and_time(device: Device, op: Element) -> Response:
    """devicemgmt.wsdl SetSystemDateAndTime: DateTimeType says NTP or manual *from now on*;
    TimeZone is optional and, when sent, becomes the device's zone (OSD and recordings move)."""
    kind = text_local(op, "DateTimeType")
    if kind not in ("Manual", "NTP"):
        raise bad_arg("InvalidDateTime", f"DateTimeType must be Manual or NTP, not {kind!r}")
    tz = find_local(op, "TimeZone", "TZ")
    if tz is not None:
        try:
            posix_offset(tz.text or "")
        except ValueError:
            raise bad_arg("InvalidTimeZone", "the TZ is not a POSIX time zone") from None
    moment = None
    if kind == "Manual":
        utc = find_local(op, "UTCDateTime")
        if utc is None:
            raise bad_arg("InvalidDateTime", "UTCDateTime is required for Manual")
        try:
            moment = dt.datetime(
                int(text_local(utc, "Date", "Year")), int(text_local(utc, "Date", "Month")),
                int(text_local(utc, "Date", "Day")), int(text_local(utc, "Time", "Hour")),
                int(text_local(utc, "Time", "Minute")), int(text_local(utc, "Time", "Second")),
                tzinfo=dt.UTC)
        except ValueError as exc:
            raise bad_arg("InvalidDateTime", f"bad date/time: {exc}") from None
    elif not device.time.ntp_servers:
        raise Fault("Sender", ("ter:InvalidArgVal", "ter:NtpServerUndefined"), "no NTP server is set")
    if tz is not None:
        device.time.tz = (tz.text or "").strip()
    device.time.mode = kind
    device.time.dst = text_local(op, "DaylightSavings").lower() == "true"
    if moment is not None:
        device.set_clock(moment)
    device.sync_ntp()
    return soap("<tds:SetSystemDateAndTimeResponse/>")


def _host_xml(host: str) -> str:
    try:
        kind = "IPv4" if ipaddress.ip_address(host).version == 4 else "IPv6"
    except ValueError:
        return f"<tt:Type>DNS</tt:Type>{el('tt:DNSname', host)}"
    return f"{el('tt:Type', kind)}{el(f'tt:{kind}Address', host)}"


_HOST_FIELDS = {"IPv4": "IPv4Address", "IPv6": "IPv6Address", "DNS": "DNSname"}


async def get_ntp(device: Device, op: Element) -> Response:
    manual = "".join(f"<tt:NTPManual>{_host_xml(s)}</tt:NTPManual>" for s in device.time.ntp_servers)
    return soap(f"<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>false</tt:FromDHCP>{manual}"
                "</tds:NTPInformation></tds:GetNTPResponse>")


async def set_ntp(device: Device, op: Element) -> Response:
    if text_local(op, "FromDHCP").lower() == "true":
        raise bad_arg("NtpServerUndefined", "the lab's devices take no NTP server from DHCP")
    servers = []
    for host in (h for h in op if local(h.tag) == "NTPManual"):
        kind = text_local(host, "Type")
        value = text_local(host, _HOST_FIELDS.get(kind, "-"))
        if not value:
            raise bad_arg("InvalidIPv4Address" if kind == "IPv4" else "InvalidDnsName", "no address")
        servers.append(value)
    if not servers:
        raise bad_arg("NtpServerUndefined", "no NTP server given")
    device.time.ntp_servers = tuple(servers)
    device.sync_ntp()
    return soap("<tds:SetNTPResponse/>")


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
    security_minor = 0 if device.settings.onvif_security == "1.0.2" else 3
    services = [(TDS, "/onvif/device_service", 2, 6), (TAS, "/onvif/security", 1, security_minor)]
    if device.settings.onvif_security == "none":
        services = services[:1]
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


PRE_AUTH = {"GetSystemDateAndTime"}
OPERATIONS: dict[tuple[str, str], Op] = {
    (TDS, "GetSystemDateAndTime"): get_system_date_and_time,
    (TDS, "SetSystemDateAndTime"): set_system_date_and_time,
    (TDS, "GetNTP"): get_ntp,
    (TDS, "SetNTP"): set_ntp,
    (TDS, "GetDeviceInformation"): get_device_information,
    (TDS, "GetNetworkInterfaces"): get_network_interfaces,
    (TDS, "GetServices"): get_services,
    (TDS, "SystemReboot"): system_reboot,
    **SECURITY_OPERATIONS,
    **KEYSTORE_OPERATIONS,
}
__all__ = ["CONTENT_TYPE", "PATHS", "envelope", "handle"]


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
    if current_only(device, namespace(op.tag), local(op.tag)):
        handler = None  # not in this device's (older) Advanced Security
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
