"""Carry out the automatic steps of each plan through the device's API (`camscan fix --apply`).

Per device, in order: read its facts (a wrong password stops here, nothing changed), keep a
copy of the certificate it serves, set the clock, install a new certificate, reboot and wait
for the device to come back. The new certificate is installed the way that keeps the old one
serving until the switch: a key made on the device with a CSR the site CA signs (refused when
the CSR names another device), else a key made here and uploaded; the switch itself is one API
call. The certificate comes from the chosen issuer (camscan.remediate.issuers: the site CA,
a command-line CA, EST or ACME); what it returns is checked (the CSR's key, the device's names)
before anything is installed. Afterwards camscan checks over TLS that the device serves what
was installed, and rolls back where the API allows if it does not.

Devices run in parallel up to `parallel` (cameras are fragile); a rescan afterwards (by the
caller) decides fixed / not fixed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.atomic import write_bytes_atomic
from camscan.errors import CamscanError
from camscan.model import Endpoint, ProbeFailure
from camscan.remediate.auditlog import AuditLog
from camscan.remediate.ca import MAX_DAYS
from camscan.remediate.drivers import make_driver
from camscan.remediate.drivers.base import (
    Credentials,
    DeviceFacts,
    Driver,
    DriverError,
    Session,
    leaf_sha256,
)
from camscan.remediate.issuers.base import Enrolment, Issuer, check_issued, csr_names, wanted_names
from camscan.remediate.model import Action, DevicePlan, Outcome, Status, Strategy
from camscan.remediate.plan import guess_driver
from camscan.remediate.supersede import remove_superseded, revoke_superseded
from camscan.scanner.tls_probe import ProbeSettings, probe

POLL_INTERVAL = 0.5


@dataclass(frozen=True)
class ApplyOptions:
    backup_dir: Path
    parallel: int = 2
    reboot_timeout: float = 180.0
    settle_timeout: float = 30.0  # for the device to serve a certificate just installed
    stop_on_failure: bool = False
    connect_timeout: float = 3.0
    handshake_timeout: float = 5.0
    ntp_server: str | None = None  # --ntp-server: where a device on NTP with a wrong clock points it
    days: int = MAX_DAYS  # the lifetime asked of the issuer


@dataclass
class _Progress:
    """What was done to one device so far: the outcome's actions, and what an interruption left."""

    actions: list[str] = field(default_factory=list)
    changed: bool = False


class StepFailed(Exception):
    pass


async def served_leaf(endpoint: Endpoint, options: ApplyOptions) -> bytes | None:
    """The leaf the device serves now (DER), or None when no handshake completes."""
    result = await probe(
        endpoint,
        ProbeSettings(
            connect_timeout=options.connect_timeout,
            handshake_timeout=options.handshake_timeout,
            http_facts=False,
        ),
    )
    return None if isinstance(result, ProbeFailure) else result.chain_der[0]


async def wait_for_leaf(
    endpoint: Endpoint, want: Callable[[bytes | None], bool], timeout: float, options: ApplyOptions
) -> bytes | None:
    """Poll TLS handshakes until `want(leaf)`; the last leaf seen (None: down) if time runs out."""
    last: bytes | None = None
    with trio.move_on_after(timeout):
        while True:
            last = await served_leaf(endpoint, options)
            if want(last):
                return last
            await trio.sleep(POLL_INTERVAL)
    raise StepFailed(f"no {'answer' if last is None else 'change'} within {timeout:g} s")


def backup_name(endpoint: Endpoint) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{endpoint.address.replace(':', '_')}_{endpoint.port}-{stamp}.pem"


def _identity(driver_name: str, facts: DeviceFacts, port: int) -> str:
    """What the site CA's inventory records about the device beside its address (device text,
    bounded here; `ca list` sanitizes it for the terminal)."""
    parts = [facts.manufacturer, facts.model, facts.serial and f"serial {facts.serial}",
             facts.mac and f"MAC {facts.mac}"]
    text = " ".join(p for p in parts if p) or "unknown device"
    return f"{text[:160]} ({driver_name}, port {port})"


