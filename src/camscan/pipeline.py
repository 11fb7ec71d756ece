"""scan -> judge: the two steps every command (scan, audit, demo) shares.

`run_scan` sweeps and returns a deterministic ScanResult; `judge` runs the trust prefetch and
the rule registry. Commands add I/O around these.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping

import trio

from camscan.model import (
    AuditContext,
    AuditResult,
    Endpoint,
    Observation,
    ProbeFailure,
    ScanParameters,
    ScanResult,
)
from camscan.reports.json_report import endpoint_order
from camscan.scanner.sweep import ResultCallback, SweepOptions, sweep
from camscan.scanner.targets import TargetSet


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sort_observations(observations: Iterable[Observation]) -> tuple[Observation, ...]:
    return tuple(sorted(observations, key=lambda o: endpoint_order(o.endpoint)))


def sort_failures(failures: Iterable[ProbeFailure]) -> tuple[ProbeFailure, ...]:
    # A /16 holds 65,534 of them at once, and sorted() keeps every key alive until it is done:
    # one integer per failure (version, address and port packed) instead of a tuple; the rare
    # ties (one address and port under several host names or stages) are ordered after.
    def packed(failure: ProbeFailure) -> int:
        version, value, port, _ = endpoint_order(failure.endpoint)
        return ((version << 128) | value) << 16 | port

    ordered = sorted(failures, key=packed)
    if any(packed(a) == packed(b) for a, b in itertools.pairwise(ordered)):
        ordered.sort(key=lambda f: (*endpoint_order(f.endpoint), f.stage.value, f.kind.value))
    return tuple(ordered)


async def run_scan(
    endpoints: Iterable[Endpoint],
    options: SweepOptions,
    parameters: ScanParameters,
    *,
    on_result: ResultCallback | None = None,
) -> ScanResult:
    """Sweep `endpoints` (an iterable of Endpoint, or a TargetSet with host names).

    A TargetSet goes through host discovery first (options.discovery, docs/discovery.md): the
    sweep then connects only to what answered.
    """
    started = _now()
    summary = None
    found: list[ProbeFailure] = []
    prepared = None
    if isinstance(endpoints, TargetSet) and options.discovery != "none":
        from camscan.scanner.discovery.stage import prepare

        prepared = prepare(endpoints, options)
    if prepared is None:
        observations, failures = await sweep(endpoints, options, on_result=on_result)
    else:
        from camscan.scanner.discovery.stage import discover

        # Discovery hands each live endpoint over as soon as its host answers: the sweep
        # connects to it while discovery still listens for the rest.
        send, receive = trio.open_memory_channel[Endpoint](math.inf)
        async with trio.open_nursery() as nursery:

            async def run_discovery() -> None:
                nonlocal summary
                outcome = await discover(prepared, options, send)
                summary = outcome.summary
                found.extend(outcome.failures)
                if on_result is not None:
                    for failure in outcome.failures:
                        on_result(failure)

            nursery.start_soon(run_discovery)
            assert isinstance(endpoints, TargetSet)  # prepare() ran on it
            observations, failures = await sweep(receive, options, on_result=on_result, names=endpoints)
    if summary is not None and summary.macs:
        observations = [with_discovered_mac(o, summary.macs) for o in observations]
    return ScanResult(
        parameters=parameters,
        started_at=started,
        finished_at=_now(),
        observations=sort_observations(observations),
        failures=sort_failures([*failures, *found]),
        discovery=summary,
    )


def with_discovered_mac(observation: Observation, macs: Mapping[str, str]) -> Observation:
    """The ARP sweep's MAC (and its OUI vendor) where the sweep's own identity sources found none."""
    mac = macs.get(observation.endpoint.address)
    identity = observation.identity
    if mac is None or identity.mac is not None:
        return observation
    from camscan.scanner.identity import oui_vendor

    found = dataclasses.replace(identity, mac=mac, vendor=identity.vendor or oui_vendor(mac))
    return dataclasses.replace(observation, identity=found)


async def judge(scan: ScanResult, ctx: AuditContext) -> AuditResult:
    """Prefetch what trust decisions need (AIA, unless offline), then evaluate every rule."""
    # Imported on first use: importing this module for run_scan alone loads neither the rules
    # nor cryptography.
    from camscan.rules.registry import evaluate, judging_fingerprint
    from camscan.rules.trust import prefetch

    await prefetch(scan.observations, ctx)
    findings = evaluate(scan.observations, ctx)
    return AuditResult(scan=scan, findings=tuple(findings), as_of=ctx.now, judging=judging_fingerprint(ctx))
