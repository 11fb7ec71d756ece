"""Combine the JSON reports of several shards (or several sites) into one scan, to judge again.

Refused, with one line naming the files: reports of different camscan versions or rule sets
(the rules fingerprint), judged with other settings than the merge's (the judging fingerprint:
trust mode, anchors, intermediates, offline, thresholds), shards of different splits (2/3 next
to 1/4), audit clocks farther apart than `max_skew`, and, unless `duplicates="latest"`, an
endpoint present in two reports.

The merged observations are judged again, all together: several verdicts compare devices with
each other (CS401 shared key, CS402 shared certificate, the chain verdict's "this CA signs the
leaves of N devices in this scan"), and a shard saw only its own devices. A report does not
carry the audit history, so a finding of a fleet rule a shard made from its history (CS404 in
`camscan audit`) is kept when judging again does not make it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from camscan.errors import UsageError
from camscan.model import (
    AuditResult,
    DiscoveryMethodStats,
    DiscoverySummary,
    Endpoint,
    Finding,
    MergeCoverage,
    Observation,
    ProbeFailure,
    ScanResult,
)
from camscan.reports.json_load import LoadedReport
from camscan.reports.json_report import endpoint_order
from camscan.rules.registry import all_rules, rules_fingerprint

DUPLICATE_CHOICES: tuple[str, ...] = ("refuse", "latest")


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def check_compatible(reports: Sequence[LoadedReport], *, judging: str, max_skew: dt.timedelta) -> None:
    """UsageError unless the reports may be merged and judged again with settings `judging`."""
    if not reports:
        raise UsageError("no reports to merge")
    first = reports[0]
    ours = rules_fingerprint()
    for report in reports:
        if report.rules_fingerprint is None:
            raise UsageError(
                f"{report.path}: records no rules fingerprint (schema {report.schema_version}); "
                "scan again with this camscan to merge it"
            )
        if report.tool_version != first.tool_version:
            raise UsageError(
                f"{report.path} was written by camscan {report.tool_version}, {first.path} by "
                f"{first.tool_version}: merge reports of one camscan version"
            )
        if report.rules_fingerprint != first.rules_fingerprint:
            theirs, mine = report.rules_fingerprint[:19], (first.rules_fingerprint or "")[:19]
            raise UsageError(
                f"{report.path} and {first.path} were judged by different rule sets (rules "
                f"fingerprints {theirs}... and {mine}...)"
            )
    if first.rules_fingerprint != ours:
        # The merge judges again: with other rules than the shards had, the merged report would
        # mix two rule sets (and the reports' findings would not be this camscan's).
        raise UsageError(
            f"{first.path} was judged by another rule set than this camscan's (rules fingerprint "
            f"{(first.rules_fingerprint or '')[:19]}..., this camscan {ours[:19]}...): merge with the "
            "camscan that scanned"
        )
    for report in reports:
        if report.audit.judging is None:
            raise UsageError(f"{report.path}: records no judging fingerprint; scan again with this camscan")
        if report.audit.judging != judging:
            raise UsageError(
                f"{report.path} was judged with other settings than this merge's: pass the "
                "--ca-bundle, --trust, --intermediates, --offline and --expiry-warn it was scanned with"
            )
    counts = {report.shard.split("/")[1] for report in reports if report.shard}
    if len(counts) > 1:
        raise UsageError(
            "the reports come from different splits ("
            + ", ".join(f"{r.path}: shard {r.shard}" for r in reports if r.shard)
            + ")"
        )
    _check_one_split(reports)
    earliest = min(reports, key=lambda r: r.audit.as_of)
    latest = max(reports, key=lambda r: r.audit.as_of)
    if latest.audit.as_of - earliest.audit.as_of > max_skew:
        raise UsageError(
            f"the audit clocks of {earliest.path} ({earliest.audit.as_of:%Y-%m-%dT%H:%M:%SZ}) and "
            f"{latest.path} ({latest.audit.as_of:%Y-%m-%dT%H:%M:%SZ}) are "
            f"{latest.audit.as_of - earliest.audit.as_of} apart, more than --max-skew "
            f"{_seconds(max_skew)}"
        )


def _check_one_split(reports: Sequence[LoadedReport]) -> None:
    """Shards are slices of one target set: shard 1/3 of one estate and 2/3 of another do not
    make two thirds of anything. The same targets, ports and exclusions give the same split."""
    sharded = [r for r in reports if r.shard]
    if not sharded:
        return
    first = sharded[0]

    def target_set(report: LoadedReport) -> tuple[tuple[str, ...], tuple[int, ...], tuple[str, ...]]:
        params = report.audit.scan.parameters
        return params.targets, params.ports, params.excluded

    for report in sharded[1:]:
        if target_set(report) != target_set(first):
            raise UsageError(
                f"{report.path} (shard {report.shard}) and {first.path} (shard {first.shard}) are "
                "shards of different target sets (targets, ports or exclusions differ): they do "
                "not form one split"
            )


def coverage(reports: Sequence[LoadedReport]) -> MergeCoverage:
    """What the merged report covers: the reports, their shards and the split's missing ones."""
    shards = sorted({r.shard for r in reports if r.shard}, key=lambda s: int(s.split("/")[0]))
    return MergeCoverage(
        reports=len(reports), shards=tuple(shards), missing_shards=tuple(missing_shards(reports))
    )


def _seconds(delta: dt.timedelta) -> str:
    return f"{int(delta.total_seconds())}s"