async def _reissue(
    driver: Driver,
    plan: DevicePlan,
    issuer: Issuer,
    session: Session,
    progress: _Progress,
    log: Callable[..., None],
    days: int,
    renewal: bool = False,
    identity: str | None = None,
) -> bytes:
    """Install a certificate from the issuer; returns the new leaf (DER)."""
    common_name = plan.dns[0] if plan.dns else plan.ips[0]
    try:
        csr = await driver.create_csr(common_name, plan.ips, plan.dns)
    except DriverError as exc:
        if exc.kind != "unsupported":
            raise
        csr = None
        log("create-csr", "unsupported", detail=str(exc))
    if csr is not None and issuer.needs_csr_names and not _names_in(csr, plan):
        # ACME and EST certify what the CSR asks; ONVIF and ISAPI CSRs cannot carry a SAN.
        log(
            "create-csr",
            "no-names",
            detail=f"the device's CSR lacks its names and {issuer.kind} certifies only what a CSR asks: "
            "key made here instead",
        )
        csr = None
    key = None
    if csr is not None:
        log("create-csr", "ok")
    else:
        key = pki.new_key("ec-p256")
        csr = pki.make_csr(key, common_name=common_name, ips=plan.ips, dns=plan.dns)
    enrolment = Enrolment(csr, plan.ips, plan.dns, days, renewal, identity=identity)
    # IssuerError / CSRMismatch: refused, nothing installed.
    chain = await issuer.issue(enrolment)
    check_issued(chain, enrolment, issuer.name)
    cert = chain[0]
    log("sign-csr" if key is None else "issue", "ok", serial=f"{cert.serial_number:x}", issuer=issuer.name)
    session.pins.add(leaf_sha256(cert.public_bytes(serialization.Encoding.DER)))
    if key is None:
        await driver.install_signed(chain)
        progress.actions.append("reissue (on-device key + CSR)")
    else:
        await driver.upload(chain, key)
        progress.actions.append("reissue (key made here, uploaded)")
    progress.changed = True
    log("install", "ok")
    return cert.public_bytes(serialization.Encoding.DER)


def _names_in(csr: x509.CertificateSigningRequest, plan: DevicePlan) -> bool:
    ips, dns = csr_names(csr)
    want_ips, want_dns = wanted_names(plan.ips, plan.dns)
    return want_ips <= ips and want_dns <= dns


async def apply_one(
    plan: DevicePlan, issuer: Issuer, credentials: Credentials, options: ApplyOptions, audit: AuditLog
) -> Outcome:
    endpoint, driver_name = plan.endpoint, plan.driver or "onvif"
    ask_device = plan.driver is None
    progress = _Progress()

    def log(action: str, result: str, **extra: Any) -> None:
        audit.record(str(endpoint), action, result, driver=driver_name, **extra)

    def outcome(status: Status, reason: str) -> Outcome:
        return Outcome(endpoint, status, audit.redact(reason), driver_name, (), tuple(progress.actions))

    if not plan.automatic:
        log("plan", "skipped", detail="manual steps only")
        return outcome(Status.SKIPPED, "manual steps only (see the plan)")
    pins = {plan.leaf_sha256} if plan.leaf_sha256 else set()
    session = Session(endpoint.address, endpoint.port, credentials, pins)
    driver = make_driver(driver_name, session, credentials)
    try:
        facts = await driver.facts()
        if ask_device:
            # The scan could not tell the vendor: what the device says over ONVIF decides.
            driver_name = guess_driver(facts.manufacturer) or "onvif"
            driver = make_driver(driver_name, session, credentials)
        log(
            "facts",
            "ok",
            detail=f"{facts.manufacturer or '?'} {facts.model or '?'} firmware {facts.firmware or '?'}",
        )
        before = await served_leaf(endpoint, options)
        if before is not None:
            options.backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            backup = options.backup_dir / backup_name(endpoint)
            write_bytes_atomic(backup, _pem(before), mode=0o600)
            log("backup", "ok", detail=str(backup))
        for step in plan.steps:
            if not step.automatic:
                continue
            if step.action == Action.SET_CLOCK:
                done = await driver.set_clock(dt.datetime.now(dt.UTC), ntp_server=options.ntp_server)
                progress.actions.append("set-clock")
                progress.changed = True
                log("set-clock", "ok", detail=done)
            elif step.action == Action.REISSUE:
                identity = _identity(driver_name, facts, endpoint.port)
                renewal = step.strategy == Strategy.RENEW
                new_leaf = await _reissue(
                    driver, plan, issuer, session, progress, log, options.days, renewal, identity
                )

                def serves_new(leaf: bytes | None, want: bytes = new_leaf) -> bool:
                    return leaf == want

                try:
                    await wait_for_leaf(endpoint, serves_new, options.settle_timeout, options)
                except StepFailed as exc:
                    rolled = await driver.rollback()
                    log(
                        "verify",
                        "failed",
                        detail=f"the device does not serve the new certificate: {exc}",
                        rolled_back=rolled,
                    )
                    return outcome(
                        Status.FAILED,
                        "installed, but the device does not serve the new certificate"
                        + ("; rolled back to the previous one" if rolled else ""),
                    )
                log("verify", "ok")
                if renewal and before is not None:
                    await remove_superseded(driver, before, progress.actions, log)
                    await revoke_superseded(issuer, before, progress.actions, log)
            elif step.action == Action.REBOOT:
                await driver.reboot()
                progress.actions.append("reboot")
                progress.changed = True
                log("reboot", "sent")
                await _wait_reboot(endpoint, before, options)
                log("reboot", "back")
    except DriverError as exc:
        log("failed", exc.kind, detail=str(exc))
        manual = "; the plan's manual steps apply" if exc.kind == "unsupported" else ""
        return outcome(Status.FAILED, f"{exc} ({_state(progress)}){manual}")
    except CamscanError as exc:  # the issuer refused or failed: nothing was installed
        log("failed", getattr(exc, "kind", "refused"), detail=str(exc))
        return outcome(Status.FAILED, f"{exc} ({_state(progress)})")
    except StepFailed as exc:
        log("failed", "timeout", detail=str(exc))
        return outcome(Status.FAILED, f"the device did not come back after the reboot: {exc}")
    except trio.Cancelled:
        with trio.CancelScope(shield=True):
            log("interrupted", "cancelled", detail=", ".join(progress.actions) or "nothing changed")
        raise
    finally:
        with trio.CancelScope(shield=True):
            await session.aclose()
    return outcome(Status.FIXED, "applied: " + ", ".join(progress.actions))


