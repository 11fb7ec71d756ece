"""`camscan demo`: start the built-in lab in-process, scan it, print and write the findings.

The README's first command: it needs no camera and no network beyond loopback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camscan.commands.lab import fleet_size
from camscan.reports import options as report_options
from camscan.rules import options as rule_options

if TYPE_CHECKING:
    from camscan.lab.fleet import LabSettings
    from camscan.model import AuditResult
    from camscan.remediate.ca import LocalCA
    from camscan.remediate.loop import LoopResult
    from camscan.remediate.model import DevicePlan
    from camscan.scanner.sweep import SweepOptions

DESCRIPTION = """\
Start the built-in lab of simulated cameras on 127.x loopback addresses (most healthy, a few
with each certificate problem camscan detects), scan it exactly as `camscan scan` would, print
the findings, then fix them: plan a fix per device (as `camscan fix`), carry out the automatic
steps through each simulated device's own API with a site CA made in --out/site-ca (as
`camscan fix --apply --move-to-site-ca`), and rescan. The summary gives the findings before
and after. --no-fix stops after the scan. Every report format is written into --out (default:
a new temporary directory). The lab's site CA is trusted (--trust site), as a site would trust
its own CA."""

EPILOG = """\
examples:
  camscan demo                       scan the built-in 45-device lab, fix it, rescan; reports in a temp dir
  camscan demo --no-fix              scan only: the findings and the reports
  camscan demo --out demo/           reports into demo/ (report.json, report.html, ...)
  camscan demo --as-of +30d          the same lab, judged 30 days from now
  camscan demo --fleet site.toml     your own fleet file"""

# The simulated devices reboot in half a second; a fix that waits longer than this is a failure.
REBOOT_TIMEOUT = 30.0
# Devices fixed at once: the lab runs in this process, so a few more than `camscan fix`'s 2.
PARALLEL = 4

# Report file names the demo fills in for each format the reports area provides.
DEFAULT_REPORTS = {"html": "report.html", "csv": "findings.csv", "junit": "junit.xml",
                   "prometheus": "camscan.prom", "jsonl": "report.jsonl", "sarif": "camscan.sarif"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR",
                        help="directory for the reports and the lab's CA bundles (created if needed; "
                        "default: a new temporary directory)")
    parser.add_argument("--fleet", metavar="FILE", help="fleet file (TOML) instead of the built-in fleet")
    parser.add_argument("--size", type=fleet_size(5000), metavar="N",
                        help="scale the fleet to N devices (same mix)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no tables and no plan: only the summary and the files written")
    parser.add_argument("--no-legacy-probe", dest="legacy_probe", action="store_false",
                        help="skip the TLS 1.0/1.1 probe")
    parser.add_argument("--no-fix", action="store_true",
                        help="stop after the scan: no fix plan, nothing sent to the simulated devices")
    rule_options.add_arguments(parser)
    # The demo trusts the lab's own site CA and never leaves loopback (no AIA fetches).
    parser.set_defaults(trust="site", offline=True)
    for action in parser._actions:
        if action.dest == "trust":
            action.help = ("site: the --ca-bundle files alone, with the lab's site CA (default for the "
                           "demo); public: Mozilla roots plus --ca-bundle")
    report_options.add_arguments(parser)


def _scenario_check(lab: Any, audit: Any) -> list[tuple[str, str, str, str, bool]]:
    """Per device: did the scan find at least the rules its scenario is meant to trigger?"""
    rows = []
    for device in lab.devices:
        found = {f.rule_id for f in audit.findings_for(device.endpoint)}
        expected = set(device.scenario.rules)
        ok = expected <= found if expected else not found
        rows.append((device.name, device.scenario.name, " ".join(sorted(expected)) or "-",
                     " ".join(sorted(found)) or "-", ok))
    return rows


def run(args: argparse.Namespace) -> int:
    import os
    import tempfile
    import time
    from pathlib import Path

    from camscan import runtime
    from camscan.errors import UsageError
    from camscan.lab import default_fleet, load_fleet, open_lab
    from camscan.pipeline import judge, run_scan
    from camscan.scanner.options import scan_parameters, sweep_options
    from camscan.scanner.output import render

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="camscan-demo-"))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {str(out)!r}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {str(out)!r}: not writable")
    fleet = load_fleet(args.fleet) if args.fleet is not None else default_fleet()
    for fmt, filename in DEFAULT_REPORTS.items():
        if getattr(args, fmt) is None:
            setattr(args, fmt, str(out / filename))
    authority = None if args.no_fix else _site_ca(out / "site-ca")
    if authority is not None:
        args.ca_bundle = [*args.ca_bundle, str(authority.cert_path)]
    # `camscan scan`'s sweep with its defaults (and --no-legacy-probe), at the demo's own
    # concurrency of 64.
    options = sweep_options(args, concurrency=64)
    started = time.perf_counter()

    async def main() -> _Run:
        async with open_lab(fleet, size=args.size, http_port=None, reboot_downtime=0.5) as lab:
            bundles = lab.write_bundles(out)
            args.ca_bundle = [*args.ca_bundle, str(bundles["site"])]
            ctx = rule_options.context_from_args(args, history=())
            endpoints = lab.endpoints()
            first, last = endpoints[0].address, endpoints[-1].address
            ports = sorted({e.port for e in endpoints})
            parameters = scan_parameters([f"{first}-{last}"], ports, options)
            jsonl = report_options.jsonl_callback(args, ctx)
            scan = await run_scan(endpoints, options, parameters, on_result=jsonl)
            audit = await judge(scan, ctx)
            result = _Run(audit, _scenario_check(lab, audit), bundles, len(endpoints),
                          time.perf_counter() - started)
            if not args.quiet:
                render(audit, sys.stdout)
                _print_checks(result.checks)
            if authority is None:
                return result

            async def rescan() -> AuditResult:
                again = await run_scan(endpoints, options, parameters)
                return await judge(again, rule_options.context_from_args(args, history=()))

            result.fix = await _fix_loop(audit, authority, lab.settings, options, rescan, out, args.quiet)
            return result

    done = runtime.run(main)
    return _finish(done, args, out)


def _print_checks(checks: list[tuple[str, str, str, str, bool]]) -> None:
    print("\nscenario check (planted problems -> rules that fired):")
    seen: set[str] = set()
    for name, scenario, expected, found, ok in checks:
        if scenario == "healthy" and ok and "healthy" in seen:
            continue  # one healthy line is enough unless one of them is wrong
        seen.add(scenario)
        mark = "ok " if ok else "MISSING"
        print(f"  {mark:<7} {name:<16} {scenario:<21} planted {expected:<34} found {found}")


@dataclass
class _Run:
    audit: AuditResult
    checks: list[tuple[str, str, str, str, bool]]
    bundles: dict[str, Path]
    count: int
    scan_seconds: float
    fix: _Fix | None = None


@dataclass(frozen=True)
class _Fix:
    plans: list[DevicePlan]
    loop: LoopResult | None  # None: no device had an automatic step
    seconds: float
    audit_log: Path


def _site_ca(directory: Path) -> LocalCA:
    """The site CA the demo's fixes come from: made on the first run, reused with the same --out."""
    from camscan.errors import UsageError
    from camscan.remediate.ca import LocalCA

    try:
        if (directory / "ca.pem").exists() or (directory / "ca.key").exists():
            return LocalCA.load(directory)
        return LocalCA.init(directory, common_name="camscan demo site CA")
    except OSError as exc:
        raise UsageError(f"--out: cannot make the demo's site CA in {str(directory)!r}: "
                         f"{exc.strerror or exc}") from None


