"""The scheduled-audit configuration: one TOML file, validated before anything touches the network.

Every error names the file and the key (``camscan.toml: [scan] tragets: unknown key (did you mean
'targets'?)``) and is a UsageError (exit 2). Relative paths are resolved against the directory of
the config file, so a crontab entry behaves the same whatever its working directory. Secrets are
never read from the TOML itself: the SMTP password comes from an environment variable or a file
the config names.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camscan.errors import UsageError
from camscan.rules.options import TRUST_MODES

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


# --- validation -------------------------------------------------------------------------------

Check = Callable[[Any, str], Any]


class _Where:
    """Formats "file: [section] key: problem" messages."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> UsageError:
        return UsageError(f"{self.path}: {key}: {problem}")


def _type_name(value: object) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _check_keys(where: _Where, section: str, table: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(allowed)})"
            raise where.fail(f"{section} {key}".strip(), f"unknown key{hint}")


class _Reader:
    """Typed getters over one TOML table; every error names the file, section and key."""

    def __init__(self, where: _Where, section: str, table: Mapping[str, Any], base: Path) -> None:
        self.where, self.section, self.table, self.base = where, section, table, base

    def key(self, name: str) -> str:
        return f"{self.section} {name}".strip()

    def _bad(self, name: str, wanted: str, value: object) -> UsageError:
        return self.where.fail(self.key(name), f"expected {wanted}, got {_type_name(value)} {value!r}")

    def has(self, name: str) -> bool:
        return name in self.table

    def string(self, name: str, default: str | None = None, *, choices: tuple[str, ...] = ()) -> str | None:
        value = self.table.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self._bad(name, "a non-empty string", value)
        if choices and value not in choices:
            raise self.where.fail(self.key(name), f"{value!r} is not one of {', '.join(choices)}")
        return value

    def required_string(self, name: str) -> str:
        if name not in self.table:
            raise self.where.fail(self.key(name), "missing (required)")
        value = self.string(name)
        assert value is not None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            raise self._bad(name, "true or false", value)
        return value

    def integer(
        self, name: str, default: int | None, *, minimum: int, maximum: int | None = None
    ) -> int | None:
        value = self.table.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(name, "an integer", value)
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise self.where.fail(self.key(name), f"{value} is out of range (must be {bound})")
        return value

    def number(self, name: str, default: float | None, *, positive: bool = True) -> float | None:
        value = self.table.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(name, "a number", value)
        if positive and value <= 0:
            raise self.where.fail(self.key(name), f"{value} must be greater than 0")
        return float(value)

    def strings(self, name: str, *, required: bool = False) -> tuple[str, ...]:
        if name not in self.table:
            if required:
                raise self.where.fail(self.key(name), "missing (required)")
            return ()
        value = self.table[name]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self._bad(name, "a list of non-empty strings", value)
        if required and not value:
            raise self.where.fail(self.key(name), "must not be empty")
        return tuple(value)

    def path(self, name: str, default: Path | None = None) -> Path | None:
        value = self.string(name)
        if value is None:
            return default
        return (self.base / Path(value).expanduser()).resolve()

    def table_of(self, name: str) -> Mapping[str, Any]:
        value = self.table.get(name, {})
        if not isinstance(value, dict):
            raise self._bad(name, "a table", value)
        return value


_TOP = ("scan", "trust", "thresholds", "outputs", "history", "lock", "notify", "report")
_REPORT = ("plan", "ca")
_SCAN = (
    "targets",
    "ports",
    "exclude",
    "allow_large",
    "shard",
    "concurrency",
    "per_host",
    "rate",
    "connect_timeout",
    "handshake_timeout",
    "http_facts",
    "legacy_probe",
    "http_timeout",
    "ws_discovery",
    "ws_discovery_timeout",
)
_TRUST = ("mode", "ca_bundles", "intermediates", "offline")
_THRESHOLDS = ("expiry_warn_days", "fail_on", "profile")
_HISTORY = ("path", "keep_runs", "keep_days")
_LOCK = ("path",)
_NOTIFY = ("webhook", "email")
_WEBHOOK = ("url", "timeout", "retries", "backoff", "headers")
_EMAIL = (
    "host",
    "port",
    "starttls",
    "ca_file",
    "username",
    "password_env",
    "password_file",
    "from",
    "to",
    "timeout",
    "subject_prefix",
)


