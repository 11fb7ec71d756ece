"""Every command, run as a user runs it (`python -m camscan ...` in a subprocess), with hostile
arguments: missing and unwritable output directories, extreme and negative numbers and
durations, far past and far future dates, non-UTF-8 and empty strings, a closed stdout, and
Ctrl-C in the middle of a run.

Each case asserts what docs/cli.md promises: the documented exit code, no traceback, one line
on stderr for an error (nothing at all for a closed stdout), and every output of a run written
or none of them, with no temporary file left beside them.

The cases run at once on a small pool of threads (each is a process that mostly waits), so
the file stays fast; each case gets a fresh working directory. Nothing here leaves loopback:
the sweeps aim at port 1 of 127.x addresses (refused at once) or at the built-in lab.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from camscan.cli import COMMANDS
from camscan.config_model import DEFAULT_HISTORY_NAME
from camscan.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUNTIME,
    EXIT_USAGE,
)

CAMSCAN = [sys.executable, "-m", "camscan"]
TIMEOUT = 60  # per process: a hang is a failure, not a stuck suite
NET = f"127.{random.randrange(100, 250)}"  # this run's loopback addresses (parallel runs differ)
# A sweep that meets nothing: port 1 refuses at once on loopback.
QUIET_SWEEP = ("-p", "1", "--no-legacy-probe", "--no-ws-discovery", "--offline", "--connect-timeout", "1")
SIGPIPE_EXIT = EXIT_BROKEN_PIPE
NOT_UTF8 = b"\xff\xfe-\xc3("  # argv a terminal in another locale can hand over


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str | bytes, ...]  # after `camscan`; "{F}" is the shared fixture directory
    code: int
    says: str = ""  # a fragment of the one line on stderr
    outputs: tuple[str, ...] = ()  # files of the run (relative to its directory): all or none
    stdout_closed: bool = False
    interrupt_when: str | None = None  # glob (in the run's directory) whose match means mid-run
    interrupt_after: float | None = None  # else: seconds after the start
    xfail: str | None = None
    copy: tuple[str, ...] = ()  # fixture files copied into the run's directory first
    signum: int = signal.SIGINT  # what interrupts it (SIGTERM: a service manager, `timeout`)
    env: dict[str, str] = field(default_factory=dict)
    # Run inside a network namespace of the test's own with only its loopback up, so a command
    # that sends packets (camscan discover) can reach nothing; needs root, skipped otherwise.
    isolated: bool = False


@dataclass
class Outcome:
    code: int
    stderr: str
    workdir: Path


DISCOVER_ON = ("discover", "--interface")  # then an interface name


def _cases() -> list[Case]:
    f = "{F}"
    cases = [
        # --- scan (also plain `camscan TARGET`) ---
        Case(
            "scan-missing-dir",
            ("scan", "127.0.0.1", *QUIET_SWEEP, "--json", "nodir/r.json"),
            EXIT_USAGE,
            "does not exist",
        ),
        Case(
            "scan-dir-is-a-file",
            ("127.0.0.1", *QUIET_SWEEP, "--html", f"{f}/afile/r.html"),
            EXIT_USAGE,
            "does not exist",
        ),
        Case("scan-unwritable-dir", ("127.0.0.1", *QUIET_SWEEP, "--csv", "/proc/r.csv"), EXIT_USAGE, "/proc"),
        Case(
            "scan-output-is-a-dir", ("127.0.0.1", *QUIET_SWEEP, "--sarif", "."), EXIT_USAGE, "is a directory"
        ),
        Case("scan-empty-output", ("127.0.0.1", *QUIET_SWEEP, "--junit", ""), EXIT_OK),
        Case(
            "scan-negative-timeout",
            ("127.0.0.1", *QUIET_SWEEP, "--connect-timeout", "-5"),
            EXIT_USAGE,
            "greater than zero",
        ),
        Case("scan-infinite-timeout", ("127.0.0.1", "--handshake-timeout", "1e999"), EXIT_USAGE, "finite"),
        Case("scan-nan-rate", ("127.0.0.1", "--rate", "nan"), EXIT_USAGE, "finite"),
        Case(
            "scan-huge-concurrency",
            ("127.0.0.1", *QUIET_SWEEP, "--concurrency", "9" * 30),
            EXIT_USAGE,
            "out of range",
        ),
        Case("scan-zero-per-host", ("127.0.0.1", "--per-host", "0"), EXIT_USAGE, "out of range"),
        Case(
            "scan-huge-expiry-warn", ("127.0.0.1", "--expiry-warn", "99999999999"), EXIT_USAGE, "out of range"
        ),
        Case("scan-negative-port", ("127.0.0.1", "-p", "-1"), EXIT_USAGE, "port"),
        Case("scan-bad-shard", ("127.0.0.1", "--shard", "0/0"), EXIT_USAGE, "--shard"),
        Case("scan-empty-target", ("",), EXIT_USAGE, "empty target"),
        Case("scan-empty-exclude", ("127.0.0.1", "--exclude", ""), EXIT_USAGE, "--exclude"),
        Case("scan-non-utf8-target", (NOT_UTF8, "-q"), EXIT_USAGE, "not a valid target"),
        Case("scan-too-large", ("10.0.0.0/8", "-q"), EXIT_USAGE, "--allow-large"),
        Case("scan-empty-as-of", ("127.0.0.1", *QUIET_SWEEP, "--as-of", ""), EXIT_USAGE, "--as-of"),
        Case(
            "scan-as-of-beyond-9999",
            ("127.0.0.1", *QUIET_SWEEP, "--as-of", "9999-12-31T23:00:00-05:00"),
            EXIT_USAGE,
            "--as-of",
        ),
        Case(
            "scan-far-future",
            (
                "127.0.0.1",
                *QUIET_SWEEP,
                "-q",
                "--as-of",
                "9999-12-31",
                "--html",
                "r.html",
                "--json",
                "r.json",
                "--jsonl",
                "r.jsonl",
                "--csv",
                "r.csv",
            ),
            EXIT_OK,
            outputs=("r.html", "r.json", "r.jsonl", "r.csv"),
        ),
        Case(
            "scan-far-past",
            (
                "127.0.0.1",
                *QUIET_SWEEP,
                "-q",
                "--as-of",
                "0001-01-01",
                "--html",
                "r.html",
                "--json",
                "r.json",
            ),
            EXIT_OK,
            outputs=("r.html", "r.json"),
        ),
        Case(
            "scan-two-to-stdout",
            ("127.0.0.1", *QUIET_SWEEP, "--json", "-", "--csv", "-"),
            EXIT_USAGE,
            "stdout",
        ),
        Case("scan-table-closed-stdout", ("127.0.0.1", *QUIET_SWEEP), SIGPIPE_EXIT, stdout_closed=True),
        Case(
            "scan-json-closed-stdout",
            ("127.0.0.1", *QUIET_SWEEP, "-q", "--json", "-", "--html", "r.html"),
            SIGPIPE_EXIT,
            stdout_closed=True,
            outputs=("r.html",),
        ),
        Case(
            "scan-jsonl-closed-stdout",
            (f"{NET}.0.0/20", *QUIET_SWEEP, "-q", "--jsonl", "-"),
            SIGPIPE_EXIT,
            stdout_closed=True,
        ),
        Case(
            "scan-interrupted",
            (
                f"{NET}.0.0/16",
                *QUIET_SWEEP,
                "-q",
                "--concurrency",
                "32",
                "--jsonl",
                "r.jsonl",
                "--json",
                "r.json",
                "--html",
                "r.html",
            ),
            EXIT_INTERRUPTED,
            "interrupted",
            outputs=("r.jsonl", "r.json", "r.html"),
            interrupt_when=".r.jsonl.*.tmp",
        ),
        # --- check ---
        Case(
            "scan-terminated",
            (
                f"{NET}.0.0/16",
                *QUIET_SWEEP,
                "-q",
                "--concurrency",
                "32",
                "--jsonl",
                "r.jsonl",
                "--json",
                "r.json",
                "--html",
                "r.html",
            ),
            EXIT_INTERRUPTED,
            "interrupted",
            outputs=("r.jsonl", "r.json", "r.html"),
            interrupt_when=".r.jsonl.*.tmp",
            signum=signal.SIGTERM,
        ),
        # --- check ---
        Case("check-missing-file", ("check", "nofile.pem", "--ip", "127.0.0.1"), EXIT_USAGE, "nofile.pem"),
        Case("check-non-utf8-path", ("check", NOT_UTF8, "--ip", "127.0.0.1"), EXIT_USAGE),
        Case("check-bad-ip", ("check", f"{f}/cert.pem", "--ip", NOT_UTF8), EXIT_USAGE),
        Case(
            "check-missing-dir",
            ("check", f"{f}/cert.pem", "--ip", "127.0.0.1", "--offline", "--json", "nodir/c.json"),
            EXIT_USAGE,
            "nodir",
        ),
        Case(
            "check-far-future",
            (
                "check",
                f"{f}/cert.pem",
                "--ip",
                "127.0.0.1",
                "--offline",
                "--trust",
                "site",
                "--ca-bundle",
                f"{f}/cert.pem",
                "--as-of",
                "9999-12-31",
                "--json",
                "c.json",
            ),
            EXIT_FINDINGS,
            outputs=("c.json",),
        ),
        Case(
            "check-far-past",
            (
                "check",
                f"{f}/cert.pem",
                "--ip",
                "127.0.0.1",
                "--offline",
                "--as-of",
                "0001-01-01T00:00:00Z",
                "--json",
                "c.json",
            ),
            EXIT_FINDINGS,
            outputs=("c.json",),
        ),
        Case(
            "check-closed-stdout",
            (
                "check",
                f"{f}/cert.pem",
                "--ip",
                "127.0.0.1",
                "--offline",
                "--trust",
                "site",
                "--ca-bundle",
                f"{f}/cert.pem",
            ),
            SIGPIPE_EXIT,
            stdout_closed=True,
        ),
        # --- rules, explain ---
        Case("rules-bad-profile", ("rules", "--profile", ""), EXIT_USAGE, "--profile"),
        Case("rules-closed-stdout", ("rules",), SIGPIPE_EXIT, stdout_closed=True),
        Case("rules-json-closed-stdout", ("rules", "--json"), SIGPIPE_EXIT, stdout_closed=True),
        Case("explain-unknown", ("explain", "CS999"), EXIT_USAGE, "CS999"),
        Case("explain-empty", ("explain", ""), EXIT_USAGE),
        Case("explain-non-utf8", ("explain", NOT_UTF8), EXIT_USAGE),
        Case("explain-closed-stdout", ("explain", "CS105"), SIGPIPE_EXIT, stdout_closed=True),
        # --- lab (runs until interrupted: Ctrl-C is its normal end, so 0) ---
        Case("lab-negative-size", ("lab", "--size", "-1"), EXIT_USAGE, "--size"),
        Case("lab-empty-block", ("lab", "--block", ""), EXIT_USAGE, "--block"),
        Case("lab-huge-size", ("lab", "--size", "9" * 30), EXIT_USAGE, "--size"),
        Case("lab-out-under-a-file", ("lab", "--out", f"{f}/afile/lab"), EXIT_USAGE, "--out"),
        Case("lab-negative-downtime", ("lab", "--downtime", "-1"), EXIT_USAGE, "--downtime"),
        Case("lab-bad-block", ("lab", "--block", "192.0.2.0/24"), EXIT_USAGE, "--block"),
        Case(
            "lab-interrupted",
            (
                "lab",
                "--size",
                "3",
                "--block",
                f"{NET}.200.0/24",
                "--control-port",
                "0",
                "--no-http",
                "--no-discovery",
                "--out",
                "lab",
                "-q",
            ),
            EXIT_OK,
            "stopped",
            outputs=("lab/site-ca.pem", "lab/firmware-cas.pem", "lab/inventory.json"),
            interrupt_when="lab/inventory.json",
        ),
        # --- demo ---
        Case("demo-out-under-a-file", ("demo", "--out", f"{f}/afile/demo"), EXIT_USAGE, "--out"),
        Case("demo-zero-size", ("demo", "--size", "0"), EXIT_USAGE, "--size"),
        Case("demo-empty-fleet", ("demo", "--fleet", ""), EXIT_USAGE, "fleet"),
        Case("demo-missing-fleet", ("demo", "--fleet", "nofile.toml"), EXIT_USAGE, "nofile.toml"),
        Case(
            "demo-far-future",
            ("demo", "--size", "6", "-q", "--no-legacy-probe", "--out", "d", "--as-of", "9999-12-31"),
            EXIT_OK,
            outputs=(
                "d/report.json",
                "d/report.html",
                "d/report.jsonl",
                "d/findings.csv",
                "d/junit.xml",
                "d/camscan.prom",
                "d/camscan.sarif",
            ),
        ),
        Case(
            "demo-closed-stdout",
            ("demo", "--size", "6", "--no-legacy-probe", "--out", "d"),
            SIGPIPE_EXIT,
            stdout_closed=True,
            outputs=("d/report.json", "d/report.html"),
        ),
        Case(
            "demo-interrupted",
            ("demo", "--size", "120", "-q", "--no-legacy-probe", "--out", "d"),
            EXIT_INTERRUPTED,
            "interrupted",
            outputs=("d/report.json", "d/report.html", "d/report.jsonl"),
            interrupt_when="d/.report.jsonl.*.tmp",
        ),
        # --- audit, history, diff, cron ---
        Case("audit-missing-config", ("audit", "--config", "nofile.toml"), EXIT_USAGE, "nofile.toml"),
        Case("audit-non-utf8-config", ("audit", "--config", NOT_UTF8), EXIT_USAGE),
        Case("audit-bad-values", ("audit", "--config", f"{f}/bad.toml"), EXIT_USAGE, "bad.toml"),
        Case(
            "audit-interrupted",
            ("audit", "--config", "big.toml"),
            EXIT_INTERRUPTED,
            "interrupted",
            outputs=("big.json", "big.jsonl"),
            interrupt_when=".big.jsonl.*.tmp",
            copy=("big.toml",),
        ),
        Case("history-missing-db", ("history", "--db", "nodir/h.sqlite"), EXIT_USAGE, "no history database"),
        Case(
            "history-negative-limit",
            ("history", "--db", f"{f}/h.sqlite", "--limit", "-1"),
            EXIT_USAGE,
            "--limit",
        ),
        Case(
            "history-huge-keep-days",
            ("history", "--db", f"{f}/h.sqlite", "--prune", "--keep-days", "9" * 20),
            EXIT_USAGE,
            "--keep-days",
        ),
        Case(
            "history-not-a-db", ("history", "--db", f"{f}/cert.pem"), EXIT_RUNTIME, "not an SQLite database"
        ),
        Case(
            "history-closed-stdout",
            ("history", "--db", f"{f}/h.sqlite", "--json"),
            SIGPIPE_EXIT,
            stdout_closed=True,
        ),
        Case("diff-unknown-runs", ("diff", "--db", f"{f}/h.sqlite", "99999", "-5"), EXIT_USAGE),
        Case("diff-huge-run", ("diff", "--db", f"{f}/h.sqlite", "1", "9" * 30), EXIT_USAGE, "run id"),
        Case(
            "history-huge-limit",
            ("history", "--db", f"{f}/h.sqlite", "--limit", "9" * 30),
            EXIT_USAGE,
            "--limit",
        ),
        Case("diff-non-utf8-run", ("diff", "--db", f"{f}/h.sqlite", NOT_UTF8), EXIT_USAGE),
        Case("diff-closed-stdout", ("diff", "--db", f"{f}/h.sqlite"), SIGPIPE_EXIT, stdout_closed=True),
        Case("cron-missing-config", ("cron", "--config", "nofile.toml"), EXIT_USAGE, "nofile.toml"),
        Case(
            "cron-bad-schedule",
            ("cron", "--config", f"{f}/small.toml", "--schedule", "99 99 * * *"),
            EXIT_USAGE,
            "schedule",
        ),
        Case("cron-empty-name", ("cron", "--config", f"{f}/small.toml", "--name", ""), EXIT_USAGE),
        Case("cron-closed-stdout", ("cron", "--config", f"{f}/small.toml"), SIGPIPE_EXIT, stdout_closed=True),
        # --- worker ---
        Case("worker-missing-config", ("worker", "--config", "nofile.toml"), EXIT_USAGE, "nofile.toml"),
        Case("worker-bad-config", ("worker", "--config", f"{f}/worker-bad.toml"), EXIT_USAGE),
        Case("worker-empty-name", ("worker", "--config", f"{f}/worker.toml", "--name", ""), EXIT_USAGE),
        Case(
            "worker-check-hung-broker-interrupted",
            ("worker", "--config", f"{f}/worker.toml", "--check"),
            EXIT_INTERRUPTED,
            interrupt_after=1.5,
        ),
        Case(
            "worker-hung-broker-interrupted",
            ("worker", "--config", f"{f}/worker.toml"),
            EXIT_INTERRUPTED,
            interrupt_after=1.5,
        ),
        # --- issuer ---
        Case("issuer-missing-file", ("issuer", "list", "--issuers", "nofile.toml"), EXIT_USAGE, "nofile"),
        Case("issuer-bad-file", ("issuer", "list", "--issuers", f"{f}/issuers-bad.toml"), EXIT_USAGE),
        Case("issuer-unknown-name", ("issuer", "test", "nobody", "--issuers", f"{f}/issuers.toml"), 2),
        Case("issuer-local-missing-ca", ("issuer", "test", "--ca", "nodir"), EXIT_USAGE, "nodir"),
        Case("issuer-non-utf8-name", ("issuer", "test", NOT_UTF8, "--issuers", f"{f}/issuers.toml"), 2),
        Case(
            "issuer-list-closed-stdout",
            ("issuer", "list", "--issuers", f"{f}/issuers.toml"),
            SIGPIPE_EXIT,
            stdout_closed=True,
        ),
        Case(
            "issuer-test-hanging-command-interrupted",
            ("issuer", "test", "slow", "--issuers", f"{f}/issuers.toml"),
            EXIT_INTERRUPTED,
            interrupt_after=1.5,
        ),
        # --- discover (bad input is refused before any packet; the runs are isolated) ---
        Case("discover-no-such-interface", (*DISCOVER_ON, "nosuch0"), EXIT_USAGE, "nosuch0"),
        Case("discover-bad-method", (*DISCOVER_ON, "nosuch0", "--methods", "icmp"), EXIT_USAGE),
        Case("discover-negative-timeout", (*DISCOVER_ON, "nosuch0", "--timeout", "-1"), EXIT_USAGE),
        Case("discover-huge-rate", (*DISCOVER_ON, "nosuch0", "--discovery-rate", "1e999"), EXIT_USAGE),
        Case(
            "discover-json-missing-dir",
            (*DISCOVER_ON, "lo", "--methods", "ssdp", "--timeout", "0.2", "--json", "nodir/d.json"),
            EXIT_USAGE,
            "nodir",
            isolated=True,
        ),
        Case(
            "discover-closed-stdout",
            (*DISCOVER_ON, "lo", "--methods", "ws-discovery,ssdp", "--timeout", "0.2", "--json", "-"),
            SIGPIPE_EXIT,
            stdout_closed=True,
            isolated=True,
        ),
        Case(
            "discover-interrupted",
            ("discover", "--interface", "lo", "--methods", "ws-discovery,ssdp,mdns", "--timeout", "30",
             "--json", "d.json"),
            EXIT_INTERRUPTED,
            outputs=("d.json",),
            interrupt_after=1.5,
            isolated=True,
        ),
        # --- merge ---
        Case("merge-missing-file", ("merge", "nofile.json"), EXIT_USAGE, "nofile.json"),
        Case("merge-not-a-report", ("merge", f"{f}/cert.pem"), EXIT_USAGE),
        Case("merge-negative-skew", ("merge", f"{f}/r.json", "--max-skew", "-1"), EXIT_USAGE, "--max-skew"),
        Case(
            "merge-infinite-skew", ("merge", f"{f}/r.json", "--max-skew", "1e999"), EXIT_USAGE, "--max-skew"
        ),
        # A report judged as of year 1 reads back (its dates once were "1-01-01").
        Case(
            "merge-far-past-report",
            ("merge", f"{f}/past.json", "--offline", "-q", "--json", "m.json", "--csv", "m.csv"),
            EXIT_OK,
            outputs=("m.json", "m.csv"),
        ),
        Case("merge-same-twice", ("merge", f"{f}/r.json", f"{f}/r.json", "--offline"), EXIT_USAGE, "both"),
        Case(
            "merge-missing-dir",
            ("merge", f"{f}/r.json", "--offline", "--json", "nodir/m.json"),
            EXIT_USAGE,
            "nodir",
        ),
        Case(
            "merge-far-future",
            (
                "merge",
                f"{f}/r.json",
                "--offline",
                "-q",
                "--as-of",
                "9999-12-31",
                "--json",
                "m.json",
                "--html",
                "m.html",
                "--sarif",
                "m.sarif",
            ),
            EXIT_OK,
            outputs=("m.json", "m.html", "m.sarif"),
        ),
        Case(
            "merge-closed-stdout",
            ("merge", f"{f}/r.json", "--offline", "-q", "--json", "-"),
            SIGPIPE_EXIT,
            stdout_closed=True,
        ),
        # --- fix ---
        Case(
            "fix-negative-reboot-timeout",
            ("fix", "127.0.0.1", *QUIET_SWEEP, "--apply", "--yes", "--reboot-timeout", "-5"),
            EXIT_USAGE,
            "--reboot-timeout",
        ),
        Case("fix-zero-parallel", ("fix", "127.0.0.1", "--parallel", "0"), EXIT_USAGE, "--parallel"),
        Case("fix-apply-without-ca", ("fix", "127.0.0.1", *QUIET_SWEEP, "--apply"), EXIT_USAGE, "--ca"),
        Case(
            "fix-missing-dir",
            ("fix", "127.0.0.1", *QUIET_SWEEP, "--json", "nodir/f.json"),
            EXIT_USAGE,
            "nodir",
        ),
        Case("fix-html-to-stdout", ("fix", "127.0.0.1", *QUIET_SWEEP, "--html", "-"), EXIT_USAGE, "--html"),
        Case(
            "fix-far-future",
            (
                "fix",
                "127.0.0.1",
                *QUIET_SWEEP,
                "-q",
                "--as-of",
                "9999-12-31",
                "--json",
                "f.json",
                "--html",
                "f.html",
            ),
            EXIT_OK,
            outputs=("f.json", "f.html"),
        ),
        Case("fix-closed-stdout", ("fix", "127.0.0.1", *QUIET_SWEEP, "-q"), SIGPIPE_EXIT, stdout_closed=True),
        Case(
            "fix-interrupted",
            (
                "fix",
                f"{NET}.0.0/16",
                *QUIET_SWEEP,
                "-q",
                "--concurrency",
                "16",
                "--json",
                "f.json",
                "--html",
                "f.html",
            ),
            EXIT_INTERRUPTED,
            "interrupted",
            outputs=("f.json", "f.html"),
            interrupt_after=0.8,
        ),
        # --- ca (the CA's checks themselves are tested in tests/remediate/test_ca.py) ---
        Case("ca-no-action", ("ca",), EXIT_USAGE),
        Case("ca-init-closed-stdout", ("ca", "init", "--dir", "ca"), SIGPIPE_EXIT, stdout_closed=True),
        Case(
            "ca-init-under-a-file",
            ("ca", "init", "--dir", f"{f}/afile/ca"),
            EXIT_USAGE,
            "cannot create the CA there",
        ),
        Case(
            "ca-issue-missing-ca",
            ("ca", "issue", "--ca", "nodir", "--ip", "127.0.0.1", "--out", "c"),
            EXIT_USAGE,
            "nodir",
        ),
        Case(
            "ca-issue-non-utf8-ip",
            ("ca", "issue", "--ca", f"{f}/ca", "--ip", NOT_UTF8, "--out", "c"),
            EXIT_USAGE,
        ),
        Case("ca-csr-non-utf8-dns", ("ca", "csr", "--dns", NOT_UTF8, "--out", "c"), EXIT_USAGE, "not ASCII"),
        Case(
            "ca-issue-negative-days",
            ("ca", "issue", "--ca", f"{f}/ca", "--ip", "127.0.0.1", "--days", "-5", "--out", "c"),
            EXIT_USAGE,
            "--days",
        ),
        Case(
            "ca-issue-out-missing-dir",
            ("ca", "issue", "--ca", f"{f}/ca", "--ip", "127.0.0.1", "--out", "nodir/c"),
            EXIT_USAGE,
            "nodir",
        ),
        Case(
            "ca-csr-out-missing-dir",
            ("ca", "csr", "--dns", "cam.example.com", "--out", "nodir/c"),
            EXIT_USAGE,
            "nodir",
        ),
        Case(
            "ca-sign-missing-csr",
            ("ca", "sign", "--ca", f"{f}/ca", "nofile.csr", "--ip", "127.0.0.1", "--out", "c"),
            EXIT_USAGE,
            "nofile.csr",
        ),
    ]
    return cases


CASES = _cases()


def _fixture_dir(base: Path) -> Path:
    """What the cases read: a certificate, a site CA, a scan report, a history database, configs."""
    f = base / "fixtures"
    f.mkdir()
    (f / "afile").write_text("a file, not a directory\n")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=300))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    (f / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    config = """
