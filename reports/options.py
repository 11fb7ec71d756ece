"""The report options every judging command shares: --html, --jsonl, --csv, --junit,
--prometheus, --sarif and --fail-on, and the functions that honour them.

Usage from a command (scan, audit, demo):

    reports.options.add_arguments(parser)
    ...
    stream = reports.options.jsonl_callback(args, ctx)   # None unless --jsonl was given
    scan = await run_scan(endpoints, sweep, params, on_result=stream)
    audit = await judge(scan, ctx)
    written = reports.options.write_reports(audit, args)  # also finishes the --jsonl stream
    return reports.options.exit_code(audit, args)

Every file is written atomically (temporary file beside it, fsync, rename): a crash never
leaves half a report over the previous one. "-" writes a format to stdout (one format only).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camscan.errors import EXIT_FINDINGS, EXIT_OK, CamscanError, UsageError

if TYPE_CHECKING:
    from camscan.atomic import AtomicFile
    from camscan.model import AuditContext, AuditResult, ProbeResult, Severity

# Only argparse-level imports up here: `camscan --help` calls add_arguments(); the model, the
# renderers and the file writing are imported by the functions that use them.

FORMATS: tuple[str, ...] = ("html", "jsonl", "csv", "junit", "prometheus", "sarif")
FAIL_ON_CHOICES: tuple[str, ...] = ("error", "warning", "notice", "none")

# Where jsonl_callback leaves its stream for write_reports to finish (on the args namespace,
# so the four-function contract needs no extra object passed around).
_STREAM_ATTR = "_camscan_jsonl_stream"


def check_output_path(flag: str, value: str) -> None:
    """UsageError unless `value` is "-" or a file whose directory exists and is writable.

    Checked before the scan, so an unwritable report fails in a second, not after the sweep."""
    if value == "-":
        return
    if not value or value.endswith(os.sep):
        raise UsageError(f"{flag} {value!r}: not a file name")
    path = Path(value)
    if path.is_dir():
        raise UsageError(f"{flag} {value!r}: is a directory")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"{flag} {value!r}: directory {str(directory)!r} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {value!r}: directory {str(directory)!r} is not writable")
    # os.access answers yes to root everywhere, even where no file can be made (/proc, a
    # read-only mount): a real temporary file, gone at once, says so before the sweep.
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise UsageError(
            f"{flag} {value!r}: cannot write in directory {str(directory)!r} ({exc.strerror})"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "reports",
        "Write the audit in more formats (each file atomically; '-' for stdout, one format only).",
    )
    group.add_argument(
        "--html", metavar="FILE",
        help="self-contained HTML report (summary, 90-day expiry timeline, devices, findings)",
    )
    group.add_argument(
        "--jsonl", metavar="FILE",
        help="JSON Lines: one object per endpoint as it completes, then a summary object",
    )
    group.add_argument(
        "--csv", metavar="FILE",
        help="CSV, one row per finding (cells that look like formulas are neutralised)",
    )
    group.add_argument(
        "--junit", metavar="FILE",
        help="JUnit XML for CI: a test case per endpoint, a failure per error/warning finding",
    )
    group.add_argument(
        "--prometheus", metavar="FILE",
        help="Prometheus text for node_exporter's textfile collector (name it *.prom)",
    )
    group.add_argument(
        "--sarif", metavar="FILE",
        help="SARIF 2.1.0 for code-scanning dashboards: a result per finding, the rules with "
        "their help",
    )
    group.add_argument(
        "--fail-on", metavar="SEVERITY", choices=FAIL_ON_CHOICES, default="none",
        help="exit 1 when a finding at or above SEVERITY exists: error, warning, notice or "
        "none (default: none)",
    )


def _targets(args: argparse.Namespace) -> dict[str, str]:
    targets = {name: getattr(args, name, None) for name in FORMATS}
    chosen = {name: value for name, value in targets.items() if value}
    # Checked here, not as an argparse type, so a bad path is one line (not usage text) and it
    # fails before the sweep rather than after it.
    for name, value in chosen.items():
        check_output_path(f"--{name}", value)
    to_stdout = [name for name, value in chosen.items() if value == "-"]
    if len(to_stdout) > 1:
        flags = ", ".join(f"--{name} -" for name in to_stdout)
        raise UsageError(f"only one report can go to stdout, got {flags}")
    paths = [os.path.realpath(v) for v in chosen.values() if v != "-"]
    if len(paths) != len(set(paths)):
        raise UsageError("two report formats name the same file: " + ", ".join(sorted(chosen.values())))
    return chosen


def writes_stdout(args: argparse.Namespace) -> bool:
    """True when a report goes to stdout, so the command should keep its own table off it."""
    return any(getattr(args, name, None) == "-" for name in FORMATS)


def jsonl_callback(
    args: argparse.Namespace, ctx: AuditContext | None = None
) -> Callable[[ProbeResult], None] | None:
    """The scan's on_result callback for --jsonl (None without it); write_reports finishes it.

    Each line carries the endpoint's per-endpoint findings, judged with `ctx` (pass the audit's
    own context, so the chain verdicts are computed once); without one, a context is built from
    the rule options in `args` the same way the command builds its own."""
    from camscan.reports.jsonl_report import JsonlStream, per_endpoint_judge

    _targets(args)
    target = getattr(args, "jsonl", None)
    if not target:
        return None
    if ctx is None:
        ctx = _context_from_args(args)
    existing = getattr(args, _STREAM_ATTR, None)
    if existing is not None:
        existing.abort()
    stream = JsonlStream(target, per_endpoint_judge(ctx))
    setattr(args, _STREAM_ATTR, stream)
    return stream


def _context_from_args(args: argparse.Namespace) -> AuditContext:
    from camscan.rules.options import context_from_args

    return context_from_args(args, history=())


def abort_stream(args: argparse.Namespace) -> None:
    """Drop an unfinished --jsonl stream (the run failed): the previous file stays."""
    stream = getattr(args, _STREAM_ATTR, None)
    if stream is not None:
        stream.abort()
        setattr(args, _STREAM_ATTR, None)


def _to_stdout(data: str | bytes) -> None:
    if isinstance(data, bytes):
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(data)
    sys.stdout.flush()


def _stage(target: str, chunks: Iterable[str | bytes], staged: list[AtomicFile]) -> None:
    """Write `chunks` to a temporary file beside `target`, not yet renamed into place."""
    from camscan.atomic import AtomicFile

    try:
        staged.append(AtomicFile(target))
        for chunk in chunks:
            staged[-1].write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
    except OSError as exc:
        raise CamscanError(f"cannot write report {target}: {exc.strerror or exc}") from exc


def write_reports(audit: AuditResult, args: argparse.Namespace,
                  fix_plans: Sequence[Mapping[str, Any]] = (),
                  *, json_target: str | None = None,
                  extra_files: Mapping[str, Iterable[str | bytes]] | None = None) -> list[str]:
    """Render and write every report format the user asked for (and the JSON report to
    `json_target`); return the format targets written (not json_target).

    All or nothing: every report is rendered into a temporary file first, and only when all of
    them are complete are they renamed into place; a report that cannot be rendered (or a full
    disk) leaves every previous report as it was. Reports to stdout come last.
    `fix_plans` (fix-v1 device entries) add the HTML report's "How to fix" section.
    `extra_files` (path -> content) are other outputs of the same run, committed with the reports
    (the demo's fix plan and rescan); they are not in the returned list."""
    targets = _targets(args)
    written: list[str] = []
    renderers: dict[str, Callable[[], str | bytes]] = {}
    if "html" in targets:
        from camscan.reports.html_report import render_html

        warn_days = int(getattr(args, "expiry_warn", None) or 30)
        renderers["html"] = lambda: render_html(audit, expiry_warn_days=warn_days, fix_plans=fix_plans)
    if "csv" in targets:
        from camscan.reports.csv_report import render_csv

        renderers["csv"] = lambda: render_csv(audit)
    if "junit" in targets:
        from camscan.reports.junit_report import render_junit

        renderers["junit"] = lambda: render_junit(audit)
    if "prometheus" in targets:
        from camscan.reports.prometheus_report import render_prometheus

        renderers["prometheus"] = lambda: render_prometheus(audit)
    if "sarif" in targets:
        from camscan.reports.sarif_report import render_sarif

        renderers["sarif"] = lambda: render_sarif(audit)

    staged: list[AtomicFile] = []
    stdout_parts: list[Callable[[], None]] = []
    stream: Any = getattr(args, _STREAM_ATTR, None)
    try:
        if json_target:
            from camscan.reports.json_report import iter_json, write_json

            if json_target == "-":
                stdout_parts.append(lambda: write_json(audit, "-"))
            else:
                _stage(json_target, iter_json(audit), staged)
        if "jsonl" in targets:
            if stream is None:
                from camscan.reports.jsonl_report import render_jsonl

                text = render_jsonl(audit)
                if targets["jsonl"] == "-":
                    stdout_parts.append(functools.partial(_to_stdout, text))
                else:
                    _stage(targets["jsonl"], [text], staged)
            elif targets["jsonl"] == "-":
                stdout_parts.append(lambda: stream.finish(audit))
            else:
                stream.finish(audit, commit=False)
                staged.append(stream.staged_file())
            written.append(targets["jsonl"])
        for name, render in renderers.items():
            data = render()
            if targets[name] == "-":
                stdout_parts.append(functools.partial(_to_stdout, data))
            else:
                _stage(targets[name], [data], staged)
            written.append(targets[name])
        for target, chunks in (extra_files or {}).items():
            _stage(target, chunks, staged)
        from camscan.atomic import commit_all

        try:
            commit_all(staged)
        except OSError as exc:
            where = exc.filename2 or exc.filename  # the rename's target when it is the rename
            raise CamscanError(f"cannot write report {where}: {exc.strerror or exc}") from exc
    except BaseException:
        for atomic in staged:
            atomic.abort()
        if stream is not None:
            stream.abort()
            setattr(args, _STREAM_ATTR, None)
        raise
    setattr(args, _STREAM_ATTR, None)
    for part in stdout_parts:
        part()
    return written


def fail_on(args: argparse.Namespace) -> Severity | None:
    from camscan.model import Severity

    value = getattr(args, "fail_on", None) or "none"
    if value == "none":
        return None
    try:
        return Severity(value)
    except ValueError:
        raise UsageError(
            f"--fail-on {value!r}: expected one of {', '.join(FAIL_ON_CHOICES)}"
        ) from None


def exit_code(audit: AuditResult, args: argparse.Namespace) -> int:
    """EXIT_FINDINGS (1) when a finding at or above --fail-on exists, else EXIT_OK."""
    threshold = fail_on(args)
    if threshold is None:
        return EXIT_OK
    if any(f.severity.at_least(threshold) for f in audit.findings):
        return EXIT_FINDINGS
    return EXIT_OK
