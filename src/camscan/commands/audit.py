"""`camscan audit --config camscan.toml`: the scheduled audit.

lock -> open history (fails fast on a corrupt database, before any scanning) -> scan -> judge
(with the history, so CS404 sees devices that moved) -> record the run and prune the runs beyond
[history] keep_runs / keep_days (one transaction) -> diff against the previous run -> compact the
database when worthwhile -> notify if something changed -> write the reports.

Notifications go out before the reports are written: a full disk for the HTML report must not
swallow the one message that says a certificate changed.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from camscan.reports import options as report_options
from camscan.rules import options as rule_options

if TYPE_CHECKING:
    from camscan.config import AuditConfig
    from camscan.model import AuditResult

DESCRIPTION = """\
Run the audit a TOML config describes: sweep its targets, judge every certificate, write the
configured reports, record the run in the SQLite history, compare it with the previous run and
send notifications (webhook, e-mail) when something changed. A second audit started while one
is running exits at once with code 4. See examples/camscan.toml for every key."""

EPILOG = """\
examples:
  camscan audit --config /etc/camscan/camscan.toml
  camscan audit --config camscan.toml --quiet      # for cron: silent unless something changed
  camscan audit --config camscan.toml --check      # validate the config only

exit codes: 0 ok, 1 findings at or above fail_on, 2 bad config, 3 run failed (corrupt history,
notification not delivered, a renewal failed), 4 another audit holds the lock."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", required=True, metavar="FILE", help="the audit config (TOML)")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing on stdout unless something changed or failed (for cron)",
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the config, print what it resolves to, and exit"
    )
    parser.add_argument(
        "--no-notify", action="store_true", help="record and diff as usual, but send no notification"
    )
    parser.add_argument(
        "--as-of",
        metavar="DATETIME",
        help="judge (and plan renewals) as if it were this moment (ISO-8601), e.g. to rehearse a renewal",
    )


def option_namespace(cfg: AuditConfig) -> argparse.Namespace:
    """Parse the config's trust/threshold/output settings with the scan command's own parsers."""
    from camscan.errors import UsageError

    parser = argparse.ArgumentParser(prog=str(cfg.path), add_help=False, exit_on_error=False)
    rule_options.add_arguments(parser)
    report_options.add_arguments(parser)
    try:
        namespace, extra = parser.parse_known_args([*cfg.rules_argv(), *cfg.reports_argv()])
    except argparse.ArgumentError as exc:
        raise UsageError(f"{cfg.path}: {exc}") from None
    if extra:
        raise UsageError(f"{cfg.path}: settings not understood by this camscan: {' '.join(extra)}")
    return namespace


def _print_check(cfg: AuditConfig) -> None:
    print(f"config {cfg.path}: ok")
    for site in cfg.sites.sites if cfg.sites else ():
        print(f"  site {site.name}: queue {site.queue}, targets {', '.join(site.targets)}  "
              f"ports: {site.ports}")
    if cfg.sites is None:
        print(f"  targets:  {', '.join(cfg.scan.targets)}  ports: {cfg.scan.ports}")
    if cfg.scan.exclude:
        print(f"  exclude:  {', '.join(cfg.scan.exclude)}")
    print(f"  history:  {cfg.history_path}")
    print(f"  keep:     {cfg.keep_runs or 'unlimited'} runs, {cfg.keep_days or 'unlimited'} days")
    print(f"  lock:     {cfg.lock_path}")
    for kind, target in cfg.outputs.items():
        print(f"  {kind + ':':<9} {target}")
    channels = [name for name, on in (("webhook", cfg.webhook), ("e-mail", cfg.email)) if on is not None]
    print(f"  notify:   {', '.join(channels) if channels else 'none'}")
    if cfg.issuer is not None:
        applied = "applied ([fix] renew = true)" if cfg.fix.renew else "planned only"
        days = cfg.issuer.renew_before_days
        print(f"  issuer:   {cfg.issuer.name}, renew {days} days before expiry, {applied}")


