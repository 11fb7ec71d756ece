"""Renewals in the scheduled audit (`camscan audit` with [issuer] and [fix] renew = true).

The audit plans a `renew` for every certificate from the configured issuer inside its renewal
window (camscan.remediate.renew) and, only when [fix] renew = true, applies those renewals and
nothing else, through the same engine as `camscan fix --apply` (backup, install beside the old
certificate, switch, verify over TLS, roll back where the API allows), then revokes the
superseded certificate where the issuer can. Everything else stays a plan in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from camscan import runtime
from camscan.config_model import AuditConfig
from camscan.model import AuditResult
from camscan.remediate.model import DevicePlan, Outcome


@dataclass(frozen=True)
class Renewals:
    plans: tuple[DevicePlan, ...]
    outcomes: tuple[Outcome, ...]
    applied: bool
    audit_log: Path | None = None

    def lines(self) -> list[str]:
        from camscan.termtext import sanitize

        if not self.plans:
            return ["renewal: no certificate from the issuer is inside its renewal window"]
        if not self.applied:
            return [
                f"renewal: {len(self.plans)} certificate(s) inside the renewal window, planned as renew "
                "([fix] renew = false: nothing applied)"
            ]
        out = [f"renewal: {o.status.value} {o.endpoint}: {sanitize(o.reason)}" for o in self.outcomes]
        if self.audit_log is not None:
            out.append(f"renewal: audit log {self.audit_log}")
        return out

    def entries(self) -> tuple[dict[str, str], ...]:
        return tuple(
            {"endpoint": str(o.endpoint), "status": o.status.value, "reason": o.reason} for o in self.outcomes
        )

    @property
    def failed(self) -> bool:
        return any(o.status.value in ("failed", "not_fixed") for o in self.outcomes)


def renew(cfg: AuditConfig, audit: AuditResult) -> Renewals | None:
    """Plan the renewals of this audit and, with [fix] renew = true, apply them."""
    section = cfg.issuer
    if section is None:
        return None
    from camscan.remediate.issuers.config import build, lifetime, read_file, secrets_of
    from camscan.remediate.renew import plan_renewals

    file = read_file(section.file) if section.file else None
    # Never a prompt: an audit runs from cron.
    issuer = build(section.name, file, ca_dir=str(section.ca) if section.ca else None, interactive=False)
    anchors = runtime.run(issuer.trust_anchors)
    plans = plan_renewals(
        audit,
        anchors,
        issuer=section.name,
        renew_before_days=section.renew_before_days,
        renew_before_fraction=section.renew_before_fraction,
    )
    if not cfg.fix.renew or not plans:
        return Renewals(tuple(plans), (), False)

    import camscan.remediate.credentials as credentials
    from camscan.remediate.apply import ApplyOptions, apply_plans
    from camscan.remediate.auditlog import AuditLog

    fix = cfg.fix
    assert fix.state is not None  # the config requires it with renew = true
    store = credentials.resolve(
        fix.user, str(fix.credentials) if fix.credentials else None, interactive=False
    )
    log = AuditLog(fix.state / "audit.log", secrets=(*store.secrets(), *secrets_of(issuer)))
    options = ApplyOptions(
        backup_dir=fix.state / "backups",
        parallel=fix.parallel,
        days=lifetime(file, section.name),
        connect_timeout=cfg.scan.connect_timeout,
        handshake_timeout=cfg.scan.handshake_timeout,
    )
    try:
        outcomes = runtime.run(lambda: apply_plans(plans, issuer, store.for_address, options, log))
    finally:
        log.close()
    return Renewals(tuple(plans), tuple(outcomes), True, log.path)
