"""`camscan fix TARGET...`: scan, plan a fix per device, and (with --apply) carry it out.

Dry run by default: the plan is printed (and written with --json/--html); nothing but the scan
reaches a device. `--apply` installs through each device's own API, then rescans.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from camscan.argtypes import positive
from camscan.reports import options as report_options
from camscan.rules import options as rule_options
from camscan.scanner import options as scanner_options

if TYPE_CHECKING:
    from camscan.model import AuditResult, Endpoint
    from camscan.remediate.issuers.base import Issuer
    from camscan.remediate.model import DevicePlan, Outcome

DRIVERS = ("onvif", "hikvision", "axis", "dahua")

DESCRIPTION = """\
Scan, then print what to do about every finding, device by device: the strategy (set the
clock, reboot, re-issue from the site CA, a new key, trust the device CA, or manual steps), the
camscan commands and their openssl equivalents. Nothing is sent to a device without --apply.

  camscan fix 192.0.2.0/24 --ca ./site-ca                          # the plan (dry run)
  camscan fix 192.0.2.0/24 --ca ./site-ca --json fix.json --html fix.html
  CAMSCAN_PASSWORD=... camscan fix 192.0.2.0/24 --ca ./site-ca --user admin --apply --yes

With --apply, per device: read its facts, keep a copy of its certificate, set its clock, install
a site-CA certificate (key made on the device + CSR where it can), reboot where needed, wait for
it, and rescan every target: each device ends fixed (nothing left), improved (only findings left
to a person), not_fixed, skipped (manual plan) or failed.
Passwords come from $CAMSCAN_PASSWORD, --credentials FILE (0600) or a prompt, never argv."""

EPILOG = """\
exit codes: 0 plan printed / every device fixed, improved or skipped; 1 findings: a finding an
automatic step targeted remains (not_fixed) or is unknown (failed); 2 bad input; 3 the run could
not complete; 130 interrupted; 141 stdout closed by its reader."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="+", metavar="TARGET", help="what to scan (as `camscan scan`)")
    scanner_options.add_arguments(parser)
    rule_options.add_arguments(parser)
    plan = parser.add_argument_group("plan")
    plan.add_argument(
        "--ca",
        metavar="DIR",
        help="the site CA (`camscan ca init --dir DIR`): its ca.pem "
        "counts as trusted, as it will be once imported on the clients",
    )
    plan.add_argument(
        "--issuer",
        default="local",
        metavar="NAME",
        help="where new certificates come from: local (the --ca site CA, default) or an issuer "
        "of --issuers FILE (command, est, acme; see docs/issuers.md)",
    )
    plan.add_argument("--issuers", metavar="FILE", help="the issuer file (TOML, no secrets in it)")
    plan.add_argument(
        "--move-to-site-ca",
        action="store_true",
        help="devices on their firmware's built-in CA move to the site CA (default: trust the "
        "built-in CA on clients and reboot when the certificate is stale)",
    )
    plan.add_argument(
        "--driver", choices=DRIVERS, help="device API to use (default: from what the scan learnt)"
    )
    plan.add_argument("--json", metavar="FILE", help="the plan (and outcomes) as fix-v1 JSON, '-' for stdout")
    plan.add_argument("--html", metavar="FILE", help="the HTML report with a 'How to fix' section")
    plan.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    apply = parser.add_argument_group("apply (acting on devices)")
    apply.add_argument("--apply", action="store_true", help="carry out the automatic steps (asks first)")
    apply.add_argument("--yes", action="store_true", help="do not ask (needed when not on a terminal)")
    apply.add_argument("--user", help="device user name (password: $CAMSCAN_PASSWORD or a prompt)")
    apply.add_argument("--credentials", metavar="FILE", help="TOML credentials per device or subnet (0600)")
    apply.add_argument("--password", help=argparse.SUPPRESS)
    apply.add_argument(
        "--parallel", type=_parallel, default=2, help="devices at once (default 2, at most 16)"
    )
    apply.add_argument(
        "--reboot-timeout",
        type=positive(float, unit="seconds"),
        default=180.0,
        metavar="S",
        help="how long a rebooting device may take to come back (default 180 s)",
    )
    apply.add_argument(
        "--ntp-server",
        type=_ntp_server,
        metavar="HOST",
        help="a device on NTP whose clock is wrong gets this NTP server (ONVIF SetNTP); without it the "
        "clock is set once and the device stays on NTP. NTP mode and time zone are never changed",
    )
    apply.add_argument("--stop-on-failure", action="store_true", help="start no new device after a failure")
    apply.add_argument(
        "--audit-log", metavar="FILE", help="append-only log of every action (default: STATE/audit.log)"
    )
    apply.add_argument(
        "--state",
        metavar="DIR",
        help="where backups and the audit log go (default: the --ca directory; needed with "
        "another issuer and no --ca)",
    )


