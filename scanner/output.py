"""Terminal output of a scan: a progress bar on stderr, then a table of HTTPS endpoints.

All device-controlled text goes through camscan.termtext.sanitize before it reaches the
terminal, and rich markup is never interpreted in it (rich.text.Text, not markup strings).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from camscan.model import AuditResult, DiscoverySummary, Observation, ProbeResult
from camscan.termtext import sanitize

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "notice": "cyan"}
UPDATE_INTERVAL = 0.05  # seconds between progress-bar updates (rich redraws every 0.1 s)


def _console(file: IO[str]) -> Any:
    from rich.console import Console

    # Off a terminal (a pipe, a file) keep long rows whole instead of wrapping them at 80,
    # unless the user set COLUMNS.
    width = None if file.isatty() or os.environ.get("COLUMNS") else 200

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich exits with 1 here, the code that means findings: let the CLI answer it.
            self.quiet = True
            raise BrokenPipeError

    return _Console(file=file, width=width, highlight=False, soft_wrap=False)


@contextmanager
def progress_bar(total: int, *, enabled: bool) -> Iterator[Callable[[ProbeResult], None]]:
    """Yield a per-result callback that advances a bar on stderr (a no-op when disabled)."""
    if not enabled or not sys.stderr.isatty() or total <= 0:
        yield lambda _result: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    found = 0
    with Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[https]} HTTPS"),
        TimeElapsedColumn(),
        console=_console(sys.stderr),
        transient=True,
    ) as progress:
        task = progress.add_task("scan", total=total, https=0)
        # rich redraws 10 times a second: one update per result (65,534 in a /16, each taking
        # rich's lock) only slowed the sweep. Results are counted here and handed over at most
        # every UPDATE_INTERVAL seconds, and once more at the end.
        pending = 0
        last_update = -math.inf

        def advance(result: ProbeResult) -> None:
            nonlocal found, pending, last_update
            pending += 1
            if isinstance(result, Observation):
                found += 1
            now = time.monotonic()
            if now - last_update >= UPDATE_INTERVAL:
                progress.update(task, advance=pending, https=found)
                pending, last_update = 0, now

        yield advance
        if pending:
            progress.update(task, advance=pending, https=found)


def _row(obs: Observation) -> list[str]:
    from camscan.certinfo import describe

    try:
        leaf = describe(obs.leaf)
    except Exception as exc:
        return [obs.endpoint.address, str(obs.endpoint.port), f"(unparseable: {type(exc).__name__})",
                "", "", "", "", obs.tls_version]
    sans = leaf["subject_alt_names"]
    san_text = ", ".join([*sans["dns"], *(f"IP:{ip}" for ip in sans["ip"])]) or "-"
    key = f"{leaf['key_type']} {leaf['key_bits']}" if leaf["key_bits"] else leaf["key_type"]
    return [
        obs.endpoint.address,
        str(obs.endpoint.port),
        leaf["subject"] or "-",
        san_text,
        leaf["issuer"] or "-",
        leaf["not_after"][:10],
        key,
        obs.tls_version,
    ]


def render(audit: AuditResult, file: IO[str], *, show_failures: bool = False) -> None:
    from rich.table import Table
    from rich.text import Text

    console = _console(file)
    scan = audit.scan
    if scan.observations:
        table = Table(title=f"HTTPS endpoints ({len(scan.observations)})", title_justify="left")
        for column in ("address", "port", "subject", "SANs", "issuer", "not after", "key", "TLS"):
            table.add_column(column, overflow="fold")
        for obs in scan.observations:
            name = f" ({obs.endpoint.server_name})" if obs.endpoint.server_name else ""
            cells = _row(obs)
            cells[0] += name
            table.add_row(*(Text(sanitize(cell, max_len=120)) for cell in cells))
        console.print(table)
    else:
        console.print("No HTTPS endpoint answered.")
    if audit.findings:
        findings = Table(title=f"Findings ({len(audit.findings)})", title_justify="left")
        for column in ("endpoint", "rule", "severity", "message"):
            findings.add_column(column, overflow="fold")
        for finding in audit.findings:
            severity = finding.severity.value
            findings.add_row(
                Text(sanitize(finding.endpoint)),
                Text(finding.rule_id),
                Text(severity, style=_SEVERITY_STYLE.get(severity, "")),
                Text(sanitize(finding.message, max_len=300)),
            )
        console.print(findings)
    if show_failures and scan.failures:
        failures = Table(title=f"Failures ({len(scan.failures)})", title_justify="left")
        for column in ("endpoint", "stage", "kind", "detail"):
            failures.add_column(column, overflow="fold")
        for failure in scan.failures:
            failures.add_row(
                Text(sanitize(failure.endpoint)), Text(failure.stage.value), Text(failure.kind.value),
                Text(sanitize(failure.detail, max_len=200)),
            )
        console.print(failures)
    if scan.discovery is not None:
        console.print(Text(discovery_line(scan.discovery)))
        for note in scan.discovery.notes:
            console.print(Text(f"note: {sanitize(note, max_len=300)}"))
    kinds = Counter(f.kind.value for f in scan.failures)
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    elapsed = (scan.finished_at - scan.started_at).total_seconds()
    console.print(
        Text(
            f"{plural(len(scan.observations) + len(scan.failures), 'endpoint')} in {elapsed:.1f}s: "
            f"{len(scan.observations)} HTTPS, {len(scan.failures)} without ({summary or 'none'}); "
            f"{plural(len(audit.findings), 'finding')}"
        )
    )


def discovery_line(summary: DiscoverySummary) -> str:
    """One line: what each discovery method probed and found, and at what packet rate."""
    parts = [
        f"{m.method} {m.alive}/{m.addresses} alive ({plural(m.packets, 'packet')}, {m.seconds:.1f}s)"
        if m.method != "none" else f"{plural(m.addresses, 'address')} without discovery"
        for m in summary.methods
    ]
    if summary.unreachable:
        parts.append(f"{summary.unreachable} unreachable (no route)")
    mode = "" if summary.privileged else ", unprivileged"
    return f"discovery ({summary.requested}{mode}, at most {summary.rate:g} packets/s): " + (
        "; ".join(parts) or "no address to probe")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
