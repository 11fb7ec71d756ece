"""Axis-like VAPIX (device-protocols.md section 5): JSON CGIs, the certificate REST API and the
web-server TLS binding over SOAP (/vapix/services).

Quirks kept: JSON CGIs answer errors with HTTP 200 and an `error{code,message}` object; the
certificate API lives under /config/rest/cert/v1 or, on older firmware, v1beta (per device), and
the other one answers 404 `{"status":"error","error":{"code":1,...}}`. A certificate is served
only once bound to HTTPS with aweb:SetWebServerTlsConfiguration, as on AXIS OS 11-12.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.lab.certs import key_matches, load_private_key
from camscan.lab.firmware import CertificateRejected
from camscan.lab.httpserver import Request, Response
from camscan.lab.identity import Identity
from camscan.lab.personalities.base import Personality
from camscan.lab.personalities.onvif import CONTENT_TYPE, envelope
from camscan.lab.personalities.xmlutil import ParseError, all_local, el, local, parse

if TYPE_CHECKING:
    from camscan.lab.device import Device

KEY_TYPES = {"EC-P256": "ec-p256", "NIST-P256": "ec-p256", "EC-P384": "ec-p384", "RSA-2048": "rsa-2048"}


def _aliases(device: Device) -> dict[str, x509.Certificate]:
    store = device.personality_state.setdefault("axis_aliases", {})
    assert isinstance(store, dict)
    return store


def _cgi_error(method: str, code: int, message: str, api: str = "1.0") -> Response:
    error = {"code": code, "message": message}
    return Response.json_body({"apiVersion": api, "method": method, "error": error})


def _rest(status: int, data: Any = None, error: tuple[int, str] | None = None) -> Response:
    body: dict[str, Any] = {"status": "error" if error else "success"}
    if data is not None:
        body["data"] = data
    if error:
        body["error"] = {"code": error[0], "message": error[1]}
    return Response.json_body(body, status)


def _names(subject: str, sans: list[str]) -> tuple[str, list[str], list[str]]:
    cn = ""
    for part in subject.split(","):
        key, _, value = part.strip().partition("=")
        if key.upper() == "CN":
            cn = value.strip()
    ips = [s[3:] for s in sans if s.upper().startswith("IP:")]
    dns = [s[4:] for s in sans if s.upper().startswith("DNS:")]
    return cn, ips, dns


def _current_names(cert: x509.Certificate) -> tuple[str, list[str], list[str]]:
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return (str(cns[0].value) if cns else ""), [], []
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return (str(cns[0].value) if cns else ""), ips, san.get_values_for_type(x509.DNSName)


class Axis(Personality):
    name = "axis"

    def realm(self, identity: Identity) -> str:
        return f"AXIS_{identity.mac_bare}"

    async def vendor_api(self, device: Device, request: Request) -> Response | None:
        path = request.path
        if not (path.startswith(("/axis-cgi/", "/config/rest/")) or path == "/vapix/services"):
            return None
        denied = device.require_digest(request)
        if denied is not None:
            return denied
        if path.startswith("/config/rest/cert/"):
            return rest_cert(device, request)
        if path == "/vapix/services":
            return vapix_services(device, request)
        if path == "/axis-cgi/restart.cgi":
            return Response.text("OK\n", after=device.schedule_reboot)
        handler = CGIS.get(path)
        if handler is None:
            return Response.text("Not Found\n", 404)
        if request.method != "POST":
            return _cgi_error("", 2002, "HTTP request type not supported. Only POST is supported")
        try:
            call = request.json()
            method = str(call["method"])
        except (ValueError, KeyError, TypeError):
            return _cgi_error("", 4000, "Invalid JSON")
        if not str(call.get("apiVersion", "1.0")).startswith("1."):
            return _cgi_error(method, 2003, "The requested API version is not supported")
        return handler(device, method, call.get("params") or {}, str(call.get("apiVersion", "1.0")))


def basic_device_info(device: Device, method: str, params: dict[str, Any], api: str) -> Response:
    if method == "getSupportedVersions":
        return Response.json_body({"apiVersion": api, "method": method, "data": {"apiVersions": ["1.1"]}})
    if method not in ("getAllProperties", "getAllUnrestrictedProperties"):
        return _cgi_error(method, 2001, "Method not supported", api)
    i = device.identity
    props = {"Architecture": "armv7hf", "Brand": "AXIS", "BuildDate": "Apr 29 2020 06:50",
             "HardwareID": "70E", "ProdFullName": f"AXIS {i.model} Network Camera", "ProdNbr": i.model,
             "ProdShortName": f"AXIS {i.model}", "ProdType": "Network Camera", "ProdVariant": "",
             "SerialNumber": i.serial, "Soc": "Axis Artpec-6", "SocSerialNumber": "", "Version": i.firmware,
             "WebURL": "http://www.axis.com"}
    return Response.json_body({"apiVersion": api, "method": method, "data": {"propertyList": props}})


def time_cgi(device: Device, method: str, params: dict[str, Any], api: str) -> Response:
    if method == "getDateTimeInfo":
        now = device.clock.now().replace(microsecond=0)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        return Response.json_body({"apiVersion": api, "method": method, "data": {
            "dateTime": stamp, "localDateTime": stamp, "timeZone": "UTC", "dstEnabled": False,
            "maxYearSupported": 2037}})
    if method == "setDateTime":
        try:
            moment = dt.datetime.fromisoformat(str(params["dateTime"]).replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("no zone")
        except (KeyError, ValueError):
            return _cgi_error(method, 2004, "Invalid parameter: dateTime", api)
        device.set_clock(moment)
        return Response.json_body({"apiVersion": api, "method": method, "data": {}})
    return _cgi_error(method, 2001, "Method not supported", api)


def network_settings(device: Device, method: str, params: dict[str, Any], api: str) -> Response:
    if method != "getNetworkInfo":
        return _cgi_error(method, 2001, "Method not supported", api)
    return Response.json_body({"apiVersion": api, "method": method, "data": {"devices": [{
        "name": "eth0", "macAddress": device.identity.mac,
        "IPv4": {"configurationMode": "static",
                 "addresses": [{"address": device.ip, "prefixLength": 16, "origin": "manual"}]}}]}})


def system_ready(device: Device, method: str, params: dict[str, Any], api: str) -> Response:
    return Response.json_body({"apiVersion": api, "method": method, "data": {
        "systemready": "yes", "needsetup": "no", "uptime": str(int(device.uptime)),
        "bootid": f"{device.boot_count:08x}"}})


CGIS = {
    "/axis-cgi/basicdeviceinfo.cgi": basic_device_info,
    "/axis-cgi/time.cgi": time_cgi,
    "/axis-cgi/network_settings.cgi": network_settings,
    "/axis-cgi/systemready.cgi": system_ready,
}


def rest_cert(device: Device, request: Request) -> Response:
    prefix = f"/config/rest/cert/{device.settings.axis_cert_api}/"
    if not request.path.startswith(prefix):
        return _rest(404, error=(1, f"Resource not found: {request.path}"))
    parts = [unquote(p) for p in request.path[len(prefix):].split("/") if p]
    aliases = _aliases(device)
    try:
        data = request.json().get("data", {}) if request.body.strip() else {}
    except (ValueError, AttributeError):
        return _rest(400, error=(4000, "Invalid JSON"))
    firmware = device.firmware
    if parts == ["certificates"] and request.method == "GET":
        return _rest(200, [{"alias": a, "certificate": c.public_bytes(serialization.Encoding.PEM).decode(),
                            "keystore": "SE0"} for a, c in aliases.items()])
    if parts == ["create_certificate"] and request.method == "POST":
        kind = KEY_TYPES.get(str(data.get("key_type", "EC-P256")))
        alias = str(data.get("alias", ""))
        if not alias or kind is None or "subject" not in data:
            return _rest(400, error=(2, "Invalid parameter: alias, subject or key_type"))
        cn, ips, dns = _names(str(data["subject"]), list(data.get("subject_alt_names", [])))
        key = pki.new_key(kind)
        firmware.keystore.add_key(key)
        aliases[alias] = pki.make_leaf(None, common_name=cn or device.ip, ips=ips, dns=dns, key=key).cert
        return _rest(200)
    if parts == ["certificates"] and request.method == "POST":
        try:
            chain = x509.load_pem_x509_certificates(str(data["certificate"]).encode())
            key = load_private_key(str(data["private_key"]).encode())
        except (KeyError, ValueError, TypeError):
            return _rest(400, error=(3, "Invalid certificate or private key"))
        if not key_matches(chain[0], key):
            return _rest(400, error=(3, "The private key does not match the certificate"))
        firmware.keystore.add_key(key)
        aliases[str(data.get("alias", "uploaded"))] = chain[0]
        return _rest(200)
    if len(parts) == 3 and parts[0] == "certificates" and parts[2] == "get_csr" and request.method == "POST":
        cert = aliases.get(parts[1])
        key_id = firmware.keystore.key_for(cert) if cert is not None else None
        if key_id is None:
            return _rest(404, error=(1, f"Resource not found: {parts[1]}"))
        assert cert is not None
        cn, ips, dns = _names(str(data.get("subject", "")), list(data.get("subject_alt_names", [])))
        if "subject" not in data:  # default: the alias's own subject and SANs
            cn, ips, dns = _current_names(cert)
        csr = firmware.csr(key_id, cn or device.ip, ips=ips, dns=dns)
        return _rest(200, csr.public_bytes(serialization.Encoding.PEM).decode())
    if len(parts) == 2 and parts[0] == "certificates":
        if parts[1] not in aliases:
            return _rest(404, error=(1, f"Resource not found: {parts[1]}"))
        if request.method == "PATCH":
            try:
                new = x509.load_pem_x509_certificates(str(data["certificate"]).encode())
            except (KeyError, ValueError):
                return _rest(400, error=(3, "Invalid certificate"))
            if firmware.keystore.key_for(new[0]) != firmware.keystore.key_for(aliases[parts[1]]):
                return _rest(400, error=(3, "The certificate does not match the alias's key"))
            aliases[parts[1]] = new[0]
            if device.personality_state.get("axis_https") == parts[1]:
                firmware.install_signed(new)
            return _rest(200)
        if request.method == "DELETE":
            del aliases[parts[1]]
            return _rest(200)
        if request.method == "GET":
            pem = aliases[parts[1]].public_bytes(serialization.Encoding.PEM).decode()
            return _rest(200, {"alias": parts[1], "certificate": pem, "keystore": "SE0"})
    return _rest(404, error=(1, f"Resource not found: {request.path}"))


def vapix_services(device: Device, request: Request) -> Response:
    try:
        root = parse(request.body)
        op = next(iter(next(c for c in root if local(c.tag) == "Body")))
    except (ParseError, ValueError, StopIteration):
        return Response.xml(envelope("<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code>"
                                     '<s:Reason><s:Text xml:lang="en">malformed request</s:Text></s:Reason>'
                                     "</s:Fault>"), 400, content_type=CONTENT_TYPE)
    ns = 'xmlns:aweb="http://www.axis.com/vapix/ws/webserver" xmlns:acert="http://www.axis.com/vapix/ws/cert"'
    if local(op.tag) == "GetWebServerTlsConfiguration":
        bound = device.personality_state.get("axis_https", "default")
        body = (f'<aweb:GetWebServerTlsConfigurationResponse {ns}><aweb:Configuration name="WebServer">'
                "<aweb:Tls>true</aweb:Tls><aweb:ConnectionPolicies><aweb:Admin>HttpAndHttps</aweb:Admin>"
                "</aweb:ConnectionPolicies><aweb:CertificateSet><acert:Certificates>"
                f"{el('acert:Id', bound)}</acert:Certificates></aweb:CertificateSet></aweb:Configuration>"
                "</aweb:GetWebServerTlsConfigurationResponse>")
        return Response.xml(envelope(body), content_type=CONTENT_TYPE)
    if local(op.tag) == "SetWebServerTlsConfiguration":
        ids = [(e.text or "").strip() for e in all_local(op, "Id")]
        aliases = _aliases(device)
        if not ids or ids[0] not in aliases:
            return Response.xml(envelope("<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code>"
                                         '<s:Reason><s:Text xml:lang="en">unknown certificate id</s:Text>'
                                         "</s:Reason></s:Fault>"), 500, content_type=CONTENT_TYPE)
        try:
            device.firmware.install_signed([aliases[ids[0]]])
        except CertificateRejected as exc:
            return Response.xml(envelope(f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code>"
                                         f'<s:Reason><s:Text xml:lang="en">{json.dumps(str(exc))[1:-1]}'
                                         "</s:Text></s:Reason></s:Fault>"), 500, content_type=CONTENT_TYPE)
        device.personality_state["axis_https"] = ids[0]
        return Response.xml(envelope(f"<aweb:SetWebServerTlsConfigurationResponse {ns}/>"),
                            content_type=CONTENT_TYPE)
    return Response.xml(envelope("<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code>"
                                 '<s:Reason><s:Text xml:lang="en">not supported</s:Text>'
                                 "</s:Reason></s:Fault>"), 500, content_type=CONTENT_TYPE)
