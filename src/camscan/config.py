"""The scheduled-audit configuration: one TOML file, validated before anything touches the network.

Every error names the file and the key (``camscan.toml: [scan] tragets: unknown key (did you mean
'targets'?)``) and is a UsageError (exit 2). Relative paths are resolved against the directory of
the config file, so a crontab entry behaves the same whatever its working directory. Secrets are
never read from the TOML itself: the SMTP password comes from an environment variable or a file
the config names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from camscan.config_model import (
    DEFAULT_HISTORY_NAME,
    DEFAULT_KEEP_DAYS,
    DEFAULT_KEEP_RUNS,
    OUTPUT_KINDS,
    SEVERITIES,
    AuditConfig,
    EmailConfig,
    ReportSection,
    ScanSection,
    Thresholds,
    TrustSection,
    WebhookConfig,
)
from camscan.config_reader import (
    Reader,
    Where,
    anchor,
    check_keys,
    ports_spec,
    read_toml,
    sweep_limits,
)
from camscan.errors import UsageError
from camscan.rules.options import TRUST_MODES

__all__ = [
    "DEFAULT_HISTORY_NAME", "DEFAULT_KEEP_DAYS", "DEFAULT_KEEP_RUNS", "OUTPUT_KINDS", "SEVERITIES",
    "AuditConfig", "EmailConfig", "ReportSection", "ScanSection", "Thresholds", "TrustSection",
    "WebhookConfig", "load_config", "parse_config",
]

_TOP = (
    "scan", "trust", "thresholds", "outputs", "history", "lock", "notify", "report",
    "sites", "broker", "dispatch",  # a central audit across sites: camscan.sites.site_config
    "issuer", "fix",  # issuers and renewal: camscan.remediate.issuers
)
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
    "discovery",
    "discovery_rate",
    "discovery_retries",
    "discovery_wait",
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


def _shard(reader: Reader) -> str | None:
    text = reader.string("shard", None)
    if text is None:
        return None
    from camscan.scanner.shards import parse_shard

    try:
        return str(parse_shard(text))
    except UsageError as exc:
        raise reader.where.fail(reader.key("shard"), str(exc).replace("--shard ", "", 1)) from None


def _validate_targets(reader: Reader, scan: ScanSection) -> None:
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


def _scan_section(where: Where, data: Mapping[str, Any], base: Path) -> ScanSection:
    if "scan" not in data:
        raise where.fail("[scan]", "missing (the config needs at least [scan] targets)")
    table = Reader(where, "", data, base).table_of("scan")
    check_keys(where, "[scan]", table, _SCAN)
    r = Reader(where, "[scan]", table, base)
    scan = ScanSection(
        targets=tuple(anchor(t, base) for t in r.strings("targets", required=True)),
        ports=ports_spec(r),
        exclude=tuple(anchor(t, base) for t in r.strings("exclude")),
        allow_large=r.boolean("allow_large", False),
        shard=_shard(r),
        **sweep_limits(r),
        discovery=r.string("discovery", "auto", choices=("auto", "arp", "syn", "connect", "none")) or "auto",
        discovery_rate=r.number("discovery_rate", 10_000.0) or 10_000.0,
        discovery_retries=r.integer("discovery_retries", 1, minimum=0, maximum=10) or 0,
        discovery_wait=r.number("discovery_wait", 0.5) or 0.5,
    )
    _validate_targets(r, scan)
    return scan


def _existing_file(r: Reader, name: str, path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise r.where.fail(r.key(name), f"{path} does not exist or is not a file")
    return path


def _trust_section(where: Where, data: Mapping[str, Any], base: Path) -> TrustSection:
    table = Reader(where, "", data, base).table_of("trust")
    check_keys(where, "[trust]", table, _TRUST)
    r = Reader(where, "[trust]", table, base)
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


def _outputs_section(where: Where, data: Mapping[str, Any], base: Path) -> dict[str, Path | str]:
    table = Reader(where, "", data, base).table_of("outputs")
    check_keys(where, "[outputs]", table, OUTPUT_KINDS)
    r = Reader(where, "[outputs]", table, base)
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


def _webhook(where: Where, table: Mapping[str, Any], base: Path) -> WebhookConfig:
    check_keys(where, "[notify.webhook]", table, _WEBHOOK)
    r = Reader(where, "[notify.webhook]", table, base)
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


def _email(where: Where, table: Mapping[str, Any], base: Path) -> EmailConfig:
    check_keys(where, "[notify.email]", table, _EMAIL)
    r = Reader(where, "[notify.email]", table, base)
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


def _reject_inline_secrets(where: Where, data: Mapping[str, Any]) -> None:
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
    where = Where(path)
    base = path.parent.resolve()
    _reject_inline_secrets(where, data)
    check_keys(where, "", data, _TOP)
    sites = None
    if "sites" in data or "broker" in data or "dispatch" in data:
        # A central audit across sites (docs/sites.md): each site's workers sweep its targets,
        # so [scan] is optional; the sites' own tables live in camscan.sites.site_config.
        from camscan.sites.site_config import parse_sites

        sites = parse_sites({k: data[k] for k in ("sites", "broker", "dispatch") if k in data}, path)
        if "scan" in data:
            raise where.fail("[scan]", "a config with [[sites]] sweeps through the sites' workers: "
                             "move the targets into [[sites]] tables (each with its own targets)")
    scan = _scan_section(where, data, base) if sites is None else ScanSection(targets=())
    trust = _trust_section(where, data, base)

    top = Reader(where, "", data, base)
    th_table = top.table_of("thresholds")
    check_keys(where, "[thresholds]", th_table, _THRESHOLDS)
    th = Reader(where, "[thresholds]", th_table, base)
    thresholds = Thresholds(
        expiry_warn_days=th.integer("expiry_warn_days", None, minimum=0, maximum=3650),
        fail_on=th.string("fail_on", choices=(*SEVERITIES, "none")),
        profile=th.string("profile", choices=("device", "webpki")),
    )

    outputs = _outputs_section(where, data, base)

    hist_table = top.table_of("history")
    check_keys(where, "[history]", hist_table, _HISTORY)
    hist = Reader(where, "[history]", hist_table, base)
    history_path = hist.path("path") or base / DEFAULT_HISTORY_NAME
    keep_runs = hist.integer("keep_runs", DEFAULT_KEEP_RUNS, minimum=0, maximum=10_000_000)
    if keep_runs == 1:
        # The newest run and the one before it are always kept: each audit is diffed against it.
        raise where.fail(hist.key("keep_runs"), "1 is too few (0 for no limit, or at least 2)")
    keep_days = hist.integer("keep_days", DEFAULT_KEEP_DAYS, minimum=0, maximum=36_500)
    lock_table = top.table_of("lock")
    check_keys(where, "[lock]", lock_table, _LOCK)
    lock_path = Reader(where, "[lock]", lock_table, base).path("path") or Path(f"{history_path}.lock")
    for key, p in (("[history] path", history_path), ("[lock] path", lock_path)):
        if not p.parent.is_dir():
            raise where.fail(key, f"directory {p.parent} does not exist")

    notify = top.table_of("notify")
    check_keys(where, "[notify]", notify, _NOTIFY)
    nr = Reader(where, "[notify]", notify, base)
    webhook = _webhook(where, nr.table_of("webhook"), base) if "webhook" in notify else None
    email = _email(where, nr.table_of("email"), base) if "email" in notify else None

    report_table = top.table_of("report")
    check_keys(where, "[report]", report_table, _REPORT)
    rr = Reader(where, "[report]", report_table, base)
    report = ReportSection(plan=rr.boolean("plan", False), ca=rr.path("ca"))
    if report.ca is not None and not report.ca.is_dir():
        raise where.fail("[report] ca", f"{report.ca} is not a directory (camscan ca init --dir DIR)")

    from camscan.config_fix import fix_section, issuer_section

    issuer = issuer_section(where, top, base)
    fix = fix_section(where, top, base, issuer)

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
        sites=sites,
        issuer=issuer,
        fix=fix,
    )


def load_config(path: str | os.PathLike[str]) -> AuditConfig:
    """Read and validate an audit config; UsageError (exit 2) naming the file and key on any problem."""
    data, resolved = read_toml(path, "config")
    return parse_config(data, resolved)