[scan]
targets = ["{targets}"]
ports = [1]
connect_timeout = 1.0
legacy_probe = false
ws_discovery = false
concurrency = 16

[trust]
offline = true

[outputs]
json = "{name}.json"
jsonl = "{name}.jsonl"
"""
    (f / "small.toml").write_text(config.format(targets="127.0.0.1", name="small"))
    (f / "big.toml").write_text(config.format(targets=f"{NET}.0.0/16", name="big"))
    (f / "bad.toml").write_text('[scan]\ntargets = ["127.0.0.1"]\nconcurrency = -5\n')
    worker = f'[worker]\nsite = "north"\nallow = ["127.0.0.0/24"]\n\n[broker]\nurl_file = "{f}/broker-url"\n'
    (f / "worker.toml").write_text(worker)
    # A command CA that hangs: `issuer test` waits on it until interrupted.
    (f / "issuers.toml").write_text(
        '[issuer.slow]\nkind = "command"\n'
        + f'command = "{sys.executable} -c \'import time; time.sleep(30)\' '
        + '{csr} {out}"\n'
        + f'roots = "{f}/cert.pem"\ntimeout = 60\n'
    )
    (f / "issuers-bad.toml").write_text('[issuer.x]\nkind = "nonsense"\n')
    (f / "worker-bad.toml").write_text('[worker]\nsite = "no spaces allowed"\nallow = []\n')
    for argv in (
        ["audit", "--config", str(f / "small.toml"), "-q", "--no-notify"],
        ["audit", "--config", str(f / "small.toml"), "-q", "--no-notify"],  # diff needs two runs
        ["127.0.0.1", *QUIET_SWEEP, "-q", "--json", str(f / "r.json")],
        ["127.0.0.1", *QUIET_SWEEP, "-q", "--json", str(f / "past.json"), "--as-of", "0001-01-01"],
        ["ca", "init", "--dir", str(f / "ca")],
    ):
        done = subprocess.run([*CAMSCAN, *argv], capture_output=True, text=True, timeout=TIMEOUT, check=False,
                              env={**os.environ, **CA_ENV})
        assert done.returncode == 0, (argv, done.stderr)
    os.replace(f / DEFAULT_HISTORY_NAME, f / "h.sqlite")
    return f


# The site CA's key is encrypted by default: the fixture CA and every `ca` case read its
# passphrase from the environment, as an unattended user would.
CA_ENV = {"CAMSCAN_CA_PASSPHRASE": "robustness fixture passphrase"}


def _run(case: Case, fixtures: Path, workdir: Path, namespace: str | None = None) -> Outcome:
    workdir.mkdir()
    for name in case.copy:
        shutil.copy(fixtures / name, workdir / name)
    argv: list[str | bytes] = list(CAMSCAN)
    if case.isolated:
        assert namespace is not None
        argv = ["ip", "netns", "exec", namespace, *argv]  # ip execs the command: same pid
    for arg in case.argv:
        argv.append(arg.replace("{F}", str(fixtures)) if isinstance(arg, str) else arg)
    env = {**os.environ, "COLUMNS": "120", **CA_ENV, **case.env}
    stdout: int | None = subprocess.DEVNULL
    read_end = write_end = None
    if case.stdout_closed:
        read_end, write_end = os.pipe()
        os.close(read_end)  # nobody will ever read: the first write fails with EPIPE
        stdout = write_end
    try:
        proc = subprocess.Popen(argv, cwd=workdir, stdout=stdout, stderr=subprocess.PIPE, env=env)
    finally:
        if write_end is not None:
            os.close(write_end)
    try:
        if case.interrupt_when or case.interrupt_after:
            _interrupt_mid_run(proc, case, workdir)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return Outcome(proc.returncode, err.decode("utf-8", "replace"), workdir)


def _interrupt_mid_run(proc: subprocess.Popen[bytes], case: Case, workdir: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    if case.interrupt_after is not None:
        time.sleep(case.interrupt_after)
    else:
        assert case.interrupt_when is not None
        while not any(p.stat().st_size > 0 for p in workdir.glob(case.interrupt_when)):
            assert proc.poll() is None, f"{case.id}: ended before the moment to interrupt it"
            assert time.monotonic() < deadline, f"{case.id}: never reached {case.interrupt_when}"
            time.sleep(0.02)
    proc.send_signal(case.signum)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    base = tmp_path_factory.mktemp("robustness")
    fixtures = _fixture_dir(base)
    # A "broker" that accepts connections and never answers: the worker cases meet a hung Redis.
    with socket.socket() as silent, ThreadPoolExecutor(max_workers=4) as pool:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = fixtures / "broker-url"
        url.write_text(f"redis://:secret-broker-password@127.0.0.1:{silent.getsockname()[1]}/0\n")
        url.chmod(0o600)
        with _isolation() as namespace:
            futures = {
                case.id: pool.submit(_run, case, fixtures, base / case.id, namespace)
                for case in CASES
                if namespace is not None or not case.isolated
            }
            yield {name: future.result() for name, future in futures.items()}


@contextlib.contextmanager
def _isolation() -> Iterator[str | None]:
    """A network namespace with only its loopback up (None when not root: those cases skip)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        yield None
        return
    name = f"camscan-robust-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=20)
    try:
        up = ["ip", "-n", name, "link", "set", "lo", "up"]
        subprocess.run(up, check=True, capture_output=True, timeout=20)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True, timeout=20)


