"""WS-Discovery: a unicast Probe to a device's 127.x:3702 gets a ProbeMatches (section 2)."""

from __future__ import annotations

import socket
import uuid

import trio

from camscan.lab import Lab
from camscan.lab.discovery import answer_to
from camscan.lab.personalities.xmlutil import parse, text_local
from tests.lab.conftest import first

PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
  xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
 <s:Header>
  <a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>
  <a:MessageID>{message_id}</a:MessageID>
  <a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
 </s:Header>
 <s:Body><d:Probe>{types}</d:Probe></s:Body>
</s:Envelope>"""


def probe(message_id: str, types: str = "<d:Types>dn:NetworkVideoTransmitter</d:Types>") -> bytes:
    return PROBE.format(message_id=message_id, types=types).encode()


async def test_unicast_probe_gets_probe_matches(lab: Lab) -> None:
    device = first(lab, personality="hikvision")
    message_id = f"urn:uuid:{uuid.uuid4()}"
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        await sock.bind(("127.0.0.1", 0))
        await sock.sendto(b"<not xml", (device.ip, 3702))  # ignored, not fatal
        await sock.sendto(probe(message_id), (device.ip, 3702))
        with trio.fail_after(5):
            data, source = await sock.recvfrom(65507)
    assert source == (device.ip, 3702)
    doc = parse(data)
    assert text_local(doc, "Header", "RelatesTo") == message_id
    match = ("Body", "ProbeMatches", "ProbeMatch")
    assert text_local(doc, *match, "XAddrs").split() == [
        f"http://{device.ip}:{device.http_port}/onvif/device_service",
        f"https://{device.ip}:{device.https_port}/onvif/device_service",
    ]
    scopes = text_local(doc, *match, "Scopes").split()
    assert f"onvif://www.onvif.org/MAC/{device.identity.mac}" in scopes
    assert f"onvif://www.onvif.org/hardware/{device.identity.model}" in scopes
    assert device.errors == []


def test_which_probes_are_answered() -> None:
    assert answer_to(probe("urn:uuid:1")) == "urn:uuid:1"
    assert answer_to(probe("urn:uuid:2", types="")) == "urn:uuid:2"  # no Types: matches all
    assert answer_to(probe("urn:uuid:3", types="<d:Types>dn:Printer</d:Types>")) is None
    assert answer_to(probe("x").replace(b"/Probe<", b"/Hello<")) is None
    assert answer_to(b"\x00\x01garbage") is None
    assert answer_to(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>') is None  # defusedxml refuses DTDs