def _ports_spec(reader: _Reader) -> str:
    if not reader.has("ports"):
        return "cameras"
    value = reader.table["ports"]
    if isinstance(value, str) and value.strip():
        spec = value.strip()
    elif (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        spec = ",".join(str(v) for v in value)
    else:
        raise reader._bad("ports", 'a port spec string ("443,8443", "cameras") or a list of integers', value)
    from camscan.scanner.targets import parse_ports

    try:
        parse_ports(spec)
    except UsageError as exc:
        raise reader.where.fail(reader.key("ports"), str(exc)) from None
    return spec


def _shard(reader: _Reader) -> str | None:
    text = reader.string("shard", None)
    if text is None:
        return None
    from camscan.scanner.shards import parse_shard

    try:
        return str(parse_shard(text))
    except UsageError as exc:
        raise reader.where.fail(reader.key("shard"), str(exc).replace("--shard ", "", 1)) from None


def _validate_targets(reader: _Reader, scan: ScanSection) -> None:
    """Parse the targets now (parse_targets validates eagerly), so a typo fails at load time."""
    from camscan.scanner.targets import parse_ports, parse_targets

    ports = parse_ports(scan.ports)
    try:
        parse_targets(scan.targets, ports=ports, allow_large=scan.allow_large)
    except UsageError as exc:
        raise reader.where.fail(reader.key("targets"), str(exc)) from None
    try:
        parse_targets(scan.targets, ports=ports, exclude=scan.exclude, allow_large=scan.allow_large)
    except UsageError as exc:
        raise reader.where.fail(reader.key("exclude"), str(exc)) from None


def _anchor(spec: str, base: Path) -> str:
    """"@hosts.txt" in a config names a file beside the config, not in cron's working directory."""
    if spec.startswith("@"):
        return "@" + str((base / Path(spec[1:]).expanduser()).resolve())
    return spec


def _scan_section(where: _Where, data: Mapping[str, Any], base: Path) -> ScanSection:
    if "scan" not in data:
        raise where.fail("[scan]", "missing (the config needs at least [scan] targets)")
    table = _Reader(where, "", data, base).table_of("scan")
    _check_keys(where, "[scan]", table, _SCAN)
    r = _Reader(where, "[scan]", table, base)
    scan = ScanSection(
        targets=tuple(_anchor(t, base) for t in r.strings("targets", required=True)),
        ports=_ports_spec(r),
        exclude=tuple(_anchor(t, base) for t in r.strings("exclude")),
        allow_large=r.boolean("allow_large", False),
        shard=_shard(r),
        concurrency=r.integer("concurrency", 256, minimum=1, maximum=65536) or 256,
        per_host=r.integer("per_host", 2, minimum=1, maximum=64) or 2,
        rate=r.number("rate", None),
        connect_timeout=r.number("connect_timeout", 3.0) or 3.0,
        handshake_timeout=r.number("handshake_timeout", 5.0) or 5.0,
        http_facts=r.boolean("http_facts", True),
        legacy_probe=r.boolean("legacy_probe", True),
        http_timeout=r.number("http_timeout", 3.0) or 3.0,
        ws_discovery=r.boolean("ws_discovery", True),
        ws_discovery_timeout=r.number("ws_discovery_timeout", 1.0) or 1.0,
    )
    _validate_targets(r, scan)
    return scan


def _existing_file(r: _Reader, name: str, path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise r.where.fail(r.key(name), f"{path} does not exist or is not a file")
    return path


def _trust_section(where: _Where, data: Mapping[str, Any], base: Path) -> TrustSection:
    table = _Reader(where, "", data, base).table_of("trust")
    _check_keys(where, "[trust]", table, _TRUST)
    r = _Reader(where, "[trust]", table, base)
    bundles = tuple((base / Path(b).expanduser()).resolve() for b in r.strings("ca_bundles"))
    for bundle in bundles:
        _existing_file(r, "ca_bundles", bundle)
    intermediates = tuple((base / Path(b).expanduser()).resolve() for b in r.strings("intermediates"))
    for extra in intermediates:
        _existing_file(r, "intermediates", extra)
    return TrustSection(
        mode=r.string("mode", choices=TRUST_MODES),
        ca_bundles=bundles,
        intermediates=intermediates,
        offline=r.boolean("offline", False),
    )


def _outputs_section(where: _Where, data: Mapping[str, Any], base: Path) -> dict[str, Path | str]:
    table = _Reader(where, "", data, base).table_of("outputs")
    _check_keys(where, "[outputs]", table, OUTPUT_KINDS)
    r = _Reader(where, "[outputs]", table, base)
    outputs: dict[str, Path | str] = {}
    for kind in OUTPUT_KINDS:
        value = r.string(kind)
        if value is None:
            continue
        if value == "-":
            if kind not in ("json", "jsonl"):
                raise where.fail(r.key(kind), "only json and jsonl may be written to stdout ('-')")
            if "-" in outputs.values():
                raise where.fail(r.key(kind), "only one output may go to stdout ('-')")
            outputs[kind] = "-"
            continue
        path = (base / Path(value).expanduser()).resolve()
        if not path.parent.is_dir():
            raise where.fail(r.key(kind), f"directory {path.parent} does not exist")
        outputs[kind] = path
    return outputs


def _webhook(where: _Where, table: Mapping[str, Any], base: Path) -> WebhookConfig:
    _check_keys(where, "[notify.webhook]", table, _WEBHOOK)
    r = _Reader(where, "[notify.webhook]", table, base)
    url = r.required_string("url")
    if not url.startswith(("http://", "https://")):
        raise where.fail(r.key("url"), f"{url!r} is not an http:// or https:// URL")
    headers = r.table_of("headers")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise where.fail(r.key("headers"), "expected a table of string values")
    return WebhookConfig(
        url=url,
        timeout=r.number("timeout", 10.0) or 10.0,
        retries=r.integer("retries", 3, minimum=1, maximum=10) or 3,
        backoff=r.number("backoff", 2.0, positive=False) or 0.0,
        headers=dict(headers),
    )


def _email(where: _Where, table: Mapping[str, Any], base: Path) -> EmailConfig:
    _check_keys(where, "[notify.email]", table, _EMAIL)
    r = _Reader(where, "[notify.email]", table, base)
    if r.has("password_env") and r.has("password_file"):
        raise where.fail(r.key("password_env"), "set password_env or password_file, not both")
    if r.has("password_env") or r.has("password_file"):
        if not r.has("username"):
            raise where.fail(r.key("username"), "missing (a password needs a username)")
    to = r.strings("to", required=True)
    for address in (*to, r.required_string("from")):
        if "@" not in address or any(c in address for c in "\r\n"):
            raise where.fail(
                r.key("to" if address in to else "from"), f"{address!r} is not an e-mail address"
            )
    return EmailConfig(
        host=r.required_string("host"),
        sender=r.required_string("from"),
        to=to,
        port=r.integer("port", 25, minimum=1, maximum=65535) or 25,
        starttls=r.boolean("starttls", False),
        ca_file=_existing_file(r, "ca_file", r.path("ca_file")),
        username=r.string("username"),
        password_env=r.string("password_env"),
        password_file=r.path("password_file"),
        timeout=r.number("timeout", 30.0) or 30.0,
        subject_prefix=r.string("subject_prefix", "[camscan]") or "[camscan]",
    )


def _reject_inline_secrets(where: _Where, data: Mapping[str, Any]) -> None:
    notify = data.get("notify")
    email = notify.get("email") if isinstance(notify, dict) else None
    if isinstance(email, dict) and "password" in email:
        # Named specifically (not just "unknown key") so the fix is obvious.
        raise where.fail(
            "[notify.email] password",
            "passwords do not belong in the config file; use password_env or password_file",
        )


def parse_config(data: Mapping[str, Any], path: Path) -> AuditConfig:
    """Validate an already-parsed TOML document. `path` names the file in errors and anchors paths."""
    where = _Where(path)
    base = path.parent.resolve()
    _reject_inline_secrets(where, data)
    _check_keys(where, "", data, _TOP)
    scan = _scan_section(where, data, base)
    trust = _trust_section(where, data, base)

    top = _Reader(where, "", data, base)
    th_table = top.table_of("thresholds")
    _check_keys(where, "[thresholds]", th_table, _THRESHOLDS)
    th = _Reader(where, "[thresholds]", th_table, base)
    thresholds = Thresholds(
        expiry_warn_days=th.integer("expiry_warn_days", None, minimum=0, maximum=3650),
        fail_on=th.string("fail_on", choices=(*SEVERITIES, "none")),
        profile=th.string("profile", choices=("device", "webpki")),
    )

    outputs = _outputs_section(where, data, base)

    hist_table = top.table_of("history")
    _check_keys(where, "[history]", hist_table, _HISTORY)
    hist = _Reader(where, "[history]", hist_table, base)
    history_path = hist.path("path") or base / DEFAULT_HISTORY_NAME
    keep_runs = hist.integer("keep_runs", DEFAULT_KEEP_RUNS, minimum=0, maximum=10_000_000)
    if keep_runs == 1:
        # The newest run and the one before it are always kept: each audit is diffed against it.
        raise where.fail(hist.key("keep_runs"), "1 is too few (0 for no limit, or at least 2)")
    keep_days = hist.integer("keep_days", DEFAULT_KEEP_DAYS, minimum=0, maximum=36_500)
    lock_table = top.table_of("lock")
    _check_keys(where, "[lock]", lock_table, _LOCK)
    lock_path = _Reader(where, "[lock]", lock_table, base).path("path") or Path(f"{history_path}.lock")
    for key, p in (("[history] path", history_path), ("[lock] path", lock_path)):
        if not p.parent.is_dir():
            raise where.fail(key, f"directory {p.parent} does not exist")

    notify = top.table_of("notify")
    _check_keys(where, "[notify]", notify, _NOTIFY)
    nr = _Reader(where, "[notify]", notify, base)
    webhook = _webhook(where, nr.table_of("webhook"), base) if "webhook" in notify else None
    email = _email(where, nr.table_of("email"), base) if "email" in notify else None

    report_table = top.table_of("report")
    _check_keys(where, "[report]", report_table, _REPORT)
    rr = _Reader(where, "[report]", report_table, base)
    report = ReportSection(plan=rr.boolean("plan", False), ca=rr.path("ca"))
    if report.ca is not None and not report.ca.is_dir():
        raise where.fail("[report] ca", f"{report.ca} is not a directory (camscan ca init --dir DIR)")

    return AuditConfig(
        path=path,
        scan=scan,
        trust=trust,
        thresholds=thresholds,
        outputs=outputs,
        history_path=history_path,
        lock_path=lock_path,
        keep_runs=DEFAULT_KEEP_RUNS if keep_runs is None else keep_runs,
        keep_days=DEFAULT_KEEP_DAYS if keep_days is None else keep_days,
        webhook=webhook,
        email=email,
        report=report,
    )


def load_config(path: str | os.PathLike[str]) -> AuditConfig:
    """Read and validate an audit config; UsageError (exit 2) naming the file and key on any problem."""
    config_path = Path(path).expanduser()
    try:
        raw = config_path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read config {config_path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{config_path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{config_path}: invalid TOML: {exc}") from None
    return parse_config(data, config_path.resolve())