def _params() -> list[object]:
    return [
        pytest.param(
            case, id=case.id, marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        )
        for case in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_hostile_arguments(case: Case, outcomes: dict[str, Outcome]) -> None:
    if case.id not in outcomes:
        pytest.skip("needs root: runs in a network namespace of its own (nothing can leave it)")
    outcome = outcomes[case.id]
    lines = outcome.stderr.splitlines()
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.code == case.code, outcome.stderr
    if case.code == EXIT_BROKEN_PIPE:
        assert outcome.stderr == "", "a closed stdout is a quiet exit"
    elif case.code not in (EXIT_OK, EXIT_FINDINGS):
        assert len(lines) == 1, outcome.stderr  # one line: what was wrong
        assert case.says in lines[0]
    elif case.says:
        assert case.says in outcome.stderr
    written = [name for name in case.outputs if (outcome.workdir / name).is_file()]
    assert written in ([], list(case.outputs)), f"half the outputs written: {written}"
    if case.code in (EXIT_OK, EXIT_FINDINGS) and not case.stdout_closed:
        assert written == list(case.outputs)
    if case.code in (EXIT_USAGE, EXIT_INTERRUPTED, EXIT_RUNTIME):
        assert written == []
    leftovers = [p for p in outcome.workdir.rglob(".*.tmp")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def _command(case: Case) -> str:
    first = case.argv[0]
    return first if isinstance(first, str) and first in COMMANDS else "scan"


def test_every_command_is_in_the_table() -> None:
    assert {_command(case) for case in CASES} == set(COMMANDS)
    # ... and meets a closed stdout or Ctrl-C in the middle of its run.
    hard = {_command(c) for c in CASES if c.stdout_closed or c.interrupt_when or c.interrupt_after}
    assert hard == set(COMMANDS)
