"""`local`: the site CA of `camscan ca` (the default issuer; what `camscan fix` always did)."""

from __future__ import annotations

from cryptography import x509

from camscan.errors import CamscanError
from camscan.remediate import inventory
from camscan.remediate.ca import LocalCA
from camscan.remediate.issuers.base import Enrolment, IssuerError


class LocalIssuer:
    kind = "local"
    needs_csr_names = False  # the site CA puts the device's names in, whatever the CSR asks
    supports_revoke = True  # the site CA's inventory and CRL (`camscan ca revoke`, `camscan ca crl`)

    def __init__(self, ca: LocalCA, name: str = "local") -> None:
        self.ca = ca
        self.name = name

    async def issue(self, enrolment: Enrolment) -> list[x509.Certificate]:
        # CSRMismatch / SigningRefused (a CSR naming another device, a result the rules flag)
        # propagate: refused, nothing installed. The site CA records what it signs.
        cert = self.ca.sign_csr(
            enrolment.csr, enrolment.ips, enrolment.dns, days=enrolment.days, identity=enrolment.identity
        )
        return [cert, *self.ca.chain]

    async def revoke(self, cert: x509.Certificate, reason: str) -> None:
        """Marks it revoked in the inventory and signs a new CRL (DIR/crl.der, DIR/crl.pem)."""
        try:
            inventory.revoke(self.ca.directory, cert.serial_number, reason)
            inventory.write_crl(self.ca)
        except CamscanError as exc:  # not issued here, already revoked, the inventory locked
            raise IssuerError("refused", str(exc)) from None

    def describe(self) -> str:
        return f"local: the site CA in {self.ca.directory} ({self.ca.certificate.subject.rfc4514_string()})"

    async def test(self) -> str:
        # Opening the key (its passphrase) and signing with it is the whole of what can fail
        # here; a CRL built in memory proves both without adding a throw-away certificate to
        # the inventory.
        inventory.build_crl(self.ca)
        return f"ok: {self.describe()}; its key opens and signs"

    async def trust_anchors(self) -> list[x509.Certificate]:
        return [self.ca.trust_anchor]
