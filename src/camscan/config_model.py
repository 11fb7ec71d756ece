"""The scheduled-audit configuration as data: the sections of camscan.toml, validated.

Parsing and validation live in camscan.config (load_config); camscan.config_reader reads one
table at a time with messages that name the file and the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from camscan.errors import UsageError

if TYPE_CHECKING:
    from camscan.sites.site_config import SitesConfig

SEVERITIES = ("notice", "warning", "error")
OUTPUT_KINDS = ("json", "jsonl", "html", "csv", "junit", "prometheus", "sarif")
DEFAULT_HISTORY_NAME = "camscan-history.sqlite"
# History retention: a year and a month of nightly runs (so last year's audit can still be
# compared), and at most 1000 runs, which caps an hourly schedule at about six weeks.
DEFAULT_KEEP_RUNS = 1000
DEFAULT_KEEP_DAYS = 400


@dataclass(frozen=True)
class ScanSection:
    targets: tuple[str, ...]
    ports: str = "cameras"
    exclude: tuple[str, ...] = ()
    allow_large: bool = False
    shard: str | None = None  # "I/N": this run sweeps shard I of N (scanner.shards)
    concurrency: int = 256
    per_host: int = 2
    rate: float | None = None
    connect_timeout: float = 3.0
    handshake_timeout: float = 5.0
    http_facts: bool = True
    legacy_probe: bool = True
    http_timeout: float = 3.0
    ws_discovery: bool = True
    ws_discovery_timeout: float = 1.0
    discovery: str = "auto"  # host discovery before the sweep (docs/discovery.md)
    discovery_rate: float = 10_000.0
    discovery_retries: int = 1
    discovery_wait: float = 0.5


@dataclass(frozen=True)
class TrustSection:
    mode: str | None = None  # None: the rules framework's default
    ca_bundles: tuple[Path, ...] = ()
    intermediates: tuple[Path, ...] = ()
    offline: bool = False


@dataclass(frozen=True)
class Thresholds:
    expiry_warn_days: int | None = None
    fail_on: str | None = None
    profile: str | None = None  # "device" (default) or "webpki"


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    timeout: float = 10.0
    retries: int = 3  # attempts in all, not extra attempts
    backoff: float = 2.0  # seconds before the 2nd attempt, doubled after each failure
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EmailConfig:
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 25
    starttls: bool = False
    ca_file: Path | None = None  # verify the STARTTLS certificate against this CA (else system store)
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    timeout: float = 30.0
    subject_prefix: str = "[camscan]"

    def password(self) -> str | None:
        """Read the SMTP password only when it is needed, from the environment or a file."""
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise UsageError(
                    f"[notify.email] password_env: environment variable {self.password_env} is not set"
                )
            return value
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").strip("\r\n")
            except OSError as exc:
                raise UsageError(
                    f"[notify.email] password_file: cannot read {self.password_file}: {exc.strerror}"
                ) from None
        return None


@dataclass(frozen=True)
class ReportSection:
    """[report]: what the reports and notifications include beyond the findings."""

    plan: bool = False  # the remediation plan (camscan fix's dry run); never applied by the audit
    ca: Path | None = None  # the site CA directory the plan's commands name


@dataclass(frozen=True)
class IssuerSection:
    """[issuer]: where renewed certificates come from (`camscan fix --issuer` in the audit)."""

    name: str = "local"
    file: Path | None = None  # the issuer file (--issuers)
    ca: Path | None = None  # the site CA directory, for `local`
    renew_before_days: int = 30
    renew_before_fraction: float | None = None  # or a share of the lifetime, whichever is wider


@dataclass(frozen=True)
class FixSection:
    """[fix]: what the audit may change on devices. Only renewals, and only with renew = true."""

    renew: bool = False
    user: str | None = None  # device user; password from $CAMSCAN_PASSWORD
    credentials: Path | None = None  # or a 0600 credentials file
    state: Path | None = None  # backups and the audit log (default: the [issuer] ca directory)
    parallel: int = 2


@dataclass(frozen=True)
class AuditConfig:
    path: Path
    scan: ScanSection
    trust: TrustSection = field(default_factory=TrustSection)
    thresholds: Thresholds = field(default_factory=Thresholds)
    outputs: Mapping[str, Path | str] = field(default_factory=dict)  # "-" stays a str (stdout)
    history_path: Path = Path(DEFAULT_HISTORY_NAME)
    lock_path: Path = Path(DEFAULT_HISTORY_NAME + ".lock")
    keep_runs: int = DEFAULT_KEEP_RUNS  # 0: no limit by count
    keep_days: int = DEFAULT_KEEP_DAYS  # 0: no limit by age
    webhook: WebhookConfig | None = None
    email: EmailConfig | None = None
    report: ReportSection = field(default_factory=lambda: ReportSection())
    sites: SitesConfig | None = None  # [[sites]]: a central audit across sites (camscan.sites)
    issuer: IssuerSection | None = None
    fix: FixSection = field(default_factory=lambda: FixSection())

    def rules_argv(self) -> list[str]:
        """The trust and threshold settings as `camscan scan` options (camscan.rules.options).

        The audit parses these with the very parsers `camscan scan` uses, so both commands give
        each setting one meaning and one default.
        """
        argv: list[str] = []
        for bundle in self.trust.ca_bundles:
            argv += ["--ca-bundle", str(bundle)]
        if self.trust.mode is not None:
            argv += ["--trust", self.trust.mode]
        for extra in self.trust.intermediates:
            argv += ["--intermediates", str(extra)]
        if self.trust.offline:
            argv.append("--offline")
        if self.thresholds.expiry_warn_days is not None:
            argv += ["--expiry-warn", str(self.thresholds.expiry_warn_days)]
        if self.thresholds.profile is not None:
            argv += ["--profile", self.thresholds.profile]
        return argv

    def reports_argv(self) -> list[str]:
        """The outputs and --fail-on as `camscan scan` options (camscan.reports.options)."""
        argv: list[str] = []
        if self.thresholds.fail_on is not None:
            argv += ["--fail-on", self.thresholds.fail_on]
        for kind in OUTPUT_KINDS:
            if kind in self.outputs and kind != "json":
                argv += [f"--{kind}", str(self.outputs[kind])]
        return argv
