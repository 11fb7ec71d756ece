"""Plans and outcomes as text (terminal) and as the `fix-v1` JSON document.

Device-controlled text (a vendor string, a rule message quoting a certificate) is sanitized
for the terminal; JSON keeps it exact, escaped by JSON itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from camscan import __version__
from camscan.remediate.model import DevicePlan, Outcome
from camscan.termtext import sanitize

FIX_SCHEMA_VERSION = "fix-v1"


def plan_text(plans: Sequence[DevicePlan], *, applying: bool = False) -> str:
    if not plans:
        return "Nothing to fix: no finding on any device.\n"
    lines: list[str] = []
    for plan in plans:
        vendor = sanitize(plan.vendor or "unknown vendor", max_len=60)
        driver = plan.driver or "(ask the device)"
        lines.append(f"{plan.endpoint}  {vendor}  driver {driver}  findings {' '.join(plan.findings)}")
        for number, step in enumerate(plan.steps, 1):
            mode = "auto" if step.automatic else "manual"
            lines.append(
                f"  {number}. [{step.strategy} / {mode}] {sanitize(step.summary, max_len=400)}"
                f"  ({', '.join(step.rule_ids)})"
            )
            lines.extend(f"       $ {sanitize(c, max_len=400)}" for c in step.commands)
            if step.openssl:
                lines.append("       by hand:")
                lines.extend(f"       $ {sanitize(c, max_len=600)}" for c in step.openssl)
        lines.append("")
    automatic = sum(1 for p in plans if p.automatic)
    if applying:
        lines.append(f"{len(plans)} device(s) to fix, {automatic} with automatic steps (--apply).")
    else:
        lines.append(
            f"{len(plans)} device(s) to fix, {automatic} with automatic steps. Dry run: nothing was "
            "sent to any device. Add --apply (with --ca DIR and --user) to carry out the automatic steps."
        )
    return "\n".join(lines) + "\n"


def outcome_text(outcomes: Sequence[Outcome]) -> str:
    lines = []
    for o in outcomes:
        remaining = f" (remaining: {' '.join(o.remaining)})" if o.remaining else ""
        lines.append(f"{o.status.value:<9} {o.endpoint}  {sanitize(o.reason, max_len=300)}{remaining}")
    counts = {
        s: sum(1 for o in outcomes if o.status == s)
        for s in ("fixed", "improved", "not_fixed", "skipped", "failed")
    }
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines) + "\n"


def _endpoint(plan_endpoint: Any) -> dict[str, Any]:
    return {
        "address": plan_endpoint.address,
        "port": plan_endpoint.port,
        "server_name": plan_endpoint.server_name,
    }


def plan_entry(plan: DevicePlan) -> dict[str, Any]:
    return {
        "endpoint": _endpoint(plan.endpoint),
        "vendor": plan.vendor,
        "driver": plan.driver,
        "names": {"ips": list(plan.ips), "dns": list(plan.dns)},
        "findings": list(plan.findings),
        "automatic": plan.automatic,
        "steps": [
            {
                "strategy": s.strategy.value,
                "action": s.action.value,
                "summary": s.summary,
                "automatic": s.automatic,
                "rule_ids": list(s.rule_ids),
                "commands": list(s.commands),
                "openssl": list(s.openssl),
            }
            for s in plan.steps
        ],
    }


def fix_document(
    plans: Sequence[DevicePlan], *, as_of: dt.datetime, applied: bool, outcomes: Sequence[Outcome] = ()
) -> dict[str, Any]:
    by_endpoint = {o.endpoint: o for o in outcomes}
    devices = []
    for plan in plans:
        entry = plan_entry(plan)
        outcome = by_endpoint.get(plan.endpoint)
        entry["outcome"] = (
            None
            if outcome is None
            else {
                "status": outcome.status.value,
                "driver": outcome.driver,
                "reason": outcome.reason,
                "remaining": list(outcome.remaining),
                "actions": list(outcome.actions),
            }
        )
        devices.append(entry)
    return {
        "schema_version": FIX_SCHEMA_VERSION,
        "camscan_version": __version__,
        "as_of": as_of.astimezone(dt.UTC).isoformat(timespec="seconds")[:19] + "Z",
        "applied": applied,
        "devices": devices,
    }


def fix_json(plans: Sequence[DevicePlan], **kwargs: Any) -> str:
    return json.dumps(fix_document(plans, **kwargs), indent=2, ensure_ascii=False) + "\n"
