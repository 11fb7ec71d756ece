"""Axis VAPIX (the calls and their sources: docs/drivers.md): JSON CGIs, the certificate REST API and the
web server's TLS configuration over SOAP.

Sources (cited in docs/drivers.md):
- Certificate management (Device Configuration API `cert`),
  https://developer.axis.com/vapix/device-configuration/certificate-management/ :
  `create_certificate`, `certificates/<alias>/get_csr`, `PATCH certificates/<alias>`,
  `POST certificates` (certificate + private key), `POST ca_certificates`.
- Device Configuration API discovery, https://developer.axis.com/vapix/device-configuration/device-configuration-apis
  (`GET /config/discover/apis`): which version of `cert` the device has (v1 from AXIS OS 11.11,
  v1beta before), read instead of probed.
- Certificate management API (SOAP),
  https://developer.axis.com/vapix/network-video/certificate-management-api :
  `aweb:GetWebServerTlsConfiguration` / `aweb:SetWebServerTlsConfiguration` on /vapix/services.
  Axis's example sends ConnectionPolicies and Ciphers with the certificate set, and devices
  answer InvalidCertificateConfigurationFault when the cipher list is not their own (public
  clients, e.g. AxisPowershell Set-AxisWebServerCertificate). So the driver reads the whole
  configuration and sends it back with only the certificate id changed (and the CA
  certificates it installed added); rollback sends the configuration it read, unchanged.
- Removing a certificate: the same Certificate Management page ("fetch, replace and remove
  existing certificates"): `DELETE /config/rest/cert/<version>/certificates/<alias>`, as public
  clients send it (AxisPowershell Remove-AxisCertificate, which also refuses to delete the
  certificate bound to HTTPS). After a verified renewal the driver deletes the alias the web
  server was bound to before, only when camscan named it (camscan-https...), it holds the
  certificate the device served before, and the web server is bound elsewhere now.
- Time API, https://developer.axis.com/vapix/network-video/time-api : `setDateTime` takes UTC
  and leaves the zone alone.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan.pki import PrivateKey
from camscan.remediate.ca import key_pem
from camscan.remediate.drivers.base import DriverError, Kept
from camscan.remediate.drivers.onvif import DeviceTime, OnvifDriver, find
from camscan.remediate.drivers.soap import local

ALIAS = "camscan-https"
WEBSERVER = "http://www.axis.com/vapix/ws/webserver"
CERT_NS = "http://www.axis.com/vapix/ws/cert"
API_VERSIONS = ("v1", "v1beta")  # released first


def new_alias() -> str:
    """A fresh alias per install: a renewal goes in beside the certificate it replaces."""
    return f"{ALIAS}-{int(dt.datetime.now(dt.UTC).timestamp())}-{secrets.token_hex(2)}"


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def cert_api_versions(discovery: Any) -> set[str]:
    """The versions of the `cert` API a `/config/discover/apis` answer lists."""
    data = discovery.get("data", discovery) if isinstance(discovery, dict) else discovery
    found: set[str] = set()
    if isinstance(data, dict):
        entry = data.get("cert")
        if isinstance(entry, dict):
            found |= {v for v in entry if v in API_VERSIONS}
        elif isinstance(entry, list):
            found |= {str(v) for v in entry if str(v) in API_VERSIONS}
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and item.get("name", item.get("id")) == "cert":
                found |= {str(item.get("version"))} & set(API_VERSIONS)
    return found


def with_certificate(configuration: Element, alias: str, ca_aliases: Sequence[str]) -> str:
    """The device's own TLS configuration, serialized, with only the server certificate id
    changed and `ca_aliases` added to its CA certificates."""
    changed = copy.deepcopy(configuration)
    cert_set = find(changed, "CertificateSet")
    if cert_set is None:
        cert_set = ET.SubElement(changed, f"{{{WEBSERVER}}}CertificateSet")
    certificates = find(cert_set, "Certificates")
    if certificates is None:
        certificates = ET.Element(f"{{{CERT_NS}}}Certificates")
        cert_set.insert(0, certificates)
    ids = [c for c in certificates if local(c.tag) == "Id"]
    for extra in ids[1:]:
        certificates.remove(extra)
    (ids[0] if ids else ET.SubElement(certificates, f"{{{CERT_NS}}}Id")).text = alias
    cas = find(cert_set, "CACertificates")
    if ca_aliases:
        if cas is None:
            cas = ET.Element(f"{{{CERT_NS}}}CACertificates")
            cert_set.insert(list(cert_set).index(certificates) + 1, cas)
        present = {(c.text or "").strip() for c in cas if local(c.tag) == "Id"}
        for ca in ca_aliases:
            if ca not in present:
                ET.SubElement(cas, f"{{{CERT_NS}}}Id").text = ca
    return serialize(changed)


def serialize(element: Element) -> str:
    ET.register_namespace("aweb", WEBSERVER)
    ET.register_namespace("acert", CERT_NS)
    return ET.tostring(element, encoding="unicode")


class AxisDriver(OnvifDriver):
    name = "axis"
    api: str | None = None
    previous_configuration: str | None = None
    previous_alias: str | None = None  # what the web server was bound to before the install
    installed_alias: str | None = None
    csr_alias: str | None = None

    async def _cert_api(self) -> str:
        if self.api is None:
            response = await self.session.request("GET", "/config/discover/apis")
            try:
                versions = cert_api_versions(response.json())
            except ValueError:
                raise DriverError("protocol", "/config/discover/apis: the answer is not JSON") from None
            self.api = next((v for v in API_VERSIONS if v in versions), None)
            if self.api is None:
                raise DriverError("unsupported", "the device lists no certificate API (cert v1 or v1beta)")
        return self.api

    async def _rest(self, method: str, path: str, data: Any = None) -> Any:
        api = await self._cert_api()
        body = None if data is None else {"data": data}
        response = await self.session.request(
            method, f"/config/rest/cert/{api}/{path}", json=body, ok=(200, 400)
        )
        try:
            reply = response.json()
        except ValueError:
            raise DriverError("protocol", f"{path}: the answer is not JSON") from None
        if reply.get("status") != "success":
            error = reply.get("error") or {}
            raise DriverError("rejected", f"{path}: {error.get('message', 'error')}"[:200])
        return reply.get("data")

    async def _webserver(self, body: str) -> Element:
        return await self.call(body, path="/vapix/services")

    async def set_time_once(self, moment: dt.datetime, before: DeviceTime) -> None:
        stamp = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        response = await self.session.request(
            "POST",
            "/axis-cgi/time.cgi",
            json={"apiVersion": "1.0", "context": "camscan", "method": "setDateTime",
                  "params": {"dateTime": stamp}},
        )
        if "error" in response.json():
            raise DriverError("rejected", f"time.cgi: {response.json()['error'].get('message', '')}"[:200])
        self.clock_offset = moment.astimezone(dt.UTC) - dt.datetime.now(dt.UTC)

    async def restore_ntp(self, before: DeviceTime) -> None:
        return None  # time.cgi setDateTime sets the time only

    async def create_csr(
        self, common_name: str, ips: Sequence[str], dns: Sequence[str]
    ) -> x509.CertificateSigningRequest:
        sans = [f"IP:{ip}" for ip in ips] + [f"DNS:{d}" for d in dns]
        names = {"subject": f"CN={common_name}", "subject_alt_names": sans}
        self.csr_alias = new_alias()
        created = {"alias": self.csr_alias, "key_type": "EC-P256", **names}
        await self._rest("POST", "create_certificate", created)
        pem = await self._rest("POST", f"certificates/{quote(self.csr_alias)}/get_csr", names)
        try:
            return x509.load_pem_x509_csr(str(pem).encode())
        except ValueError:
            raise DriverError("protocol", "the device's CSR cannot be read") from None

    async def _install_cas(self, cas: Sequence[x509.Certificate]) -> list[str]:
        """Each CA certificate of the chain under a stable alias (`POST ca_certificates`)."""
        if not cas:
            return []
        have = await self._rest("GET", "ca_certificates") or []
        known = {str(c.get("alias")) for c in have if isinstance(c, dict)}
        aliases = []
        for ca in cas:
            der = ca.public_bytes(serialization.Encoding.DER)
            alias = f"camscan-ca-{hashlib.sha256(der).hexdigest()[:16]}"
            if alias not in known:
                await self._rest("POST", "ca_certificates", {"alias": alias, "certificate": _pem(ca)})
            aliases.append(alias)
        return aliases

    async def _tls_configuration(self) -> Element:
        answer = await self._webserver(f'<aweb:GetWebServerTlsConfiguration xmlns:aweb="{WEBSERVER}"/>')
        configuration = find(answer, "Configuration")
        if configuration is None:
            raise DriverError("protocol", "GetWebServerTlsConfiguration: no Configuration")
        return configuration

    async def _bind(self, alias: str, ca_aliases: Sequence[str]) -> None:
        configuration = await self._tls_configuration()
        self.previous_configuration = serialize(configuration)
        self.previous_alias = bound_alias(configuration)
        await self._set_configuration(with_certificate(configuration, alias, ca_aliases))
        self.installed_alias = alias

    async def _set_configuration(self, configuration: str) -> None:
        await self._webserver(
            f'<aweb:SetWebServerTlsConfiguration xmlns:aweb="{WEBSERVER}" xmlns:acert="{CERT_NS}">'
            f"{configuration}</aweb:SetWebServerTlsConfiguration>"
        )

    async def install_signed(self, chain: Sequence[x509.Certificate]) -> None:
        alias = self.csr_alias or ALIAS
        await self._rest("PATCH", f"certificates/{quote(alias)}", {"certificate": _pem(chain[0])})
        await self._bind(alias, await self._install_cas(chain[1:]))

    async def upload(self, chain: Sequence[x509.Certificate], key: PrivateKey) -> None:
        alias = new_alias()
        await self._rest(
            "POST",
            "certificates",
            {"alias": alias, "certificate": _pem(chain[0]), "private_key": key_pem(key).decode()},
        )
        await self._bind(alias, await self._install_cas(chain[1:]))

    async def reboot(self) -> None:
        await self.session.request("GET", "/axis-cgi/restart.cgi")

    async def rollback(self) -> bool:
        if self.previous_configuration is None:
            return False
        await self._set_configuration(self.previous_configuration)
        return True

    async def remove_superseded(self, old_leaf: bytes) -> str:
        old, new = self.previous_alias, self.installed_alias
        if not (old and new) or old == new:
            raise Kept("no other certificate was bound to HTTPS before this install")
        if old != ALIAS and not old.startswith(ALIAS + "-"):
            raise Kept(f"the alias {old[:60]!r} was not installed by camscan (factory or another tool's)")
        if bound_alias(await self._tls_configuration()) != new:
            raise Kept("the web server is not bound to the new certificate: nothing is deleted")
        held = await self._rest("GET", f"certificates/{quote(old)}")
        pem = str(held.get("certificate", "")) if isinstance(held, dict) else ""
        try:
            der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
        except ValueError:
            der = b""
        if der != old_leaf:
            raise Kept(f"the alias {old[:60]!r} does not hold the superseded certificate")
        await self._rest("DELETE", f"certificates/{quote(old)}")
        return f"alias {old} (certificate and private key)"


def bound_alias(configuration: Element) -> str | None:
    """The certificate id the web server's TLS configuration names."""
    certificates = find(configuration, "CertificateSet", "Certificates")
    found: list[Element] = list(certificates) if certificates is not None else []
    ids = [(c.text or "").strip() for c in found if local(c.tag) == "Id"]
    return ids[0] if ids else None