def _parallel(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError("between 1 and 16 (cameras are fragile)")
    return value


def _ntp_server(text: str) -> str:
    import ipaddress
    import re

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    label = r"[A-Za-z0-9-]{1,63}"
    if len(text) > 253 or not re.fullmatch(rf"({label}\.)*{label}\.?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address or host name")
    return text


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import camscan.remediate.render as render
    from camscan import runtime
    from camscan.errors import UsageError
    from camscan.pipeline import judge, run_scan
    from camscan.remediate.plan import PlanOptions, plan_fixes

    if args.password is not None:
        raise UsageError(
            "passwords are never taken from the command line (it shows in `ps` and shell "
            "history): set CAMSCAN_PASSWORD, use --credentials FILE, or answer the prompt"
        )
    if args.apply and not args.ca and args.issuer == "local":
        raise UsageError("--apply needs --ca DIR (the site CA the new certificates come from)")
    state = args.state or args.ca
    if args.apply and not state:
        raise UsageError(f"--apply --issuer {args.issuer} needs --state DIR (backups and the audit log)")
    if args.ca:
        from camscan.remediate.ca import LocalCA

        args.ca_bundle = [*args.ca_bundle, str(LocalCA.load(args.ca).cert_path)]
    if args.html == "-":
        raise UsageError("--html -: the fix report's HTML goes to a file (only --json can take stdout)")
    issuer = None
    days = 0
    if args.apply or args.issuer != "local":
        from camscan.remediate.issuers.config import build, lifetime, read_file
        from camscan.remediate.issuers.local import LocalIssuer

        file = read_file(args.issuers) if args.issuers else None
        issuer = build(args.issuer, file, ca_dir=args.ca)
        days = lifetime(file, args.issuer)
        if args.apply and isinstance(issuer, LocalIssuer):
            # The site CA key's passphrase is asked (or its absence refused) before any device is touched.
            issuer.ca.key  # noqa: B018
        if args.issuer != "local":
            # The rescan judges the new certificates as the clients will: trusting the
            # issuer's roots (which the clients import).
            args.ca_bundle = [*args.ca_bundle, *_issuer_roots(issuer, state)]
    for flag, value in (("--json", args.json), ("--html", args.html)):
        if value and value != "-":
            report_options.check_output_path(flag, value)
    store = None
    if args.apply:
        import camscan.remediate.credentials as credentials

        store = credentials.resolve(args.user, args.credentials)
    sweep = scanner_options.sweep_from_args(args)

    async def scan_and_judge() -> AuditResult:
        from camscan.scanner.output import progress_bar

        ctx = rule_options.context_from_args(args)
        with progress_bar(sweep.targets.estimated_size(), enabled=not args.quiet) as advance:
            scan = await run_scan(sweep.targets, sweep.options, sweep.parameters, on_result=advance)
        return await judge(scan, ctx)

    audit = runtime.run(scan_and_judge)
    plans = plan_fixes(
        audit,
        PlanOptions(
            ca_dir=args.ca or "./site-ca",
            user=args.user or "admin",
            move_to_site_ca=args.move_to_site_ca,
            driver=args.driver,
            issuer=None if args.issuer == "local" else args.issuer,
            issuers=args.issuers,
        ),
    )
    out = sys.stderr if args.json == "-" else sys.stdout
    out.write(render.plan_text(plans, applying=args.apply))
    outcomes: list[Outcome] = []
    final = audit
    if args.apply and plans:
        assert issuer is not None and store is not None and state is not None
        if not _consent(args, plans, out):
            out.write("Nothing applied.\n")
            return 0
        from camscan.remediate.apply import ApplyOptions, apply_plans, judge_outcomes
        from camscan.remediate.auditlog import AuditLog
        from camscan.remediate.issuers.config import secrets_of

        log = AuditLog(
            args.audit_log or Path(state) / "audit.log", secrets=(*store.secrets(), *secrets_of(issuer))
        )
        options = ApplyOptions(
            backup_dir=Path(state) / "backups",
            parallel=args.parallel,
            days=days,
            reboot_timeout=args.reboot_timeout,
            stop_on_failure=args.stop_on_failure,
            connect_timeout=sweep.options.connect_timeout,
            handshake_timeout=sweep.options.handshake_timeout,
            ntp_server=args.ntp_server,
        )

        def progress(outcome: Outcome) -> None:
            # Before the rescan a device is only "applied": fixed is what the rescan shows.
            word = "applied" if outcome.status.value == "fixed" else outcome.status.value
            out.write(f"  {word:<8} {outcome.endpoint}\n")
            out.flush()

        try:
            applied = runtime.run(
                lambda: apply_plans(plans, issuer, store.for_address, options, log, on_outcome=progress)
            )
            out.write("Rescanning...\n")
            final = runtime.run(scan_and_judge)
        finally:
            log.close()
        after: dict[Endpoint, set[str]] = {}
        for finding in final.findings:
            after.setdefault(finding.endpoint, set()).add(finding.rule_id)
        reachable = {obs.endpoint for obs in final.scan.observations}
        outcomes = judge_outcomes(applied, plans, after, reachable)
        out.write(render.outcome_text(outcomes))
        out.write(_before_after(audit, final) + f"; audit log: {log.path}\n")
    document = render.fix_document(plans, as_of=audit.as_of, applied=bool(outcomes), outcomes=outcomes)
    # Every output rendered first, then the files written together: both or neither.
    files: dict[str, bytes] = {}
    text = None
    if args.json:
        import json

        from camscan.termtext import json_safe

        text = json_safe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
        if args.json != "-":
            files[args.json] = text.encode("utf-8")
    if args.html:
        from camscan.reports.html_report import render_html

        files[args.html] = render_html(final, fix_plans=document["devices"]).encode("utf-8")
    if files:
        from camscan.atomic import write_all_atomic
        from camscan.errors import CamscanError

        try:
            write_all_atomic(files)
        except OSError as exc:
            raise CamscanError(f"cannot write the fix reports: {exc.strerror or exc}") from exc
    if args.json == "-" and text is not None:
        sys.stdout.write(text)
    # 1 means findings: a finding an automatic step targeted is still there (or unknown, the
    # device did not answer); improved (only manual steps left) and skipped are not that.
    bad = any(o.status.value in ("not_fixed", "failed") for o in outcomes)
    return 1 if bad else 0


def _before_after(before: AuditResult, after: AuditResult) -> str:
    """Findings before and after, counting a device that did not answer the rescan as silent
    (its findings are unknown), never as one without findings."""
    answered = {obs.endpoint for obs in after.scan.observations}
    silent = sorted({obs.endpoint for obs in before.scan.observations} - answered, key=str)
    known = sum(1 for f in before.findings if f.endpoint not in silent)
    text = f"findings before: {len(before.findings)}, after: {len(after.findings)}"
    if silent:
        text += (
            f" ({len(silent)} device(s) did not answer the rescan, so their findings are unknown: "
            f"{' '.join(str(e) for e in silent[:10])}{' ...' if len(silent) > 10 else ''}; "
            f"before on the devices that answered: {known})"
        )
    return text


def _issuer_roots(issuer: Issuer, state: str | None) -> list[str]:
    """The issuer's trust anchors as a PEM file the scanner reads (none: nothing to add)."""
    import atexit
    import os
    import tempfile
    from pathlib import Path

    from camscan import pki, runtime
    from camscan.atomic import write_bytes_atomic

    anchors = runtime.run(issuer.trust_anchors)
    if not anchors:
        return []
    if state:
        Path(state).mkdir(mode=0o700, parents=True, exist_ok=True)
        target = Path(state) / f"issuer-{issuer.name}-roots.pem"
    else:  # a dry run without --state: a file for this run only
        handle, name = tempfile.mkstemp(prefix="camscan-issuer-", suffix=".pem")
        os.close(handle)
        target = Path(name)
        atexit.register(target.unlink, missing_ok=True)
    write_bytes_atomic(target, pki.pem_chain(anchors), mode=0o644)
    return [str(target)]


def _consent(args: argparse.Namespace, plans: Sequence[DevicePlan], out: TextIO) -> bool:
    from camscan.errors import UsageError

    automatic = [p for p in plans if p.automatic]
    out.write(
        f"About to change {len(automatic)} device(s): "
        + ", ".join(str(p.endpoint) for p in automatic[:20])
        + (" ..." if len(automatic) > 20 else "")
        + "\n"
    )
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError("--apply changes devices: confirm with --yes when not on a terminal")
    answer = input("Apply these fixes? Type 'yes': ")
    return answer.strip().lower() == "yes"