def _state(progress: _Progress) -> str:
    if progress.changed:
        return "changed before the failure: " + ", ".join(progress.actions)
    return "device unchanged"


def _pem(der: bytes) -> bytes:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


async def _wait_reboot(endpoint: Endpoint, before: bytes | None, options: ApplyOptions) -> None:
    """A device answers the reboot request, then goes down. Back means: a handshake completes
    after it was seen down, or it serves a certificate other than before."""
    seen_down = False

    def back(leaf: bytes | None) -> bool:
        nonlocal seen_down
        if leaf is None:
            seen_down = True
            return False
        return seen_down or leaf != before

    await wait_for_leaf(endpoint, back, options.reboot_timeout, options)


async def apply_plans(
    plans: Sequence[DevicePlan],
    issuer: Issuer,
    credentials_for: Callable[[str], Credentials],
    options: ApplyOptions,
    audit: AuditLog,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Apply every plan, `options.parallel` devices at a time; outcomes in plan order."""
    limiter = trio.CapacityLimiter(options.parallel)
    outcomes: dict[Endpoint, Outcome] = {}
    stopped = False

    async def run(plan: DevicePlan) -> None:
        nonlocal stopped
        async with limiter:
            if stopped:
                result = Outcome(
                    plan.endpoint,
                    Status.SKIPPED,
                    "not started: an earlier device failed (--stop-on-failure)",
                    plan.driver,
                )
            else:
                result = await apply_one(plan, issuer, credentials_for(plan.endpoint.address), options, audit)
            if result.status == Status.FAILED and options.stop_on_failure:
                stopped = True
            outcomes[plan.endpoint] = result
            if on_outcome is not None:
                on_outcome(result)

    async with trio.open_nursery() as nursery:
        for plan in plans:
            nursery.start_soon(run, plan)
    return [outcomes[p.endpoint] for p in plans]


def judge_outcomes(
    outcomes: Sequence[Outcome],
    plans: Sequence[DevicePlan],
    after: dict[Endpoint, set[str]],
    reachable: set[Endpoint],
) -> list[Outcome]:
    """Turn `fixed` (applied) into fixed / improved / not_fixed / failed from the rescan's findings
    per endpoint: fixed when nothing remains, improved when only findings the plan left to a
    person remain, not_fixed when a targeted one remains, failed when the device did not answer."""
    by_endpoint = {p.endpoint: p for p in plans}
    judged = []
    for o in outcomes:
        if o.status != Status.FIXED:
            judged.append(o)
            continue
        plan = by_endpoint[o.endpoint]
        if o.endpoint not in reachable:
            judged.append(
                Outcome(
                    o.endpoint,
                    Status.FAILED,
                    "applied, but the rescan found no TLS service",
                    o.driver,
                    (),
                    o.actions,
                )
            )
            continue
        remaining = tuple(sorted(plan.targeted_rules & after.get(o.endpoint, set())))
        if remaining:
            judged.append(
                Outcome(
                    o.endpoint,
                    Status.NOT_FIXED,
                    o.reason + "; the rescan still finds " + " ".join(remaining),
                    o.driver,
                    remaining,
                    o.actions,
                )
            )
        else:
            # "fixed" only when the rescan finds nothing left on the device.
            manual = sorted(after.get(o.endpoint, set()) - plan.targeted_rules)
            status = Status.IMPROVED if manual else Status.FIXED
            note = f"; manual steps remain for {' '.join(manual)}" if manual else ""
            judged.append(Outcome(o.endpoint, status, o.reason + note, o.driver, tuple(manual), o.actions))
    return judged
