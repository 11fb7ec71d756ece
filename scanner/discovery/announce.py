"""Who answers on the segment: one ONVIF WS-Discovery Probe and one SSDP M-SEARCH, multicast
out of one interface, answers collected for a bounded window.

- WS-Discovery (ONVIF Core Specification section 7.3; WS-Discovery 2005/04 section 5.2): a Probe
  for dn:NetworkVideoTransmitter to 239.255.255.250:3702; devices answer ProbeMatches by unicast
  within APP_MAX_DELAY (500 ms). Parsed with defusedxml (camscan.scanner.wsdiscovery).
- SSDP (UPnP Device Architecture 2.0, section 1.3.2): an M-SEARCH for upnp:rootdevice with MX 2
  to 239.255.255.250:1900; devices answer "HTTP/1.1 200 OK" by unicast within MX seconds.

Both are sent with TTL 1 (link scope, as the specifications ask) from the interface's own
address, so nothing leaves the chosen segment. Each is sent twice (UDP may drop one), and every
datagram counts against the shared Pacer. Answers are device-controlled text: bounded here, and
sanitised wherever they are shown.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import trio

from camscan.scanner.discovery.pacer import Pacer
from camscan.scanner.wsdiscovery import (
    WSD_MAX_DATAGRAM,
    WSD_PORT,
    DiscoveryFacts,
    parse_probe_matches,
    probe_message,
)

GROUP = "239.255.255.250"
SSDP_PORT = 1900
SSDP_MX = 2
_SENDS = 2
_MAX_HEADER = 1024


@dataclass(frozen=True)
class SsdpAnswer:
    location: str | None
    server: str | None
    usn: str | None
    st: str | None


def msearch() -> bytes:
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {GROUP}:{SSDP_PORT}\r\n"
        'MAN: "ssdp:discover"\r\n'
        f"MX: {SSDP_MX}\r\n"
        "ST: upnp:rootdevice\r\n"
        "\r\n"
    ).encode()


def parse_ssdp(datagram: bytes) -> SsdpAnswer | None:
    """The headers of an SSDP search response ("HTTP/1.1 200 OK"), else None."""
    text = datagram[:8192].decode("latin-1")
    lines = text.split("\r\n")
    if not lines or not lines[0].upper().startswith("HTTP/1.1 200"):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers.setdefault(name.strip().upper(), value.strip()[:_MAX_HEADER])
    return SsdpAnswer(headers.get("LOCATION"), headers.get("SERVER"), headers.get("USN"), headers.get("ST"))


def server_product(server: str | None) -> tuple[str | None, str | None]:
    """(product, version) of a SERVER header "OS/version UPnP/x.y product/version" (UDA 1.3.3)."""
    if not server:
        return None, None
    tokens = server.split()
    for at, token in enumerate(tokens):
        if token.upper().startswith("UPNP/") and at + 1 < len(tokens):
            product, _, version = tokens[at + 1].partition("/")
            return product or None, version or None
    return None, None


def https_port(url: str) -> int | None:
    """The port of an https:// URL (443 when none is written), else None."""
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() != "https":
            return None
        return parts.port or 443
    except ValueError:
        return None


def _multicast_socket(interface: str) -> trio.socket.SocketType:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    return sock


async def ws_discovery(interface: str, window: float, pacer: Pacer) -> dict[str, DiscoveryFacts]:
    """address -> the facts of its first ProbeMatch answering our multicast Probe."""
    message_id = f"urn:uuid:{uuid.uuid4()}"
    found: dict[str, DiscoveryFacts] = {}
    with _multicast_socket(interface) as sock:
        await sock.bind((interface, 0))
        with trio.move_on_after(window):
            for _ in range(_SENDS):
                await pacer.take(1)
                await sock.sendto(probe_message(message_id, video_transmitters=True), (GROUP, WSD_PORT))
            while len(found) < 65536:
                try:
                    data, source = await sock.recvfrom(WSD_MAX_DATAGRAM)
                except OSError:
                    continue
                facts = parse_probe_matches(data, message_id)
                if facts is not None:
                    found.setdefault(str(source[0]), facts)
    return found


async def ssdp(interface: str, window: float, pacer: Pacer) -> dict[str, SsdpAnswer]:
    """address -> its first answer to our M-SEARCH."""
    found: dict[str, SsdpAnswer] = {}
    with _multicast_socket(interface) as sock:
        await sock.bind((interface, 0))
        with trio.move_on_after(window):
            for _ in range(_SENDS):
                await pacer.take(1)
                await sock.sendto(msearch(), (GROUP, SSDP_PORT))
            while len(found) < 65536:
                try:
                    data, source = await sock.recvfrom(8192)
                except OSError:
                    continue
                answer = parse_ssdp(data)
                if answer is not None:
                    found.setdefault(str(source[0]), answer)
    return found
