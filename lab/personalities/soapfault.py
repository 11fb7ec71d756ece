"""The SOAP 1.2 side of the lab's ONVIF (and Axis /vapix/services) answers: envelopes and faults.

Faults follow ONVIF Core "SOAP errors": HTTP 500 (400 for a malformed request),
`s:Fault/s:Code/s:Value` Sender or Receiver with nested `s:Subcode/s:Value=ter:...`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from camscan.lab.httpserver import Response

if TYPE_CHECKING:
    from camscan.lab.device import Device

SOAP = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TAS = "http://www.onvif.org/ver10/advancedsecurity/wsdl"
CONTENT_TYPE = "application/soap+xml; charset=utf-8"

_NS = (f'xmlns:s="{SOAP}" xmlns:tds="{TDS}" xmlns:tt="http://www.onvif.org/ver10/schema" '
       f'xmlns:tas="{TAS}" xmlns:ter="http://www.onvif.org/ver10/error"')


class Fault(Exception):
    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str, status: int = 500) -> None:
        super().__init__(reason)
        self.code, self.subcodes, self.reason, self.status = code, subcodes, reason, status


def envelope(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope {_NS}><s:Body>{body}</s:Body></s:Envelope>'


def soap(body: str, status: int = 200, **kw: object) -> Response:
    return Response.xml(envelope(body), status, content_type=CONTENT_TYPE, **kw)


def fault_response(fault: Fault) -> Response:
    sub = ""
    for code in reversed(fault.subcodes):
        sub = f"<s:Subcode><s:Value>{code}</s:Value>{sub}</s:Subcode>"
    body = (f"<s:Fault><s:Code><s:Value>s:{fault.code}</s:Value>{sub}</s:Code>"
            f'<s:Reason><s:Text xml:lang="en">{escape(fault.reason)}</s:Text></s:Reason></s:Fault>')
    return soap(body, fault.status)


def bad_arg(name: str, reason: str) -> Fault:
    return Fault("Sender", ("ter:InvalidArgVal", f"ter:{name}"), reason)


def datetime_xml(tag: str, moment: dt.datetime) -> str:
    return (f"<tt:{tag}><tt:Time><tt:Hour>{moment.hour}</tt:Hour><tt:Minute>{moment.minute}</tt:Minute>"
            f"<tt:Second>{moment.second}</tt:Second></tt:Time><tt:Date><tt:Year>{moment.year}</tt:Year>"
            f"<tt:Month>{moment.month}</tt:Month><tt:Day>{moment.day}</tt:Day></tt:Date></tt:{tag}>")


Op = Callable[["Device", Element], Awaitable[Response]]
