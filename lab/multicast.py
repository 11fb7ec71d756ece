"""Multicast discovery as cameras answer it, for lab devices on a real LAN (network namespaces).

- ONVIF WS-Discovery: a Probe multicast to 239.255.255.250:3702 gets each device's ProbeMatches
  by unicast to the prober, after a random 0-500 ms delay (device-protocols.md section 2; ONVIF
  Core Specification section 7.3; WS-Discovery 2005/04 section 5.3).
- SSDP (UPnP Device Architecture 2.0, section 1.3.2): an M-SEARCH multicast to
  239.255.255.250:1900 with ST ssdp:all or upnp:rootdevice gets a unicast "HTTP/1.1 200 OK"
  with LOCATION, SERVER ("OS/version UPnP/2.0 product/version"), ST and USN, after a random
  delay below MX seconds (capped at 5 as the specification caps MX).
- mDNS/DNS-SD (RFC 6762, RFC 6763): registered with the zeroconf library by the LAN runner
  (tests/support/lan_device.py): Axis units announce `_axis-video._tcp` with a `macaddress`
  TXT key (Axis "VAPIX: Discovery" / Bonjour notes), other units `_https._tcp`.

Loopback has no multicast route in CI, so these run only inside namespaces a harness made; the
unicast WS-Discovery listener of camscan.lab.discovery stays as it was.
"""

from __future__ import annotations

import random
import re
import socket
import struct
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import trio

from camscan.lab import discovery

if TYPE_CHECKING:
    from camscan.lab.device import Device

GROUP = "239.255.255.250"
SSDP_PORT = 1900
SSDP_MAX_MX = 5
_ST = re.compile(rb"^ST:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_MX = re.compile(rb"^MX:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def _group_socket(port: int, interface: str) -> trio.socket.SocketType:
    """A UDP socket bound to the group address itself: only datagrams sent to the group arrive."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    membership = struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton(interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    return sock


async def _reply_from(address: str, payload: bytes, to: tuple[str, int], delay: float) -> None:
    await trio.sleep(delay)
    # Sent from the device's own address, as a camera on its own MAC would.
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        try:
            await out.bind((address, 0))
            await out.sendto(payload, to)
        except OSError:
            pass  # the prober went away


async def serve_ws_discovery(devices: Sequence[Device], interface: str) -> None:
    """Answer multicast WS-Discovery Probes for every device (each from its own address)."""
    sock = _group_socket(discovery.PORT, interface)
    with sock:
        await sock.bind((GROUP, discovery.PORT))
        async with trio.open_nursery() as nursery:
            while True:
                data, source = await sock.recvfrom(discovery.MAX_DATAGRAM)
                relates_to = discovery.answer_to(data)
                if relates_to is None:
                    continue
                for device in devices:
                    nursery.start_soon(_reply_from, device.ip, discovery.probe_matches(device, relates_to),
                                       source, random.uniform(0, discovery.MAX_DELAY))


def ssdp_response(device: Device, st: str) -> bytes:
    ident = device.identity
    usn_uuid = uuid.uuid5(uuid.NAMESPACE_OID, ident.mac)
    port = device.http_port or device.https_port
    scheme = "http" if device.http_port else "https"
    product = f"{ident.vendor.manufacturer}-{ident.model}/{ident.firmware.split()[0]}"
    return (
        "HTTP/1.1 200 OK\r\n"
        "CACHE-CONTROL: max-age=1800\r\n"
        "EXT:\r\n"
        f"LOCATION: {scheme}://{device.ip}:{port}/upnp/rootdesc.xml\r\n"
        f"SERVER: Linux/4.9 UPnP/2.0 {product}\r\n"
        f"ST: {st}\r\n"
        f"USN: uuid:{usn_uuid}::{st}\r\n"
        "\r\n"
    ).encode()


def msearch_target(datagram: bytes) -> tuple[str, float] | None:
    """(ST, MX) of an M-SEARCH a camera answers (ssdp:all, upnp:rootdevice), else None."""
    if not datagram.startswith(b"M-SEARCH * HTTP/1.1\r\n") or b'"ssdp:discover"' not in datagram:
        return None
    st, mx = _ST.search(datagram), _MX.search(datagram)
    if st is None or st.group(1) not in (b"ssdp:all", b"upnp:rootdevice"):
        return None
    delay = min(int(mx.group(1)), SSDP_MAX_MX) if mx else 1
    target = "upnp:rootdevice"
    return target, float(max(delay, 1))


async def serve_ssdp(devices: Sequence[Device], interface: str) -> None:
    sock = _group_socket(SSDP_PORT, interface)
    with sock:
        await sock.bind((GROUP, SSDP_PORT))
        async with trio.open_nursery() as nursery:
            while True:
                data, source = await sock.recvfrom(8192)
                asked = msearch_target(data)
                if asked is None:
                    continue
                st, mx = asked
                for device in devices:
                    nursery.start_soon(_reply_from, device.ip, ssdp_response(device, st), source,
                                       random.uniform(0, min(mx, 1.0)))
