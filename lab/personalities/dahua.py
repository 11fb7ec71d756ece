"""Dahua-like CGI (device-protocols.md section 6): plain-text `key=value\r\n` answers, Digest
with the realm `DH_<MAC>` (a free MAC hint, as documented).

Quirk kept: a rejected parameter answers HTTP 200 with the body `Error` (clients must read the
body). There is no certificate CGI on these devices: certificates go through ONVIF.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from camscan.lab.httpserver import Request, Response
from camscan.lab.identity import Identity
from camscan.lab.personalities.base import Personality

if TYPE_CHECKING:
    from camscan.lab.device import Device


def _kv(*pairs: tuple[str, object]) -> Response:
    return Response.text("".join(f"{k}={v}\r\n" for k, v in pairs))


class Dahua(Personality):
    name = "dahua"

    def realm(self, identity: Identity) -> str:
        return f"DH_{identity.mac_bare}"

    async def vendor_api(self, device: Device, request: Request) -> Response | None:
        if not request.path.startswith("/cgi-bin/"):
            return None
        denied = device.require_digest(request)
        if denied is not None:
            return denied
        if request.method != "GET":
            return Response.text("Error\r\nBad Request!\r\n", 400)
        action = request.query.get("action", "")
        handler = CGIS.get((request.path, action))
        if handler is None:
            return Response.text("Error\r\nBad Request!\r\n", 400)
        return handler(device, request)


def _magic(device: Device, request: Request) -> Response:
    i = device.identity
    action = request.query["action"]
    version, _, build = i.firmware.partition(",")
    table = {
        "getDeviceType": (("type", i.model),),
        "getSerialNo": (("sn", i.serial),),
        "getMachineName": (("name", device.name),),
        "getVendor": (("vendor", "Dahua"),),
        "getHardwareVersion": (("version", "1.00"),),
        "getSoftwareVersion": (("version", f"{version},{build}" if build else version),),
        "getSystemInfo": (("deviceType", i.model), ("serialNumber", i.serial), ("hardwareVersion", "1.00"),
                          ("processor", "ST7108"), ("updateSerial", i.model)),
    }
    return _kv(*table[action])


def _reboot(device: Device, request: Request) -> Response:
    return Response.text("OK\r\n", after=device.schedule_reboot)


def _get_time(device: Device, request: Request) -> Response:
    return _kv(("result", device.time.local(device.clock.now()).strftime("%Y-%m-%d %H:%M:%S")))


def _set_time(device: Device, request: Request) -> Response:
    try:
        moment = dt.datetime.strptime(request.query.get("time", ""), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return Response.text("Error\r\n")  # HTTP 200 with an error body: the Dahua quirk
    # Local time in the device's configured zone, as every public client sends it; the NTP
    # setting is left as it is.
    device.set_clock(moment.replace(tzinfo=dt.timezone(device.time.offset)))
    return Response.text("OK\r\n")


def _network(device: Device, request: Request) -> Response:
    if request.query.get("name") != "Network":
        return Response.text("Error\r\n")
    p = "table.Network.eth0"
    return _kv((f"{p}.IPAddress", device.ip), (f"{p}.SubnetMask", "255.255.0.0"),
               (f"{p}.DefaultGateway", "127.0.0.1"), (f"{p}.DhcpEnable", "false"),
               (f"{p}.PhysicalAddress", device.identity.mac), (f"{p}.MTU", 1500))


def _interfaces(device: Device, request: Request) -> Response:
    return _kv(("netInterface[0].Name", "eth0"), ("netInterface[0].Type", "Normal"),
               ("netInterface[0].Valid", "true"))


MAGIC = "/cgi-bin/magicBox.cgi"
CGIS = {
    **{(MAGIC, a): _magic for a in ("getDeviceType", "getSerialNo", "getMachineName", "getVendor",
                                    "getHardwareVersion", "getSoftwareVersion", "getSystemInfo")},
    (MAGIC, "reboot"): _reboot,
    ("/cgi-bin/global.cgi", "getCurrentTime"): _get_time,
    ("/cgi-bin/global.cgi", "setCurrentTime"): _set_time,
    ("/cgi-bin/configManager.cgi", "getConfig"): _network,
    ("/cgi-bin/netApp.cgi", "getInterfaces"): _interfaces,
}
