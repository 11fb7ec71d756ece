"""`local`: the site CA of `camscan ca` (the default issuer; what `camscan fix` always did)."""

from __future__ import annotations

from cryptography import x509

from camscan.remediate.ca import LocalCA
from camscan.remediate.issuers.base import Enrolment, IssuerError


class LocalIssuer:
    kind = "local"
    needs_csr_names = False  # the site CA puts the device's names in, whatever the CSR asks
    # Revocation at the site CA belongs to its issuance inventory (`camscan ca revoke`); until
    # that exists this issuer says it cannot revoke rather than pretend to.
    supports_revoke = False

    def __init__(self, ca: LocalCA, name: str = "local") -> None:
        self.ca = ca
        self.name = name

    async def issue(self, enrolment: Enrolment) -> list[x509.Certificate]:
        # CSRMismatch (a CSR naming another device) propagates: refused, nothing installed.
        cert = self.ca.sign_csr(enrolment.csr, enrolment.ips, enrolment.dns, days=enrolment.days)
        return [cert]

    async def revoke(self, cert: x509.Certificate, reason: str) -> None:
        raise IssuerError("config", "the site CA has no revocation list yet (see `camscan ca`)")

    def describe(self) -> str:
        return f"local: the site CA in {self.ca.directory} ({self.ca.certificate.subject.rfc4514_string()})"

    async def test(self) -> str:
        from camscan import pki

        key = pki.new_key("ec-p256")
        csr = pki.make_csr(key, common_name="camscan-issuer-test", ips=("192.0.2.1",))
        await self.issue(Enrolment(csr, ("192.0.2.1",), (), 1))
        return f"ok: {self.describe()}; a throw-away CSR was signed"

    async def trust_anchors(self) -> list[x509.Certificate]:
        return [self.ca.certificate]
