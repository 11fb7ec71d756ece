"""Hikvision ISAPI (device-protocols.md section 4): XML over HTTPS with Digest.

ISAPI answers many failures with HTTP 200 and a ResponseStatus whose statusCode is not 1, so
every answer's body is read. The certificate upload body is not publicly documented (section
4, [?]); this driver speaks the shape camscan's lab defines and the README states: a PEM body
on `PUT /ISAPI/Security/serverCertificate/certificate` (chain alone for an on-device key, chain
plus key for an upload). Facts and the clock offset come from ONVIF, which these cameras serve.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
from cryptography import x509

from camscan.pki import PrivateKey, pem_chain
from camscan.remediate.ca import key_pem
from camscan.remediate.drivers.base import DriverError
from camscan.remediate.drivers.onvif import OnvifDriver, el, text

ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"
CERT_PATH = "/ISAPI/Security/serverCertificate/certificate"


class HikvisionDriver(OnvifDriver):
    name = "hikvision"

    async def _isapi(self, method: str, path: str, body: bytes | str | None = None) -> Element | None:
        response = await self.session.request(
            method, path, content=body, ok=(200, 400), headers={"Content-Type": "application/xml"}
        )
        try:
            root: Element = DET.fromstring(response.content, forbid_dtd=True)
        except (DET.ParseError, ValueError):
            raise DriverError("protocol", f"{method} {path}: the answer is not XML") from None
        if root.tag.rsplit("}", 1)[-1] == "ResponseStatus":
            code, sub = text(root, "statusCode"), text(root, "subStatusCode")
            if code != "1":
                kind = "rejected" if code in ("4", "6") else "protocol"
                raise DriverError(kind, f"{method} {path}: statusCode {code} ({sub})"[:200])
            return None
        return root

    async def set_clock(self, moment: dt.datetime) -> None:
        stamp = moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat()
        # POSIX zone names are inverted on ISAPI (CST-8 is UTC+8); UTC is unambiguous either way.
        await self._isapi(
            "PUT",
            "/ISAPI/System/time",
            f'<Time xmlns="{ISAPI_NS}"><timeMode>manual</timeMode>{el("localTime", stamp)}'
            "<timeZone>CST+0:00:00</timeZone></Time>",
        )
        self.clock_offset = moment.astimezone(dt.UTC) - dt.datetime.now(dt.UTC)

    async def create_csr(
        self, common_name: str, ips: Sequence[str], dns: Sequence[str]
    ) -> x509.CertificateSigningRequest:
        await self._isapi(
            "PUT",
            "/ISAPI/Security/serverCertificate/certSignReq",
            f'<CertificateReq xmlns="{ISAPI_NS}">{el("commonName", common_name)}</CertificateReq>',
        )
        response = await self.session.request("GET", "/ISAPI/Security/serverCertificate/downloadCertSignReq")
        try:
            return x509.load_pem_x509_csr(response.content)
        except ValueError:
            raise DriverError("protocol", "the device's CSR cannot be read") from None

    async def install_signed(self, chain: Sequence[x509.Certificate]) -> None:
        await self._isapi("PUT", CERT_PATH, pem_chain(chain))

    async def upload(self, chain: Sequence[x509.Certificate], key: PrivateKey) -> None:
        await self._isapi("PUT", CERT_PATH, pem_chain(chain) + key_pem(key))

    async def reboot(self) -> None:
        await self._isapi("PUT", "/ISAPI/System/reboot")
