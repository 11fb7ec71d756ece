"""ONVIF (SOAP 1.2): device management (devicemgmt.wsdl) and, through advsec.py, the Advanced
Security keystore (advancedsecurity.wsdl); device-protocols.md sections 1 and 3.

Authentication is a WS-Security UsernameToken (what most cameras and onvif-zeep use) whose
Created time is the *device's* clock, learnt from the unauthenticated GetSystemDateAndTime: a
camera whose clock is hours off refuses a token stamped with ours. The session's Digest answers
a 401 from devices that insist on it.

The clock: devicemgmt.wsdl says DateTimeType "Defines if the date and time is set via NTP or
manually" (from then on) and makes TimeZone optional. So the driver reads the device's settings
first, never sends a TimeZone, and leaves a device on NTP on NTP: with a server the user names
(`--ntp-server`) it points NTP there (SetNTP) and checks the clock follows; otherwise it sets
the time once (Manual + UTCDateTime) and switches straight back to NTP. Sources:
https://github.com/onvif/specs/blob/development/wsdl/ver10/device/wsdl/devicemgmt.wsdl
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
import trio
from cryptography import x509

from camscan.pki import PrivateKey
from camscan.remediate.drivers.advsec import Keystore
from camscan.remediate.drivers.base import Credentials, DeviceFacts, Driver, DriverError, Session
from camscan.remediate.drivers.soap import (
    TAS,
    datetime_xml,
    el,
    envelope,
    fault_error,
    find,
    local,
    parse_datetime,
    text,
    username_token,
)

__all__ = ["DeviceTime", "OnvifDriver", "el", "find", "text"]

DEVICE_PATH = "/onvif/device_service"
NTP_SYNC_POLLS = 5  # seconds to wait for a device to follow a new NTP server
CLOCK_TOLERANCE = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class DeviceTime:
    """tt:SystemDateTime as the device reports it."""

    mode: str  # "NTP" | "Manual"
    dst: bool
    tz: str | None
    utc: dt.datetime | None
    utc_offset: dt.timedelta | None  # LocalDateTime - UTCDateTime, to the quarter hour

    @classmethod
    def parse(cls, answer: Element) -> DeviceTime:
        info = find(answer, "SystemDateAndTime")
        if info is None:
            raise DriverError("protocol", "GetSystemDateAndTime: no SystemDateAndTime")
        utc = parse_datetime(find(info, "UTCDateTime"))
        local_time = parse_datetime(find(info, "LocalDateTime"))
        offset = None
        if utc is not None and local_time is not None:
            quarters = round((local_time - utc).total_seconds() / 900)
            offset = dt.timedelta(minutes=15 * quarters)
        return cls(
            text(info, "DateTimeType") or "Manual",
            text(info, "DaylightSavings").lower() == "true",
            text(info, "TimeZone", "TZ") or None,
            utc,
            offset,
        )


def ntp_host(server: str) -> str:
    """tt:NetworkHost for SetNTP: IPv4, IPv6 or a DNS name."""
    try:
        kind = "IPv4" if ipaddress.ip_address(server).version == 4 else "IPv6"
    except ValueError:
        return f"<tt:Type>DNS</tt:Type>{el('tt:DNSname', server)}"
    return f"{el('tt:Type', kind)}{el(f'tt:{kind}Address', server)}"


class OnvifDriver(Driver):
    name = "onvif"

    def __init__(self, session: Session, credentials: Credentials) -> None:
        super().__init__(session)
        self.credentials = credentials
        self.clock_offset: dt.timedelta | None = None
        self.time: DeviceTime | None = None
        self.security_path: str | None = None
        self.keystore = Keystore(self._security_call)

    # --- transport ---------------------------------------------------------------------------

    async def call(self, body: str, *, path: str = DEVICE_PATH, authenticate: bool = True) -> Element:
        header = ""
        if authenticate:
            if self.clock_offset is None:
                await self.device_clock()
            assert self.clock_offset is not None
            created = dt.datetime.now(dt.UTC) + self.clock_offset
            header = f"<s:Header>{username_token(self.credentials, created)}</s:Header>"
        response = await self.session.request(
            "POST",
            path,
            content=envelope(body, header).encode(),
            ok=(200, 400, 500),
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        )
        try:
            root: Element = DET.fromstring(response.content, forbid_dtd=True)
        except (DET.ParseError, ValueError):
            raise DriverError(
                "protocol", f"{path}: the answer is not XML (HTTP {response.status_code})"
            ) from None
        answer = find(root, "Body")
        if answer is None or len(answer) == 0:
            raise DriverError("protocol", f"{path}: a SOAP envelope without a body")
        result = answer[0]
        if local(result.tag) == "Fault":
            raise fault_error(result)
        return result

    async def device_clock(self) -> dt.datetime | None:
        """The device's UTC clock (pre-auth), and the offset every token's Created carries."""
        self.time = DeviceTime.parse(await self.call("<tds:GetSystemDateAndTime/>", authenticate=False))
        moment = self.time.utc
        self.clock_offset = (moment - dt.datetime.now(dt.UTC)) if moment else dt.timedelta(0)
        return moment

    async def _security(self) -> str:
        if self.security_path is None:
            answer = await self.call(
                "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>"
            )
            for service in answer:
                if text(service, "Namespace") == TAS:
                    address = text(service, "XAddr")
                    self.security_path = "/" + address.split("://", 1)[-1].split("/", 1)[-1]
                    break
            else:
                raise DriverError("unsupported", "the device offers no ONVIF Advanced Security service")
        return self.security_path

    async def _security_call(self, body: str) -> Element:
        return await self.call(body, path=await self._security())

    # --- operations --------------------------------------------------------------------------

    async def facts(self) -> DeviceFacts:
        clock = await self.device_clock()
        info = await self.call("<tds:GetDeviceInformation/>")
        mac: str | None = None
        try:
            interfaces = await self.call("<tds:GetNetworkInterfaces/>")
            mac = text(interfaces, "NetworkInterfaces", "Info", "HwAddress") or None
        except DriverError as exc:
            if exc.kind == "auth":
                raise
        return DeviceFacts(
            self.name,
            text(info, "Manufacturer") or None,
            text(info, "Model") or None,
            text(info, "FirmwareVersion") or None,
            text(info, "SerialNumber") or None,
            mac,
            clock,
        )

    async def set_clock(self, moment: dt.datetime, ntp_server: str | None = None) -> str:
        """Correct the clock without changing the device's configuration; returns what was done."""
        before = await self.time_settings()
        if before.mode == "NTP" and ntp_server:
            await self.call(f"<tds:SetNTP><tds:FromDHCP>false</tds:FromDHCP>"
                            f"<tds:NTPManual>{ntp_host(ntp_server)}</tds:NTPManual></tds:SetNTP>")
            for _ in range(NTP_SYNC_POLLS):
                clock = await self.device_clock()
                if clock is not None and abs(clock - dt.datetime.now(dt.UTC)) < CLOCK_TOLERANCE:
                    return f"NTP now uses {ntp_server}; the clock follows it (zone kept)"
                await trio.sleep(1)
        await self.set_time_once(moment, before)
        if before.mode == "NTP":
            await self.restore_ntp(before)
            return "set once; NTP mode and zone kept"
        return "set (manual time, as before; zone kept)"

    async def time_settings(self) -> DeviceTime:
        """The device's time settings as its own API reports them (ONVIF here)."""
        await self.device_clock()
        assert self.time is not None
        return self.time

    async def set_time_once(self, moment: dt.datetime, before: DeviceTime) -> None:
        await self.call(
            "<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType>"
            f"{el('tds:DaylightSavings', str(before.dst).lower())}"
            f"{datetime_xml('tds:UTCDateTime', moment)}</tds:SetSystemDateAndTime>"
        )
        self.clock_offset = moment.astimezone(dt.UTC) - dt.datetime.now(dt.UTC)

    async def restore_ntp(self, before: DeviceTime) -> None:
        await self.call(
            "<tds:SetSystemDateAndTime><tds:DateTimeType>NTP</tds:DateTimeType>"
            f"{el('tds:DaylightSavings', str(before.dst).lower())}</tds:SetSystemDateAndTime>"
        )

    async def create_csr(
        self, common_name: str, ips: Sequence[str], dns: Sequence[str]
    ) -> x509.CertificateSigningRequest:
        return await self.keystore.create_csr(common_name, ips, dns)

    async def install_signed(self, chain: Sequence[x509.Certificate]) -> None:
        await self.keystore.install_signed(chain)

    async def upload(self, chain: Sequence[x509.Certificate], key: PrivateKey) -> None:
        await self.keystore.upload(chain, key)

    async def reboot(self) -> None:
        await self.call("<tds:SystemReboot/>")

    async def rollback(self) -> bool:
        return await self.keystore.rollback()

    async def remove_superseded(self, old_leaf: bytes) -> str:
        return await self.keystore.remove_superseded(old_leaf)
