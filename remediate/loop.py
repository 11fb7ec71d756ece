"""Apply the plans, rescan, and judge each device from what the rescan observed.

The one sequence `camscan demo` runs after its scan (and `camscan fix --apply` spells out
inline): apply_plans, then a rescan of the same endpoints, then judge_outcomes. The counts it
returns are what was observed: an endpoint that did not answer the rescan is counted as such,
never as an endpoint without findings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from camscan.model import AuditResult, Endpoint
from camscan.remediate.apply import ApplyOptions, apply_plans, judge_outcomes
from camscan.remediate.auditlog import AuditLog
from camscan.remediate.drivers.base import Credentials
from camscan.remediate.issuers.base import Issuer
from camscan.remediate.model import DevicePlan, Outcome, Status


@dataclass(frozen=True)
class LoopResult:
    outcomes: tuple[Outcome, ...]
    after: AuditResult  # the rescan, judged

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


def findings_by_endpoint(audit: AuditResult) -> dict[Endpoint, set[str]]:
    found: dict[Endpoint, set[str]] = {}
    for finding in audit.findings:
        found.setdefault(finding.endpoint, set()).add(finding.rule_id)
    return found


def answering(audit: AuditResult) -> set[Endpoint]:
    """Endpoints that completed a TLS handshake in this scan."""
    return {obs.endpoint for obs in audit.scan.observations}


async def apply_and_rescan(
    plans: Sequence[DevicePlan],
    issuer: Issuer,
    credentials_for: Callable[[str], Credentials],
    options: ApplyOptions,
    log: AuditLog,
    rescan: Callable[[], Awaitable[AuditResult]],
    on_outcome: Callable[[Outcome], None] | None = None,
) -> LoopResult:
    applied = await apply_plans(plans, issuer, credentials_for, options, log, on_outcome=on_outcome)
    after = await rescan()
    outcomes = judge_outcomes(applied, plans, findings_by_endpoint(after), answering(after))
    return LoopResult(tuple(outcomes), after)
