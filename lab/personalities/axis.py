"""Axis-like VAPIX (device-protocols.md section 5): JSON CGIs, the certificate REST API and the
web-server TLS binding over SOAP (/vapix/services).

Quirks kept: JSON CGIs answer errors with HTTP 200 and an `error{code,message}` object; the
certificate API lives under /config/rest/cert/v1 or, on older firmware, v1beta (per device), and
the other one answers 404 `{"status":"error","error":{"code":1,...}}`; `GET /config/discover/apis`
lists which one the device has. A certificate is served only once bound to HTTPS with
aweb:SetWebServerTlsConfiguration, as on AXIS OS 11-12, and the device refuses a TLS
configuration that does not carry its own cipher list and connection policy (fault
InvalidCertificateConfigurationFault, as public clients report), or names a certificate or CA
certificate it does not hold. The `/config/discover/apis` answer shape is the lab's reading of
Axis's Device Configuration API discovery ([?]: only the API name and version keys are relied on).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.lab.certs import Credentials, key_matches, load_private_key
from camscan.lab.firmware import CertificateRejected
from camscan.lab.httpserver import Request, Response
from camscan.lab.identity import Identity
from camscan.lab.personalities.base import Personality
from camscan.lab.personalities.soapfault import CONTENT_TYPE, envelope
from camscan.lab.personalities.xmlutil import ParseError, all_local, el, find_local, local, parse

if TYPE_CHECKING:
    from camscan.lab.device import Device

DISCOVERY = "/config/discover/apis"
CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
           "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305")
NS = 'xmlns:aweb="http://www.axis.com/vapix/ws/webserver" xmlns:acert="http://www.axis.com/vapix/ws/cert"'
KEY_TYPES = {"EC-P256": "ec-p256", "NIST-P256": "ec-p256", "EC-P384": "ec-p384", "RSA-2048": "rsa-2048"}


def _aliases(device: Device) -> dict[str, x509.Certificate]:
    store = device.personality_state.setdefault("axis_aliases", {})
    assert isinstance(store, dict)
    return store


def _cas(device: Device) -> dict[str, x509.Certificate]:
    store = device.personality_state.setdefault("axis_ca", {})
    assert isinstance(store, dict)
    return store


def _tls(device: Device) -> dict[str, Any]:
    """The web server's TLS configuration as the device keeps it."""
    state = device.personality_state.setdefault("axis_tls", {
        "admin": "HttpAndHttps", "ciphers": list(CIPHERS), "cert": "default", "cas": [], "trusted": []})
    assert isinstance(state, dict)
    return state


def discover_apis(device: Device, request: Request) -> Response:
    if request.method != "GET":
        return _rest(405, error=(2, "Method not allowed"))
    api = device.settings.axis_cert_api
    return _rest(200, {"cert": {api: {"state": "released" if api == "v1" else "beta"}},
                       "time": {"v2": {"state": "released"}}})


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
        if not (path.startswith(("/axis-cgi/", "/config/rest/")) or path in ("/vapix/services", DISCOVERY)):
            return None
        denied = device.require_digest(request)
        if denied is not None:
            return denied
        if path == DISCOVERY:
            return discover_apis(device, request)
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
        return Response.json_body({"apiVersion": api, "method": method, "data": {
            "dateTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "localDateTime": device.time.local(now).isoformat(), "posixTimeZone": device.time.tz,
            "dstEnabled": device.time.dst, "maxYearSupported": 2037}})
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
    if parts == ["ca_certificates"] and request.method == "GET":
        return _rest(200, [{"alias": a, "certificate": c.public_bytes(serialization.Encoding.PEM).decode()}
                           for a, c in _cas(device).items()])
    if parts == ["ca_certificates"] and request.method == "POST":
        try:
            ca = x509.load_pem_x509_certificate(str(data["certificate"]).encode())
            alias = str(data["alias"])
        except (KeyError, ValueError, TypeError):
            return _rest(400, error=(3, "Invalid certificate"))
        if alias in _cas(device):
            return _rest(400, error=(4, f"Alias already exists: {alias}"))
        _cas(device)[alias] = ca
        return _rest(200)
    if parts == ["create_certificate"] and request.method == "POST":
        kind = KEY_TYPES.get(str(data.get("key_type", "EC-P256")))
        alias = str(data.get("alias", ""))
        if not alias or kind is None or "subject" not in data:
            return _rest(400, error=(2, "Invalid parameter: alias, subject or key_type"))
        if alias in aliases:
            return _rest(400, error=(4, f"Alias already exists: {alias}"))
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
            # A certificate the web server is bound to is not pulled from under it (public
            # clients check the same before DELETE); the key goes with the alias.
            if device.personality_state.get("axis_https") == parts[1]:
                return _rest(400, error=(5, f"Certificate in use: {parts[1]}"))
            if firmware.refuses_deletes:
                return _rest(400, error=(6, firmware.refuses_deletes))
            key_id = firmware.keystore.key_for(aliases.pop(parts[1]))
            if key_id is not None:
                del firmware.keystore.keys[key_id]
            return _rest(200)
        if request.method == "GET":
            pem = aliases[parts[1]].public_bytes(serialization.Encoding.PEM).decode()
            return _rest(200, {"alias": parts[1], "certificate": pem, "keystore": "SE0"})
    return _rest(404, error=(1, f"Resource not found: {request.path}"))