async def _fix_loop(audit: AuditResult, authority: LocalCA, lab: LabSettings, sweep: SweepOptions,
                    rescan: Callable[[], Awaitable[AuditResult]], out: Path, quiet: bool) -> _Fix:
    """`camscan fix --apply --yes --move-to-site-ca` on the lab: plan, apply, rescan."""
    import time

    from camscan.remediate.apply import ApplyOptions
    from camscan.remediate.auditlog import AuditLog
    from camscan.remediate.drivers.base import Credentials
    from camscan.remediate.issuers.local import LocalIssuer
    from camscan.remediate.loop import apply_and_rescan
    from camscan.remediate.plan import PlanOptions, plan_fixes

    plans = plan_fixes(audit, PlanOptions(ca_dir=str(authority.directory), user=lab.username,
                                          move_to_site_ca=True))
    if not quiet:
        _print_plan(plans)
    log_path = authority.directory / "audit.log"
    if not any(p.automatic for p in plans):
        return _Fix(plans, None, 0.0, log_path)
    # The simulated devices' documented password (printed by `camscan lab`); never a real one.
    credentials = Credentials(lab.username, lab.password)
    options = ApplyOptions(backup_dir=authority.directory / "backups", parallel=PARALLEL,
                           reboot_timeout=REBOOT_TIMEOUT, connect_timeout=sweep.connect_timeout,
                           handshake_timeout=sweep.handshake_timeout)

    if not quiet:
        print(f"\napplying the automatic steps through the devices' APIs ({PARALLEL} at a time), then "
              "rescanning...", flush=True)
    log = AuditLog(log_path, secrets=(lab.password,))
    started = time.perf_counter()
    try:
        loop = await apply_and_rescan(
            plans, LocalIssuer(authority), lambda _address: credentials, options, log, rescan
        )
    finally:
        log.close()
    if not quiet:
        import camscan.remediate.render as fix_render

        sys.stdout.write(fix_render.outcome_text(loop.outcomes))
    return _Fix(plans, loop, time.perf_counter() - started, log.path)


