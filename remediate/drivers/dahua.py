"""Dahua / Amcrest CGI (the calls and their sources: docs/drivers.md): plain `key=value` text with Digest.

No public description of a Dahua certificate CGI exists (section 6): certificates go through
ONVIF Advanced Security (inherited) where the device offers it, else the plan's manual steps.
Reboot (`magicBox.cgi?action=reboot`) and the clock (`global.cgi?action=setCurrentTime`) use
the CGI, whose errors come back as HTTP 200 with an `Error` body.

setCurrentTime takes the device's *local* time, `yyyy-MM-dd HH:mm:ss`: that is what every
public client sends (python-amcrest `system.py`, `global.cgi?action=setCurrentTime&time=`), and
the Dahua HTTP API lists the CGI under "Time" with the same format. The device's zone comes
from ONVIF GetSystemDateAndTime (LocalDateTime minus UTCDateTime). The CGI leaves the NTP
setting as it is, so nothing needs restoring.
"""

from __future__ import annotations

import datetime as dt

from camscan.remediate.drivers.base import DriverError
from camscan.remediate.drivers.onvif import DeviceTime, OnvifDriver


class DahuaDriver(OnvifDriver):
    name = "dahua"

    async def _cgi(self, path: str) -> str:
        response = await self.session.request("GET", path)
        body = response.text.strip()
        if body.lower().startswith("error") or "invalid" in body.lower():
            raise DriverError("rejected", f"{path.split('?')[0]}: {body[:100]}")
        return body

    async def set_time_once(self, moment: dt.datetime, before: DeviceTime) -> None:
        if before.utc_offset is None:
            raise DriverError("unsupported", "the device reports no local time: its zone is unknown")
        local = moment.astimezone(dt.timezone(before.utc_offset)).strftime("%Y-%m-%d %H:%M:%S")
        # The space is encoded, the colons are sent as public clients send them.
        await self._cgi(f"/cgi-bin/global.cgi?action=setCurrentTime&time={local.replace(' ', '%20')}")
        self.clock_offset = moment.astimezone(dt.UTC) - dt.datetime.now(dt.UTC)

    async def restore_ntp(self, before: DeviceTime) -> None:
        return None  # setCurrentTime did not touch NTP.Enable

    async def reboot(self) -> None:
        await self._cgi("/cgi-bin/magicBox.cgi?action=reboot")
