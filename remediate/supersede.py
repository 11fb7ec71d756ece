"""After a verified renewal: what happens to the certificate it replaced (issue 17, item 2).

The device already serves the new certificate when these run, so nothing here fails the
renewal: the superseded certificate is removed from the device where the driver has a
documented delete call and its checks pass (camscan installed it, nothing refers to it), and
revoked at the issuer where the issuer can revoke. Whatever stays is logged in the audit log and
named in the outcome, for a person.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509

from camscan.errors import CamscanError
from camscan.remediate.drivers.base import Driver, DriverError, Kept
from camscan.remediate.issuers.base import Issuer


async def remove_superseded(
    driver: Driver, old_der: bytes, actions: list[str], log: Callable[..., None]
) -> None:
    """After a verified renewal: delete the replaced certificate from the device where its API
    allows (the driver checks it is camscan's and unreferenced). Nothing here fails the renewal:
    the device already serves the new certificate; what stays is logged and reported."""
    serial = f"{x509.load_der_x509_certificate(old_der).serial_number:x}"
    try:
        removed = await driver.remove_superseded(old_der)
    except Kept as exc:
        log("remove-superseded", "kept", serial=serial, detail=str(exc))
        actions.append(f"superseded {serial} left on the device ({exc})")
        return
    except DriverError as exc:
        result = {"rejected": "refused", "unsupported": "unsupported"}.get(exc.kind, "failed")
        log("remove-superseded", result, serial=serial, detail=str(exc))
        what = {
            "refused": "the device refused to delete it",
            "unsupported": "no documented delete call: remove it by hand",
        }.get(result, f"the delete failed: {exc}")
        actions.append(f"superseded {serial} left on the device ({what})")
        return
    log("remove-superseded", "ok", serial=serial, detail=removed)
    actions.append(f"superseded {serial} removed from the device")


async def revoke_superseded(
    issuer: Issuer, old_der: bytes, actions: list[str], log: Callable[..., None]
) -> None:
    """After a verified renewal: revoke the certificate it replaced, where the issuer can.

    A revocation that fails does not undo the renewal (the device serves a good certificate);
    it is logged and reported for a person.
    """
    old = x509.load_der_x509_certificate(old_der)
    serial = f"{old.serial_number:x}"
    if not issuer.supports_revoke:
        log("revoke", "unsupported", serial=serial, detail=f"{issuer.kind} cannot revoke through camscan")
        actions.append(f"superseded {serial} not revoked ({issuer.kind} cannot)")
        return
    try:
        await issuer.revoke(old, "superseded")
    except CamscanError as exc:
        log("revoke", getattr(exc, "kind", "failed"), serial=serial, detail=str(exc))
        actions.append(f"superseded {serial} NOT revoked: {exc}")
        return
    log("revoke", "ok", serial=serial, reason="superseded")
    actions.append(f"superseded {serial} revoked")
