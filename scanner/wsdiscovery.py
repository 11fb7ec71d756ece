"""One unicast WS-Discovery Probe to <address>:3702/udp (device-protocols.md section 2).

The ProbeMatches scopes give MAC, model (hardware), vendor (name) and serial when present. The
XML goes through defusedxml and the datagram is bounded; the parsers are pure, ws_discover is
the thin trio edge.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, replace
from urllib.parse import unquote
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import trio
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from camscan.scanner.idtext import normalize_mac

WSD_PORT = 3702
WSD_MAX_DATAGRAM = 65507
PROBE_ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
MATCHES_ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"
_SCOPE_PREFIX = "onvif://www.onvif.org/"
_SCOPE_FIELDS = {
    "mac": "mac",
    "macaddress": "mac",
    "hardware": "model",
    "name": "vendor",
    "serialnumber": "serial",
    "serial": "serial",
}



@dataclass(frozen=True)
class DiscoveryFacts:
    """What a device's ProbeMatch scopes said about it (raw device text, cleaned later)."""

    mac: str | None = None
    serial: str | None = None
    vendor: str | None = None
    model: str | None = None
    scopes: tuple[str, ...] = ()
    xaddrs: tuple[str, ...] = ()  # the device's service addresses, as announced


def probe_message(message_id: str, *, video_transmitters: bool = False) -> bytes:
    """A WS-Discovery Probe without Types: it matches every target service (WS-Discovery 5.1),
    so an NVR that only advertises tds:Device answers as well as a camera. The multicast
    discovery of `camscan discover` asks for dn:NetworkVideoTransmitter, as ONVIF clients do
    (ONVIF Core Specification section 7.3.2)."""
    types = (
        '<d:Types xmlns:dn="http://www.onvif.org/ver10/network/wsdl">dn:NetworkVideoTransmitter</d:Types>'
        if video_transmitters else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
        "<s:Header>"
        f'<a:Action s:mustUnderstand="1">{PROBE_ACTION}</a:Action>'
        f"<a:MessageID>{escape(message_id)}</a:MessageID>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        "</s:Header>"
        f"<s:Body><d:Probe>{types}</d:Probe></s:Body></s:Envelope>"
    ).encode()


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    return next((c for c in element if _local(c.tag) == name), None)


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def parse_scopes(scopes: str) -> DiscoveryFacts:
    """`onvif://www.onvif.org/<category>/<value>` scopes -> facts (values percent-decoded)."""
    found: dict[str, str] = {}
    listed = tuple(scopes.split())
    for scope in listed:
        if not scope.lower().startswith(_SCOPE_PREFIX):
            continue
        category, _, value = scope[len(_SCOPE_PREFIX) :].partition("/")
        field = _SCOPE_FIELDS.get(category.lower())
        value = unquote(value).strip()
        if field and value and field not in found:
            found[field] = value
    return DiscoveryFacts(
        mac=normalize_mac(found.get("mac")),
        serial=found.get("serial"),
        vendor=found.get("vendor"),
        model=found.get("model"),
        scopes=listed[:32],
    )


def parse_probe_matches(data: bytes, message_id: str) -> DiscoveryFacts | None:
    """The facts in a ProbeMatches answering `message_id`, or None for anything else.

    defusedxml refuses DTDs and entity tricks; a RelatesTo naming another probe is not ours.
    """
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return None
    header, body = _child(root, "Header"), _child(root, "Body")
    if _local(root.tag) != "Envelope" or body is None:
        return None
    if _text(_child(header, "Action")) not in ("", MATCHES_ACTION):
        return None
    relates_to = _text(_child(header, "RelatesTo"))
    if relates_to and relates_to != message_id:
        return None
    match = _child(_child(body, "ProbeMatches"), "ProbeMatch")
    if match is None:
        return None
    facts = parse_scopes(_text(_child(match, "Scopes"))[:16384])
    xaddrs = tuple(_text(_child(match, "XAddrs"))[:16384].split()[:16])
    return replace(facts, xaddrs=xaddrs) if xaddrs else facts


async def ws_discover(address: str, timeout: float) -> DiscoveryFacts | None:
    """One unicast Probe to address:3702; the first ProbeMatches answering it, within `timeout`.

    The socket is connected, so only the device's own address can answer, and a host with
    nothing on 3702 ends the wait at once (the ICMP port-unreachable surfaces as ECONNREFUSED).
    """
    message_id = f"urn:uuid:{uuid.uuid4()}"
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with trio.socket.socket(family, socket.SOCK_DGRAM) as sock, trio.move_on_after(timeout):
        try:
            await sock.connect((address, WSD_PORT))
            await sock.send(probe_message(message_id))
            while True:
                data = await sock.recv(WSD_MAX_DATAGRAM)
                facts = parse_probe_matches(data, message_id)
                if facts is not None:
                    return facts
        except OSError:
            return None
    return None
