"""WS-Discovery on each device's own address (device-protocols.md section 2): a unicast Probe
to <device ip>:3702 gets a ProbeMatches back, after the random 0-500 ms delay real devices use.
Multicast is not routable on loopback in CI, so the lab answers unicast probes only.
"""

from __future__ import annotations

import random
import uuid
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import trio

from camscan.lab.personalities.xmlutil import ParseError, find_local, local, parse, text_local

if TYPE_CHECKING:
    from camscan.lab.device import Device

PORT = 3702
MAX_DATAGRAM = 65507
MAX_DELAY = 0.5  # APP_MAX_DELAY of WS-Discovery
PROBE_ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
ADVERTISED = {"NetworkVideoTransmitter", "Device"}


def probe_matches(device: Device, relates_to: str) -> bytes:
    ident = device.identity
    scopes = " ".join([
        "onvif://www.onvif.org/Profile/Streaming",
        f"onvif://www.onvif.org/hardware/{ident.model}",
        f"onvif://www.onvif.org/name/{ident.vendor.manufacturer.upper()}",
        f"onvif://www.onvif.org/MAC/{ident.mac}",
    ])
    xaddrs = [f"https://{device.ip}:{device.https_port}/onvif/device_service"]
    if device.http_port is not None:
        xaddrs.insert(0, f"http://{device.ip}:{device.http_port}/onvif/device_service")
    address = uuid.uuid5(uuid.NAMESPACE_OID, ident.mac)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
        f"<s:Header><a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>"
        f'<d:AppSequence InstanceId="{device.boot_count}" MessageNumber="1"/></s:Header>'
        "<s:Body><d:ProbeMatches><d:ProbeMatch>"
        f"<a:EndpointReference><a:Address>urn:uuid:{address}</a:Address></a:EndpointReference>"
        "<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
        f"<d:Scopes>{escape(scopes)}</d:Scopes><d:XAddrs>{escape(' '.join(xaddrs))}</d:XAddrs>"
        "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
    ).encode()


def answer_to(datagram: bytes) -> str | None:
    """The Probe's MessageID if we should answer it, else None (not a probe, or other types)."""
    try:
        root = parse(datagram)
    except (ParseError, ValueError):
        return None
    if text_local(root, "Header", "Action") != PROBE_ACTION:
        return None
    probe = find_local(root, "Body", "Probe")
    if probe is None:
        return None
    wanted = {local(t.split(":")[-1]) for t in text_local(probe, "Types").split()}
    if wanted and not wanted & ADVERTISED:
        return None
    return text_local(root, "Header", "MessageID") or ""


async def serve(device: Device, sock: trio.socket.SocketType, nursery: trio.Nursery) -> None:
    while True:
        try:
            data, source = await sock.recvfrom(MAX_DATAGRAM)
        except OSError:
            # A failed receive (memory pressure, an ICMP error Linux chose to report) must not
            # take the device's web server down with it.
            await trio.sleep(0)
            continue
        relates_to = answer_to(data)
        if relates_to is not None:
            nursery.start_soon(_reply, device, sock, source, relates_to)


async def _reply(device: Device, sock: trio.socket.SocketType, source: tuple[str, int],
                 relates_to: str) -> None:
    await trio.sleep(random.uniform(0, MAX_DELAY))
    try:
        await sock.sendto(probe_matches(device, relates_to), source)
    except OSError:
        pass  # the prober went away
