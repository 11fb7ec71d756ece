"""A site worker's own configuration: which site and queue it serves, what it may scan, how gently.

    [worker]
    site = "north"
    queue = "camscan.north"          # default: camscan.<site>
    allow = ["10.1.0.0/16"]          # the only ranges (or host names) this worker scans
    ports = "cameras"                # optional: the only ports it scans
    processes = 1                    # sweeps at once on this machine

    [scan]                           # this site's limits; the central side cannot raise them
    concurrency = 128
    per_host = 2
    rate = 200

    [broker]                         # see camscan.sites.site_config
    url_file = "/etc/camscan/broker-url"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camscan.config_model import ScanSection
from camscan.config_reader import Reader, Where, check_keys, ports_spec, read_toml, sweep_limits
from camscan.errors import UsageError
from camscan.sites.allow import AllowList
from camscan.sites.broker import BrokerSettings
from camscan.sites.site_config import _NAME, broker_section, reject_inline_url

_TOP = ("worker", "scan", "broker")
_WORKER = ("site", "queue", "allow", "ports", "processes", "allow_large")
_LIMITS = (
    "concurrency", "per_host", "rate", "connect_timeout", "handshake_timeout", "http_facts",
    "legacy_probe", "http_timeout", "ws_discovery", "ws_discovery_timeout",
)


@dataclass(frozen=True)
class WorkerConfig:
    path: Path
    site: str
    queue: str
    allow: tuple[str, ...]
    ports: str | None  # None: any port
    processes: int
    allow_large: bool
    limits: ScanSection  # targets unused: the request names them, inside `allow`
    broker: BrokerSettings

    def allow_list(self) -> AllowList:
        from camscan.scanner.targets import parse_ports

        return AllowList(self.allow, parse_ports(self.ports) if self.ports else None)


def parse_worker_config(data: Mapping[str, Any], path: Path) -> WorkerConfig:
    where = Where(path)
    base = path.parent.resolve()
    reject_inline_url(where, data)
    check_keys(where, "", data, _TOP)
    top = Reader(where, "", data, base)
    if "worker" not in data:
        raise where.fail("[worker]", "missing (the worker needs [worker] site and allow)")
    table = top.table_of("worker")
    check_keys(where, "[worker]", table, _WORKER)
    w = Reader(where, "[worker]", table, base)
    site = w.required_string("site")
    if not _NAME.match(site):
        raise where.fail(w.key("site"), f"{site!r}: letters, digits, '.', '_' and '-' only (at most 63)")
    allow = w.strings("allow", required=True)
    ports = None
    if w.has("ports"):

        ports = ports_spec(w)
    try:
        AllowList(allow)
    except UsageError as exc:
        raise where.fail(w.key("allow"), str(exc)) from None
    limits_table = top.table_of("scan")
    check_keys(where, "[scan]", limits_table, _LIMITS)
    r = Reader(where, "[scan]", limits_table, base)
    limits = ScanSection(targets=(), **sweep_limits(r))
    return WorkerConfig(
        path=path,
        site=site,
        queue=w.string("queue", f"camscan.{site}") or f"camscan.{site}",
        allow=allow,
        ports=ports,
        processes=w.integer("processes", 1, minimum=1, maximum=64) or 1,
        allow_large=w.boolean("allow_large", False),
        limits=limits,
        broker=broker_section(where, data, base),
    )


def load_worker_config(path: str | Path) -> WorkerConfig:
    data, resolved = read_toml(path, "worker config")
    return parse_worker_config(data, resolved)
