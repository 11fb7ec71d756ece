"""Scan every site through its workers, then judge centrally: what `camscan audit` and
`camscan scan --sites` do in place of a local sweep."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace

from camscan.model import AuditContext, AuditResult, ProbeResult, SiteStatus
from camscan.sites.site_config import SitesConfig


def _log(line: str) -> None:
    from camscan.termtext import sanitize

    print(f"camscan: {sanitize(line)}", file=sys.stderr, flush=True)


def audit_sites(
    config: SitesConfig,
    ctx: AuditContext,
    *,
    on_result: Callable[[ProbeResult], None] | None = None,
    quiet: bool = False,
) -> AuditResult:
    """Every site's observations and failures, judged together (fleet rules see all sites)."""
    from camscan import runtime
    from camscan.pipeline import judge
    from camscan.sites.central import Dispatcher

    outcome = Dispatcher(config, log=None if quiet else _log).run()
    # `on_result` (a --jsonl stream) is not fed here: the sites' results arrive all at once, so the
    # stream writes every endpoint when it finishes, with its final findings and its site.
    del on_result
    audit = runtime.run(judge, outcome.scan, ctx)
    return replace(audit, sites=outcome.statuses, endpoint_sites=outcome.endpoint_sites)


def summary_line(statuses: tuple[SiteStatus, ...]) -> str:
    """"sites: 2 complete, 1 down (south: no worker serves queue camscan.south)"."""
    from camscan.termtext import sanitize

    counts: dict[str, int] = {}
    for status in statuses:
        counts[status.state] = counts.get(status.state, 0) + 1
    parts = [f"{counts[state]} {state}" for state in ("complete", "partial", "down") if state in counts]
    problems = [
        f"{s.name}: {s.shards_done}/{s.shards} shards, {s.detail}" if s.state == "partial"
        else f"{s.name}: {s.detail}"
        for s in statuses
        if not s.complete
    ]
    line = "sites: " + ", ".join(parts)
    if problems:
        line += " (" + "; ".join(problems) + ")"
    return sanitize(line, max_len=2000)


def missing(statuses: tuple[SiteStatus, ...]) -> bool:
    return any(not s.complete for s in statuses)