def _print_plan(plans: list[DevicePlan]) -> None:
    automatic = sum(1 for p in plans if p.automatic)
    print(f"\nfix plan ({len(plans)} devices with findings, {automatic} with automatic steps; "
          "every step and command in fix.json):")
    for plan in plans:
        steps = ", ".join(
            str(step.strategy) if step.automatic or step.strategy == "manual" else f"{step.strategy} (manual)"
            for step in plan.steps
        )
        print(f"  {plan.endpoint!s:<20} {plan.driver or '?':<10} {' '.join(plan.findings):<41} {steps}")


def _finish(done: _Run, args: argparse.Namespace, out: Path) -> int:
    import json

    from camscan.reports.json_report import iter_json
    from camscan.scanner.output import plural
    from camscan.termtext import json_safe

    audit, fix = done.audit, done.fix
    document = None
    if fix is not None:
        import camscan.remediate.render as fix_render

        outcomes = list(fix.loop.outcomes) if fix.loop else []
        document = fix_render.fix_document(fix.plans, as_of=audit.as_of, applied=bool(outcomes),
                                           outcomes=outcomes)
    # Every file is written once the run is over, all of them or none: an interrupted demo or a
    # full disk leaves none half-made.
    written = [str(out / "report.json")]
    extra: dict[str, Iterable[str | bytes]] = {}
    if fix is not None and document is not None:
        extra[str(out / "fix.json")] = [json_safe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"]
        if fix.loop is not None:
            extra[str(out / "rescan.json")] = iter_json(fix.loop.after)
    written += report_options.write_reports(audit, args, fix_plans=document["devices"] if document else (),
                                            json_target=written[0], extra_files=extra)
    written += list(extra)
    matched = sum(1 for c in done.checks if c[4])
    if not args.quiet:
        print()
    print(f"camscan demo: scanned {done.count} simulated cameras in {done.scan_seconds:.1f} s: "
          f"{plural(len(audit.findings), 'finding')}; {matched}/{len(done.checks)} "
          "devices showed what their scenario plants")
    if fix is not None:
        print(_fix_summary(audit, fix))
    print(f"  lab site CA:  {done.bundles['site']}")
    if fix is not None:
        print(f"  demo site CA: {fix.audit_log.parent / 'ca.pem'} (issues the fixes)")
        print(f"  audit log:    {fix.audit_log}")
    for path in written:
        print(f"  wrote {path}")
    # --fail-on (default none: the demo is meant to find problems) judges the first scan, the one
    # the reports describe.
    return report_options.exit_code(audit, args)


def _fix_summary(before: AuditResult, fix: _Fix) -> str:
    from camscan.remediate.loop import answering
    from camscan.remediate.model import Status
    from camscan.scanner.output import plural

    automatic = sum(1 for p in fix.plans if p.automatic)
    head = (f"  fix: {plural(len(fix.plans), 'device')} with findings, {automatic} with automatic steps")
    if fix.loop is None:
        return head + "; nothing to apply"
    loop, after = fix.loop, fix.loop.after
    counts = ", ".join(f"{loop.count(s)} {s.value.replace('_', ' ')}" for s in Status)
    seen_before, seen_after = answering(before), answering(after)
    silent = len(seen_before - seen_after)
    return (f"{head}, applied through the devices' APIs and rescanned in {fix.seconds:.1f} s: {counts}\n"
            f"  findings before: {len(before.findings)} on {len(seen_before)} answering endpoints; "
            f"after: {len(after.findings)} on {len(seen_after)} answering endpoints"
            + (f" ({silent} did not answer the rescan)" if silent else ""))
