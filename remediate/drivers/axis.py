"""Axis VAPIX (device-protocols.md section 5): JSON CGIs and the certificate REST API.

Certificates: create a key on the device under the alias `camscan-https`
(`/config/rest/cert/v1/create_certificate`, falling back to `v1beta` on AXIS OS 11.6-11.10),
get its CSR, install the signed certificate on that alias (PATCH), then bind the alias to HTTPS
with the SOAP `SetWebServerTlsConfiguration` (no REST equivalent, AXNOTE). The alias bound
before is recorded; rollback() binds it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan.pki import PrivateKey
from camscan.remediate.ca import key_pem
from camscan.remediate.drivers.base import DriverError
from camscan.remediate.drivers.onvif import OnvifDriver, el, text

ALIAS = "camscan-https"
WEBSERVER = "http://www.axis.com/vapix/ws/webserver"
CERT_NS = "http://www.axis.com/vapix/ws/cert"


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class AxisDriver(OnvifDriver):
    name = "axis"
    api: str | None = None
    previous_alias: str | None = None

    async def _rest(self, method: str, path: str, data: Any = None) -> Any:
        if self.api is None:
            for version in ("v1", "v1beta"):
                try:
                    await self.session.request("GET", f"/config/rest/cert/{version}/certificates")
                except DriverError as exc:
                    if exc.kind != "unsupported":
                        raise
                    continue
                self.api = version
                break
            else:
                raise DriverError("unsupported", "the device has no certificate REST API (AXIS OS < 11.6)")
        body = None if data is None else {"data": data}
        response = await self.session.request(
            method, f"/config/rest/cert/{self.api}/{path}", json=body, ok=(200, 400)
        )
        try:
            reply = response.json()
        except ValueError:
            raise DriverError("protocol", f"{path}: the answer is not JSON") from None
        if reply.get("status") != "success":
            error = reply.get("error") or {}
            raise DriverError("rejected", f"{path}: {error.get('message', 'error')}"[:200])
        return reply.get("data")

    async def _soap_webserver(self, body: str) -> Any:
        return await self.call(body, path="/vapix/services")

    async def set_clock(self, moment: dt.datetime) -> None:
        stamp = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        response = await self.session.request(
            "POST",
            "/axis-cgi/time.cgi",
            json={
                "apiVersion": "1.0",
                "context": "camscan",
                "method": "setDateTime",
                "params": {"dateTime": stamp},
            },
        )
        if "error" in response.json():
            raise DriverError("rejected", f"time.cgi: {response.json()['error'].get('message', '')}"[:200])
        self.clock_offset = moment.astimezone(dt.UTC) - dt.datetime.now(dt.UTC)

    async def create_csr(
        self, common_name: str, ips: Sequence[str], dns: Sequence[str]
    ) -> x509.CertificateSigningRequest:
        sans = [f"IP:{ip}" for ip in ips] + [f"DNS:{d}" for d in dns]
        await self._rest(
            "POST",
            "create_certificate",
            {
                "alias": ALIAS,
                "key_type": "EC-P256",
                "subject": f"CN={common_name}",
                "subject_alt_names": sans,
            },
        )
        pem = await self._rest(
            "POST",
            f"certificates/{quote(ALIAS)}/get_csr",
            {"subject": f"CN={common_name}", "subject_alt_names": sans},
        )
        try:
            return x509.load_pem_x509_csr(str(pem).encode())
        except ValueError:
            raise DriverError("protocol", "the device's CSR cannot be read") from None

    async def _bind(self, alias: str) -> None:
        current = await self._soap_webserver(f'<aweb:GetWebServerTlsConfiguration xmlns:aweb="{WEBSERVER}"/>')
        self.previous_alias = text(current, "Configuration", "CertificateSet", "Certificates", "Id") or None
        await self._set_binding(alias)

    async def _set_binding(self, alias: str) -> None:
        await self._soap_webserver(
            f'<aweb:SetWebServerTlsConfiguration xmlns:aweb="{WEBSERVER}" xmlns:acert="{CERT_NS}">'
            "<aweb:Configuration><aweb:Tls>true</aweb:Tls><aweb:CertificateSet><acert:Certificates>"
            f"{el('acert:Id', alias)}</acert:Certificates></aweb:CertificateSet></aweb:Configuration>"
            "</aweb:SetWebServerTlsConfiguration>"
        )

    async def install_signed(self, chain: Sequence[x509.Certificate]) -> None:
        await self._rest("PATCH", f"certificates/{quote(ALIAS)}", {"certificate": _pem(chain[0])})
        await self._bind(ALIAS)

    async def upload(self, chain: Sequence[x509.Certificate], key: PrivateKey) -> None:
        alias = f"{ALIAS}-{int(dt.datetime.now(dt.UTC).timestamp())}"
        await self._rest(
            "POST",
            "certificates",
            {"alias": alias, "certificate": _pem(chain[0]), "private_key": key_pem(key).decode()},
        )
        await self._bind(alias)

    async def reboot(self) -> None:
        await self.session.request("GET", "/axis-cgi/restart.cgi")

    async def rollback(self) -> bool:
        if not self.previous_alias or self.previous_alias == "default":
            return False
        await self._set_binding(self.previous_alias)
        return True
