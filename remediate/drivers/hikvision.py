"""Hikvision ISAPI (the calls and their sources: docs/drivers.md): XML over HTTPS with Digest.

ISAPI answers many failures with HTTP 200 and a ResponseStatus whose statusCode is not 1, so
every answer's body is read, and writes echo the XML namespace the device itself answered in
(older firmware `http://www.hikvision.com/ver20/XMLSchema`, newer `http://www.isapi.org/...`).

The clock: `GET /ISAPI/System/time` first, then `PUT` the same XML_Time with `timeMode` manual,
`localTime` in the device's own offset and the device's own `timeZone` (ISAPI's POSIX-style
zone is inverted: `CST-8:00:00` is UTC+8); a device that was on NTP gets `timeMode` NTP back.
Public clients do the same (keeping timeZone, "sending UTC would move every time the display
shows"); the endpoint is in Hikvision's ISAPI developer guide ("GET or PUT /ISAPI/System/time").

Certificates: Hikvision documents the URLs of its certificate import
(`POST /ISAPI/Security/serverCertificate/certificate?customID=`) and of the selection of the
certificate HTTPS uses (`GET|PUT /ISAPI/Security/certificate/select/<functionName>?format=json`),
but no public description of their bodies exists, and none of one that carries a private key.
camscan does not guess them: certificates go through ONVIF Advanced Security (inherited, the
documented path, with its rollback) where the device offers it, and the plan gives the web-UI
steps otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET

from camscan.remediate.drivers.base import DriverError
from camscan.remediate.drivers.onvif import DeviceTime, OnvifDriver, el, text

ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"
TIME_PATH = "/ISAPI/System/time"
_ZONE = re.compile(r"^[A-Za-z]{3,}([+-]?)(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?")


def isapi_offset(zone: str) -> dt.timedelta:
    """`CST-8:00:00` -> UTC+8 (POSIX-inverted, as the ISAPI guide's examples); ValueError if not."""
    match = _ZONE.match(zone.strip())
    if not match:
        raise ValueError(zone)
    sign = 1 if match.group(1) == "-" else -1
    return sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))


class HikvisionDriver(OnvifDriver):
    name = "hikvision"
    namespace = ISAPI_NS

    async def _isapi(self, method: str, path: str, body: bytes | str | None = None) -> Element | None:
        response = await self.session.request(
            method, path, content=body, ok=(200, 400), headers={"Content-Type": "application/xml"}
        )
        try:
            root: Element = DET.fromstring(response.content, forbid_dtd=True)
        except (DET.ParseError, ValueError):
            raise DriverError("protocol", f"{method} {path}: the answer is not XML") from None
        if root.tag.startswith("{"):
            self.namespace = root.tag[1:].split("}", 1)[0]
        if root.tag.rsplit("}", 1)[-1] == "ResponseStatus":
            code, sub = text(root, "statusCode"), text(root, "subStatusCode")
            if code != "1":
                kind = "rejected" if code in ("4", "6") else "protocol"
                raise DriverError(kind, f"{method} {path}: statusCode {code} ({sub})"[:200])
            return None
        return root

    async def time_settings(self) -> DeviceTime:
        """ONVIF's reading, with the mode as ISAPI reports it (timeMode NTP or manual)."""
        onvif = await super().time_settings()
        current = await self._isapi("GET", TIME_PATH)
        mode = text(current, "timeMode") if current is not None else ""
        return dataclasses.replace(onvif, mode="NTP" if mode == "NTP" else "Manual")

    async def _put_time(self, mode: str, moment: dt.datetime) -> None:
        current = await self._isapi("GET", TIME_PATH)
        zone = text(current, "timeZone") if current is not None else ""
        try:
            offset = isapi_offset(zone)
        except ValueError:
            raise DriverError("unsupported", f"{TIME_PATH}: cannot read the device's timeZone") from None
        local = moment.astimezone(dt.timezone(offset)).replace(microsecond=0).isoformat()
        await self._isapi(
            "PUT",
            TIME_PATH,
            f'<?xml version="1.0" encoding="UTF-8"?><Time version="2.0" xmlns="{self.namespace}">'
            f"{el('timeMode', mode)}{el('localTime', local)}{el('timeZone', zone)}</Time>",
        )

    async def set_time_once(self, moment: dt.datetime, before: DeviceTime) -> None:
        await self._put_time("manual", moment)
        self.clock_offset = moment.astimezone(dt.UTC) - dt.datetime.now(dt.UTC)

    async def restore_ntp(self, before: DeviceTime) -> None:
        await self._put_time("NTP", dt.datetime.now(dt.UTC) + (self.clock_offset or dt.timedelta(0)))

    async def reboot(self) -> None:
        await self._isapi("PUT", "/ISAPI/System/reboot")
