"""A simulated device's time settings: NTP or manual, its time zone, its NTP servers.

Real cameras keep these apart from the clock itself: setting the clock once does not turn NTP
off (ONVIF: only `DateTimeType=Manual` does), and the zone moves only when a client sends one
(ONVIF `TimeZone`, ISAPI `timeZone`). Every personality reads and writes this one state, so a
driver that switched NTP off or moved the zone through any API is caught by the same test.

Zones are POSIX TZ strings with a fixed offset (`CET-1` is UTC+1: POSIX inverts the sign, and
so does Hikvision's `CST-8:00:00`); DST rules after the offset are kept as text, not applied.
An NTP server whose name ends in `.invalid` (RFC 2606) is one the device cannot reach: its
clock stays wrong until someone fixes the server or sets the time.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_POSIX = re.compile(r"^(?:[A-Za-z]{3,}|<[^>]+>)([+-]?)(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?")
UNREACHABLE_NTP = "ntp.site.invalid"


def posix_offset(tz: str) -> dt.timedelta:
    """The UTC offset of a POSIX TZ string's standard time (`CET-1` -> +1 h); ValueError if unreadable."""
    match = _POSIX.match(tz.strip())
    if not match:
        raise ValueError(f"not a POSIX time zone: {tz!r}")
    sign = 1 if match.group(1) == "-" else -1
    return sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))


def hikvision_zone(tz: str) -> str:
    """ISAPI's spelling of a POSIX zone: `CST-8` -> `CST-8:00:00` (same inverted sign)."""
    match = _POSIX.match(tz.strip())
    if not match:
        raise ValueError(f"not a POSIX time zone: {tz!r}")
    name = tz.strip()[: match.start(1) if match.group(1) else match.start(2)]
    sign = match.group(1) or "+"
    return f"{name}{sign}{int(match.group(2))}:{match.group(3) or '00'}:{match.group(4) or '00'}"


@dataclass
class TimeSettings:
    mode: str = "NTP"  # "NTP" | "Manual" (ONVIF's SetDateTimeType)
    tz: str = "UTC0"
    dst: bool = False
    ntp_servers: tuple[str, ...] = ()

    @property
    def offset(self) -> dt.timedelta:
        return posix_offset(self.tz)

    def local(self, utc: dt.datetime) -> dt.datetime:
        return utc.astimezone(dt.timezone(self.offset))

    @property
    def ntp_works(self) -> bool:
        """On NTP with a server it can reach: the clock follows the (lab host's) real time."""
        return self.mode == "NTP" and any(not s.endswith(".invalid") for s in self.ntp_servers)


ZONES = {"onvif": "CET-1", "axis": "CET-1", "hikvision": "CST-8", "dahua": "CST-8"}


def default_time(personality: str, *, clock_wrong: bool, rtc_lost: bool) -> TimeSettings:
    """A unit as shipped and commissioned: NTP on in its local zone; a wrong clock means its NTP
    server is unreachable, or (RTC lost, no NTP) that it runs on manual time."""
    zone = ZONES.get(personality, "UTC0")
    if rtc_lost:
        return TimeSettings("Manual", zone)
    return TimeSettings("NTP", zone, ntp_servers=(UNREACHABLE_NTP if clock_wrong else "pool.ntp.org",))