def _fault(code: str, reason: str, subcode: str = "") -> Response:
    declare = ' xmlns:aweb="http://www.axis.com/vapix/ws/webserver"' if subcode.startswith("aweb:") else ""
    sub = f"<s:Subcode><s:Value{declare}>{subcode}</s:Value></s:Subcode>" if subcode else ""
    return Response.xml(envelope(f"<s:Fault><s:Code><s:Value>s:{code}</s:Value>{sub}</s:Code>"
                                 f'<s:Reason><s:Text xml:lang="en">{escape(reason)}</s:Text></s:Reason>'
                                 "</s:Fault>"), 500 if code == "Receiver" else 400, content_type=CONTENT_TYPE)


def _ids(parent: Element | None) -> list[str]:
    return [(e.text or "").strip() for e in (parent if parent is not None else []) if local(e.tag) == "Id"]


def get_tls_configuration(device: Device) -> Response:
    tls = _tls(device)
    ciphers = "".join(el("acert:Cipher", c) for c in tls["ciphers"])
    cas = "".join(el("acert:Id", c) for c in tls["cas"])
    trusted = "".join(el("acert:Id", c) for c in tls["trusted"])
    body = (f'<aweb:GetWebServerTlsConfigurationResponse {NS}><aweb:Configuration name="WebServer">'
            f"<aweb:Tls>true</aweb:Tls><aweb:ConnectionPolicies>{el('aweb:Admin', tls['admin'])}"
            f"</aweb:ConnectionPolicies><aweb:Ciphers>{ciphers}</aweb:Ciphers><aweb:CertificateSet>"
            f"<acert:Certificates>{el('acert:Id', tls['cert'])}</acert:Certificates>"
            f"<acert:CACertificates>{cas}</acert:CACertificates>"
            f"<acert:TrustedCertificates>{trusted}</acert:TrustedCertificates></aweb:CertificateSet>"
            "</aweb:Configuration></aweb:GetWebServerTlsConfigurationResponse>")
    return Response.xml(envelope(body), content_type=CONTENT_TYPE)


def set_tls_configuration(device: Device, op: Element) -> Response:
    config = find_local(op, "Configuration")
    if config is None:
        return _fault("Sender", "no Configuration")
    tls = _tls(device)
    ciphers = [(c.text or "").strip() for c in all_local(config, "Cipher")]
    admin = find_local(config, "ConnectionPolicies", "Admin")
    if ciphers != tls["ciphers"] or admin is None:
        return _fault("Sender", "the cipher list and connection policies must match the device's",
                      "aweb:InvalidCertificateConfigurationFault")
    ids = _ids(find_local(config, "CertificateSet", "Certificates"))
    cas = _ids(find_local(config, "CertificateSet", "CACertificates"))
    aliases = _aliases(device)
    known = len(ids) == 1 and (ids[0] in aliases or ids[0] == "default")
    if not known or any(c not in _cas(device) for c in cas):
        return _fault("Sender", "unknown certificate id", "aweb:InvalidCertificateConfigurationFault")
    if tls["cert"] == "default":
        device.served()  # commissioned: what "default" means on this unit
        device.personality_state["axis_default"] = device.firmware.installed
    try:
        if ids[0] == "default":
            saved = device.personality_state.get("axis_default")
            device.firmware.installed = saved if isinstance(saved, Credentials) else None
            device.firmware.generation += 1
        else:
            device.firmware.install_signed([aliases[ids[0]], *(_cas(device)[c] for c in cas)])
    except CertificateRejected as exc:
        return _fault("Receiver", str(exc))
    tls.update(admin=(admin.text or "").strip(), cert=ids[0], cas=cas,
               trusted=_ids(find_local(config, "CertificateSet", "TrustedCertificates")))
    device.personality_state["axis_https"] = ids[0]
    done = f"<aweb:SetWebServerTlsConfigurationResponse {NS}/>"
    return Response.xml(envelope(done), content_type=CONTENT_TYPE)


def vapix_services(device: Device, request: Request) -> Response:
    try:
        root = parse(request.body)
        op = next(iter(next(c for c in root if local(c.tag) == "Body")))
    except (ParseError, ValueError, StopIteration):
        return _fault("Sender", "malformed request")
    if local(op.tag) == "GetWebServerTlsConfiguration":
        return get_tls_configuration(device)
    if local(op.tag) == "SetWebServerTlsConfiguration":
        return set_tls_configuration(device, op)
    return _fault("Receiver", "not supported", "ter:ActionNotSupported")