def _summary_line(run_id: int, audit: AuditResult) -> str:
    counts = {"error": 0, "warning": 0, "notice": 0}
    for finding in audit.findings:
        counts[finding.severity.value] += 1
    scan = audit.scan
    return (
        f"run {run_id}: {_count(len(scan.observations), 'endpoint')} answered, {len(scan.failures)} did not; "
        f"{_count(len(audit.findings), 'finding')} ({_count(counts['error'], 'error')}, "
        f"{_count(counts['warning'], 'warning')}, {_count(counts['notice'], 'notice')})"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _plan(cfg: AuditConfig, audit: AuditResult) -> list[dict[str, Any]] | None:
    """With [report] plan = true: the fix plan's fix-v1 device entries (what `camscan fix` would
    print). The audit only describes fixes: nothing here reaches a device."""
    if not cfg.report.plan:
        return None
    from camscan.remediate.plan import PlanOptions, plan_fixes
    from camscan.remediate.render import fix_document

    options = PlanOptions(ca_dir=str(cfg.report.ca)) if cfg.report.ca else PlanOptions()
    plans = plan_fixes(audit, options)
    devices: list[dict[str, Any]] = fix_document(plans, as_of=audit.as_of, applied=False)["devices"]
    return devices


def _plan_counts(fix_plans: list[dict[str, Any]] | None) -> dict[str, int] | None:
    if fix_plans is None:
        return None
    return {
        "devices": len(fix_plans),
        "automatic": sum(1 for device in fix_plans if device["automatic"]),
    }


def run(args: argparse.Namespace) -> int:
    from camscan import runtime
    from camscan.config import load_config
    from camscan.errors import EXIT_RUNTIME, CamscanError
    from camscan.lock import RunLock
    from camscan.pipeline import judge, run_scan
    from camscan.reports.diff import diff_runs, render_text
    from camscan.reports.history import HistoryStore, Retention, RunSnapshot
    from camscan.reports.notify import Notification, notify
    from camscan.scanner.options import sweep_from_config

    cfg = load_config(args.config)
    namespace = option_namespace(cfg)
    if args.as_of:
        namespace.as_of = args.as_of
    if args.check:
        _print_check(cfg)
        return 0

    sweep = sweep_from_config(cfg.scan) if cfg.sites is None else None

    with RunLock(cfg.lock_path):
        with HistoryStore(cfg.history_path) as store:
            ctx = rule_options.context_from_args(namespace, history=store.facts())
            # The stream's temporary file exists from here: created inside the try, so an
            # interrupt at any moment after it removes it again.
            try:
                stream = report_options.jsonl_callback(namespace, ctx)

                async def scan_and_judge() -> AuditResult:
                    assert sweep is not None
                    scan = await run_scan(*sweep, on_result=stream)
                    return await judge(scan, ctx)

                if cfg.sites is not None:
                    from camscan.sites.run import audit_sites

                    audit = audit_sites(cfg.sites, ctx, on_result=stream, quiet=args.quiet)
                else:
                    audit = runtime.run(scan_and_judge)
            except BaseException:
                report_options.abort_stream(namespace)
                raise
            retention = Retention(keep_runs=cfg.keep_runs, keep_days=cfg.keep_days)
            run_id = store.record_run(audit, retention=retention)
            previous = store.previous_run_id(run_id)
            old = store.snapshot(previous) if previous is not None else RunSnapshot(run=None)
            new = store.snapshot(run_id)
            if audit.sites:
                # A site that was down is neither "fixed" now nor "new" when it is back.
                from camscan.reports.site_diff import align_sites

                old, new = align_sites(
                    old, new, store.last_complete_snapshots(run_id), store.last_whole_run(run_id)
                )
            diff = diff_runs(old, new)
            run_record = store.run(run_id)
            pruned = store.last_prune
            # Only after a prune freed pages; never blocks (skipped while anyone reads the file).
            # The run is recorded by now: a compaction that fails must not stop the notification.
            compaction = None
            if pruned is not None and pruned.pruned:
                try:
                    compaction = store.compact()
                except CamscanError as exc:
                    print(f"camscan: history not compacted: {exc}", file=sys.stderr)

        fix_plans = _plan(cfg, audit)
        from camscan.remediate.scheduled import renew

        renewals = renew(cfg, audit)  # applied only with [fix] renew = true
        tried = renewals is not None and renewals.applied
        errors: list[str] = []
        if not args.no_notify and (not diff.empty or tried):
            note = Notification(
                run_record,
                diff,
                plan=_plan_counts(fix_plans),
                renewals=renewals.entries() if renewals is not None and tried else None,
            )
            errors = runtime.run(notify, note, cfg.webhook, cfg.email)

        json_target = str(cfg.outputs["json"]) if "json" in cfg.outputs else None
        written = [json_target] if json_target else []
        written += report_options.write_reports(
            audit, namespace, fix_plans=fix_plans or (), json_target=json_target
        )

    stdout_taken = cfg.outputs.get("json") == "-" or cfg.outputs.get("jsonl") == "-"
    out = sys.stderr if stdout_taken else sys.stdout
    if audit.sites and (not args.quiet or any(not s.complete for s in audit.sites)):
        from camscan.sites.run import summary_line

        print(summary_line(audit.sites), file=out)
    if not args.quiet:
        print(_summary_line(run_id, audit), file=out)
        counts = _plan_counts(fix_plans)
        if counts is not None:
            print(f"fix plan: {_count(counts['devices'], 'device')} to fix, {counts['automatic']} with "
                  "automatic steps (dry run: the audit changes nothing)", file=out)
        if pruned is not None and pruned.pruned:
            print(f"history: {pruned.summary()} [{retention.describe()}]", file=out)
        if compaction is not None and compaction.compacted:
            print(f"history: {compaction.summary()}", file=out)
        for path in written:
            if path != "-":
                print(f"wrote {path}", file=out)
    if not args.quiet or not diff.empty:
        print(render_text(diff), end="", file=out)
    if renewals is not None and (not args.quiet or renewals.applied):
        for line in renewals.lines():
            print(line, file=out)
    from camscan.termtext import sanitize

    for error in errors:  # a server's reply is quoted in it: text from the network
        print(f"camscan: notification failed: {sanitize(error)}", file=sys.stderr)

    if errors or (renewals is not None and renewals.failed):
        return EXIT_RUNTIME
    if cfg.sites is not None and cfg.sites.dispatch.fail_on_site_down:
        if any(not s.complete for s in audit.sites):
            return EXIT_RUNTIME  # everything is written: the exit code says a site is missing from it
    return report_options.exit_code(audit, namespace)
