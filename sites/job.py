"""One shard of one site's sweep, on the worker: check the request, sweep, return the scan.

The request is JSON from the broker, so it is input like any other: every field is checked,
the targets must lie inside the worker's own allow-list, and the sweep runs with the worker's
own limits (concurrency, rate, timeouts); the request cannot change them. The answer is the
JSON report document (schema report-v1) with observations and failures and no finding: the
central side judges, with the whole fleet in view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from camscan.errors import UsageError
from camscan.sites.worker_config import WorkerConfig

REQUEST_KEYS = frozenset({"site", "targets", "ports", "exclude", "shard", "allow_large"})
MAX_TARGETS = 10_000


def _strings(request: Mapping[str, Any], key: str) -> list[str]:
    value = request.get(key, [])
    if not isinstance(value, list) or len(value) > MAX_TARGETS or not all(isinstance(v, str) for v in value):
        raise UsageError(f"request field {key!r} is not a list of strings")
    return value


def refusal(config: WorkerConfig, request: Mapping[str, Any]) -> str | None:
    """Why this worker will not run `request` (one line), or None."""
    if not isinstance(request, Mapping) or set(request) - REQUEST_KEYS:
        return "malformed request (unknown fields)"
    if request.get("site") != config.site:
        return f"this worker serves site {config.site!r}, not {request.get('site')!r}"
    return None


def run_job(config: WorkerConfig, request: Mapping[str, Any], *, worker: str) -> dict[str, Any]:
    """The answer to one request: {"site", "shard", "worker", "report"} or {..., "refused"}."""
    site, shard = request.get("site"), request.get("shard")
    answer: dict[str, Any] = {"site": site, "shard": shard, "worker": worker}
    why = refusal(config, request)
    if why is None:
        try:
            answer["report"] = _sweep(config, request)
        except UsageError as exc:
            why = str(exc)
    if why is not None:
        answer["refused"] = why
    return answer


def _sweep(config: WorkerConfig, request: Mapping[str, Any]) -> str:
    import trio

    from camscan.model import AuditResult
    from camscan.pipeline import run_scan
    from camscan.reports.json_report import iter_json
    from camscan.scanner.options import scan_parameters, sweep_options
    from camscan.scanner.shards import parse_shard, shard_targets
    from camscan.scanner.targets import parse_ports, parse_targets

    targets, exclude = _strings(request, "targets"), _strings(request, "exclude")
    if not targets:
        raise UsageError("the request names no targets")
    ports_spec, shard_text = request.get("ports", "cameras"), request.get("shard")
    if not isinstance(ports_spec, str) or not (shard_text is None or isinstance(shard_text, str)):
        raise UsageError("request fields 'ports' and 'shard' must be strings")
    allow_large = request.get("allow_large", False) is True
    if allow_large and not config.allow_large:
        raise UsageError("this worker does not scan targets larger than a /16 (allow_large)")
    ports = parse_ports(ports_spec)
    target_set = parse_targets(targets, ports=ports, exclude=exclude, allow_large=allow_large)
    why = config.allow_list().refusal(target_set)
    if why is not None:
        raise UsageError(why)
    shard = parse_shard(shard_text) if shard_text else None
    options = sweep_options(config.limits)
    shard_name = str(shard) if shard else None
    parameters = scan_parameters(targets, ports, options, excluded=exclude, shard=shard_name)
    scan = trio.run(run_scan, shard_targets(target_set, shard), options, parameters)
    # No verdict: the central side judges every site's scans together.
    audit = AuditResult(scan=scan, findings=(), as_of=dt.datetime.now(dt.UTC))
    return "".join(iter_json(audit))