def missing_shards(reports: Sequence[LoadedReport]) -> list[str]:
    """Shards of the split the reports come from that none of them is (['2/3']), for a note."""
    shards = {r.shard for r in reports if r.shard}
    if not shards:
        return []
    count = int(next(iter(shards)).split("/")[1])
    return [f"{i}/{count}" for i in range(1, count + 1) if f"{i}/{count}" not in shards]


def combine(reports: Sequence[LoadedReport], *, duplicates: str = "refuse") -> ScanResult:
    """One scan of every report's observations and failures (check_compatible them first)."""
    if duplicates not in DUPLICATE_CHOICES:
        raise UsageError(f"--duplicates {duplicates!r}: expected one of {', '.join(DUPLICATE_CHOICES)}")
    owner = _owners(reports, duplicates)
    observations: list[Observation] = []
    failures: list[ProbeFailure] = []
    for index, report in enumerate(reports):
        observations += [o for o in report.audit.scan.observations if owner[o.endpoint] == index]
        failures += [f for f in report.audit.scan.failures if owner[f.endpoint] == index]
    first = reports[0].audit.scan.parameters
    parameters = replace(
        first,
        targets=_unique([t for r in reports for t in r.audit.scan.parameters.targets]),
        ports=tuple(sorted({p for r in reports for p in r.audit.scan.parameters.ports})),
        excluded=_unique([e for r in reports for e in r.audit.scan.parameters.excluded]),
        shard=None,
        merge=coverage(reports),
    )
    return ScanResult(
        parameters=parameters,
        started_at=min(r.audit.scan.started_at for r in reports),
        finished_at=max(r.audit.scan.finished_at for r in reports),
        # The order run_scan gives (camscan.pipeline's sort_observations and sort_failures).
        observations=tuple(sorted(observations, key=lambda o: endpoint_order(o.endpoint))),
        failures=tuple(
            sorted(failures, key=lambda f: (*endpoint_order(f.endpoint), f.stage.value, f.kind.value))
        ),
        discovery=combine_discovery([r.audit.scan.discovery for r in reports]),
    )


def combine_discovery(sections: Sequence[DiscoverySummary | None]) -> DiscoverySummary | None:
    """The shards' discovery stages as one: counts added per method, the slowest method's time,
    every address's found_by, notes once each. None when no shard had a discovery stage."""
    present = [s for s in sections if s is not None]
    if not present:
        return None
    methods: dict[str, DiscoveryMethodStats] = {}
    for section in present:
        for m in section.methods:
            seen = methods.get(m.method)
            methods[m.method] = m if seen is None else DiscoveryMethodStats(
                m.method, seen.addresses + m.addresses, seen.alive + m.alive, seen.packets + m.packets,
                max(seen.seconds, m.seconds))
    requested = {s.requested for s in present}
    return DiscoverySummary(
        requested=present[0].requested if len(requested) == 1 else "auto",
        privileged=all(s.privileged for s in present),
        rate=max(s.rate for s in present),
        retries=max(s.retries for s in present),
        methods=tuple(methods.values()),
        found_by={a: how for s in present for a, how in s.found_by.items()},
        macs={a: mac for s in present for a, mac in s.macs.items()},
        unreachable=sum(s.unreachable for s in present),
        notes=_unique([n for s in present for n in s.notes]),
    )


def _owners(reports: Sequence[LoadedReport], duplicates: str) -> dict[Endpoint, int]:
    """Which report each endpoint comes from; with "latest", the newest sighting wins (the later
    report on a tie)."""
    owner: dict[Endpoint, int] = {}
    when = [_sightings(report) for report in reports]
    for index, report in enumerate(reports):
        for endpoint in when[index]:
            previous = owner.get(endpoint)
            if previous is None:
                owner[endpoint] = index
            elif duplicates == "refuse":
                raise UsageError(
                    f"{endpoint} is in both {reports[previous].path} and {report.path} (overlapping "
                    "shards, or one report given twice); --duplicates latest keeps the newer one"
                )
            elif when[index][endpoint] >= when[previous][endpoint]:
                owner[endpoint] = index
    return owner


def keep_history_findings(audit: AuditResult, reports: Sequence[LoadedReport]) -> AuditResult:
    """`audit` (the merged scan judged again) plus each shard's fleet-rule findings on its own
    endpoints that judging again did not make (they rest on the shard's audit history)."""
    fleet_ids = {rule.id for rule in all_rules() if rule.check_fleet is not None}
    made = {(f.rule_id, f.endpoint) for f in audit.findings}
    # Observations by identity: judging keeps the very objects combine() chose.
    kept = {id(o) for o in audit.scan.observations}
    extra: list[Finding] = []
    for report in reports:
        own = {o.endpoint: o for o in report.audit.scan.observations}
        for finding in report.audit.findings:
            if (
                finding.rule_id in fleet_ids
                and (finding.rule_id, finding.endpoint) not in made
                # The endpoint's merged observation is this report's, not a duplicate's.
                and id(own.get(finding.endpoint)) in kept
            ):
                extra.append(finding)
    if not extra:
        return audit
    findings = [*audit.findings, *extra]
    # The order evaluate() gives every audit.
    findings.sort(key=lambda f: (f.endpoint.sort_key, -f.severity.rank, f.rule_id, f.message))
    return replace(audit, findings=tuple(findings))


def _sightings(report: LoadedReport) -> dict[Endpoint, dt.datetime]:
    """Each endpoint of the report with its latest observed_at."""
    latest: dict[Endpoint, dt.datetime] = {}
    scan = report.audit.scan
    items: tuple[Observation | ProbeFailure, ...] = (*scan.observations, *scan.failures)
    for item in items:
        seen = latest.get(item.endpoint)
        if seen is None or item.observed_at > seen:
            latest[item.endpoint] = item.observed_at
    return latest
