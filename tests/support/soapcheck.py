"""Every SOAP message between camscan's drivers and the lab, checked against the official ONVIF
schemas (tests/data/onvif, see its README for sources and licences).

Two schema sets, each built once per test session as XSD 1.1 (the current set's XSD 1.0 build
fails on a Unique Particle Attribution violation in ONVIF's own schemas):
- "current": devicemgmt.wsdl and advancedsecurity.wsdl of github.com/onvif/specs;
- "1.0.2": Advanced Security 1.0.2 with its devicemgmt.wsdl and onvif.xsd (the set shipped in the
  onvif-zeep-async wheel), for the tas messages of a device in that flavour.
The SOAP 1.2 envelope namespace, which onvif.xsd imports, comes from a local schema
(imports/soap12-envelope.xsd): the tests run without a network.

A message passes when its envelope matches SOAP 1.2 and every Body child is a global element of
the set and valid against it. Axis's `aweb:` web-server messages have no published schema: their
envelope is checked and they are counted apart.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
import xmlschema

DATA = Path(__file__).resolve().parent.parent / "data" / "onvif"
IMPORTS = DATA / "imports"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TAS = "http://www.onvif.org/ver10/advancedsecurity/wsdl"
AXIS = ("http://www.axis.com/vapix/ws/webserver",)
SETS = {"current": DATA / "current", "1.0.2": DATA / "as-1.0.2"}
# Where the schemas' imports point (URLs or relative names) -> the local copy.
LOCAL = {
    "xmlmime": IMPORTS / "xmlmime",
    "include": IMPORTS / "include",
    "soap-envelope": IMPORTS / "soap12-envelope.xsd",
    "envelope": IMPORTS / "envelope",
    "b-2.xsd": IMPORTS / "b-2.xsd",
    "bf-2.xsd": IMPORTS / "bf-2.xsd",
    "t-1.xsd": IMPORTS / "t-1.xsd",
    "ws-addr.xsd": IMPORTS / "ws-addr.xsd",
    "xml.xsd": IMPORTS / "xml.xsd",
}


def _wsdl_schema(path: Path) -> str:
    """The xs:schema of a WSDL's types, carrying the WSDL root's namespace declarations (its
    QName-valued attributes use prefixes declared only there)."""
    raw = path.read_text(encoding="utf-8")
    root = re.search(r"<wsdl:definitions[^>]*>", raw, re.S)
    assert root is not None, path
    declared = dict(re.findall(r'xmlns:([\w.-]+)="([^"]*)"', root.group(0)))
    schema = raw[raw.index("<xs:schema") : raw.index("</xs:schema>") + len("</xs:schema>")]
    head, rest = schema.split(">", 1)
    extra = "".join(f' xmlns:{p}="{u}"' for p, u in declared.items() if f"xmlns:{p}=" not in head)
    return f"{head}{extra}>{rest}"


@functools.cache
def schema_set(name: str) -> xmlschema.XMLSchema11:
    folder = SETS[name]

    def local_uri(uri: str) -> str:
        base = uri.rsplit("/", 1)[-1]
        if base in ("onvif.xsd", "common.xsd"):
            return (folder / base).as_uri()
        target = LOCAL.get(base)
        return target.as_uri() if target is not None else uri

    sources: list[Any] = [_wsdl_schema(folder / w) for w in ("devicemgmt.wsdl", "advancedsecurity.wsdl")]
    if name == "1.0.2":  # its onvif.xsd imports SOAP 1.1 only; messages are SOAP 1.2
        sources.append((IMPORTS / "soap12-envelope.xsd").as_uri())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # type-table notes on ONVIF's own schemas, not errors
        return xmlschema.XMLSchema11(sources, uri_mapper=local_uri, base_url=str(folder), allow="local")


@dataclass
class Tally:
    bodies: int = 0  # driver -> lab Body children validated
    answers: int = 0  # lab -> driver Body children validated
    vendor_only: int = 0  # Axis aweb messages: envelope checked, no published schema for the body
    problems: list[str] = field(default_factory=list)


TALLY = Tally()


def _errors(schema: xmlschema.XMLSchema11, element: Element, namespaces: dict[str, str]) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errors = schema.iter_errors(element, namespaces=namespaces)
        return [str(e.reason or e.message).splitlines()[0] for e in errors][:3]


def _namespaces(data: bytes) -> dict[str, str]:
    """The prefixes the message declares (QName values such as fault codes use them)."""
    declared: dict[str, str] = {}
    for _, (prefix, uri) in DET.iterparse(io.BytesIO(data), events=("start-ns",), forbid_dtd=True):
        declared.setdefault(prefix, uri)
    return declared


def check(data: bytes, flavour: str, direction: str, where: str, tally: Tally | None = None) -> list[str]:
    """Problems with one SOAP message (empty when it conforms); counted in `tally` (the run's)."""
    tally = TALLY if tally is None else tally
    try:
        root: Element = DET.fromstring(data, forbid_dtd=True)
    except (DET.ParseError, ValueError) as exc:
        return [f"{where}: {direction} is not XML: {exc}"]
    current = schema_set("current")
    if root.tag != f"{{{SOAP12}}}Envelope":
        return [f"{where}: {direction} is not a SOAP 1.2 envelope"]
    namespaces = _namespaces(data)
    body = root.find(f"{{{SOAP12}}}Body")
    children = list(body) if body is not None else []
    for child in children:  # the envelope alone first; each Body child strictly below
        body.remove(child)  # type: ignore[union-attr]
    problems = [f"{where}: {direction} envelope: {e}" for e in _errors(current, root, namespaces)]
    for child in children:
        namespace = child.tag[1:].split("}", 1)[0]
        if namespace in AXIS:
            tally.vendor_only += 1
            continue
        schema = schema_set("1.0.2") if namespace == TAS and flavour == "1.0.2" else current
        name = child.tag.rsplit("}", 1)[-1]
        if child.tag not in schema.maps.elements:
            problems.append(f"{where}: {direction} {name}: no global element in the {flavour} ONVIF schemas")
            continue
        problems += [f"{where}: {direction} {name}: {e}" for e in _errors(schema, child, namespaces)]
        if direction == "body":
            tally.bodies += 1
        else:
            tally.answers += 1
    return problems


SOAP_PATHS = ("/onvif/device_service", "/onvif/security", "/vapix/services")


def install(monkeypatch: Any, *, requests: bool) -> list[str]:
    """Check every SOAP answer the lab sends (and, with `requests`, every SOAP body it receives:
    in the remediation tests those come from camscan's drivers only). Returns the problem list
    the caller asserts empty."""
    from camscan.lab.device import Device

    problems: list[str] = []
    original = Device.dispatch

    async def dispatch(device: Device, request: Any) -> Any:
        response = await original(device, request)
        if request.path in SOAP_PATHS and request.method == "POST":
            flavour = device.settings.onvif_security
            where = f"{device.personality.name} {request.path}"
            if requests:
                problems.extend(check(request.body, flavour, "body", where))
            if "soap+xml" in response.content_type:
                problems.extend(check(response.body, flavour, "answer", where))
        return response

    monkeypatch.setattr(Device, "dispatch", dispatch)
    return problems
