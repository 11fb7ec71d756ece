"""Dahua / Amcrest CGI (device-protocols.md section 6): plain `key=value` text with Digest.

No HTTP certificate API is known for these devices (section 6, [?]): certificates go through
ONVIF (inherited). Reboot and clock use the CGI, whose errors come back as HTTP 200 with an
`Error` body.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from camscan.remediate.drivers.base import DriverError
from camscan.remediate.drivers.onvif import OnvifDriver


class DahuaDriver(OnvifDriver):
    name = "dahua"

    async def _cgi(self, path: str) -> str:
        response = await self.session.request("GET", path)
        body = response.text.strip()
        if body.lower().startswith("error") or "invalid" in body.lower():
            raise DriverError("rejected", f"{path.split('?')[0]}: {body[:100]}")
        return body

    async def set_clock(self, moment: dt.datetime) -> None:
        stamp = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        await self._cgi(f"/cgi-bin/global.cgi?action=setCurrentTime&time={quote(stamp)}")
        self.clock_offset = moment.astimezone(dt.UTC) - dt.datetime.now(dt.UTC)

    async def reboot(self) -> None:
        await self._cgi("/cgi-bin/magicBox.cgi?action=reboot")
