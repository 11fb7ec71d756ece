"""The TOML tables of a sites set-up: `[broker]` (both sides), `[[sites]]` and `[dispatch]` (central).

    [broker]                      # where the broker URL comes from: never argv, never this file
    url_env = "CAMSCAN_BROKER_URL"   # default; or url_file = "/etc/camscan/broker-url" (0600)
    ca_file = "/etc/camscan/redis-ca.pem"   # TLS (rediss://)

    [[sites]]
    name = "north"
    queue = "camscan.north"       # default: camscan.<name>
    targets = ["10.1.0.0/22"]
    ports = "cameras"
    shards = 4                    # default: one per worker serving the queue

    [dispatch]
    timeout = 3600                # seconds to wait for every site, all together
    retries = 1                   # a shard whose worker died or failed is sent again this often
    fail_on_site_down = true      # exit 3 when a site is down or partial (after writing everything)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camscan.config_reader import Reader, Where, anchor, check_keys, ports_spec, read_toml
from camscan.errors import UsageError
from camscan.sites.broker import DEFAULT_URL_ENV, BrokerSettings

BROKER_KEYS = ("url_env", "url_file", "result_url_env", "result_url_file", "ca_file", "cert_file", "key_file")
SITE_KEYS = ("name", "queue", "targets", "ports", "exclude", "allow_large", "shards", "timeout")
DISPATCH_KEYS = ("timeout", "retries", "fail_on_site_down", "discover_timeout")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class SiteSection:
    name: str
    queue: str
    targets: tuple[str, ...]
    ports: str = "cameras"
    exclude: tuple[str, ...] = ()
    allow_large: bool = False
    shards: int | None = None  # None: one per worker found serving the queue
    timeout: float | None = None  # None: [dispatch] timeout


@dataclass(frozen=True)
class DispatchSection:
    timeout: float = 3600.0
    retries: int = 1
    fail_on_site_down: bool = True
    discover_timeout: float = 2.0  # how long workers have to answer "which queues do you serve"


@dataclass(frozen=True)
class SitesConfig:
    path: Path
    sites: tuple[SiteSection, ...]
    broker: BrokerSettings
    dispatch: DispatchSection = field(default_factory=DispatchSection)


def broker_section(where: Where, data: Mapping[str, Any], base: Path) -> BrokerSettings:
    table = Reader(where, "", data, base).table_of("broker")
    check_keys(where, "[broker]", table, BROKER_KEYS)
    r = Reader(where, "[broker]", table, base)
    if r.has("url_env") and r.has("url_file"):
        raise where.fail(r.key("url_file"), "set url_env or url_file, not both")
    files = {}
    for key in ("url_file", "result_url_file", "ca_file", "cert_file", "key_file"):
        path = r.path(key)
        if path is not None and not path.is_file():
            raise where.fail(r.key(key), f"{path} does not exist or is not a file")
        files[key] = path
    return BrokerSettings(
        url_env=r.string("url_env", DEFAULT_URL_ENV) or DEFAULT_URL_ENV,
        url_file=files["url_file"],
        result_url_env=r.string("result_url_env"),
        result_url_file=files["result_url_file"],
        ca_file=files["ca_file"],
        cert_file=files["cert_file"],
        key_file=files["key_file"],
        where=f"{where.path}: [broker]",
    )


def reject_inline_url(where: Where, data: Mapping[str, Any]) -> None:
    broker = data.get("broker")
    if isinstance(broker, dict) and ("url" in broker or "password" in broker):
        raise where.fail(
            "[broker] url", "the broker URL holds a password: put it in a 0600 file (url_file) or "
            "an environment variable (url_env), not in the config"
        )


def _site(where: Where, index: int, table: Any, base: Path) -> SiteSection:
    section = f"[[sites]] #{index + 1}"
    if not isinstance(table, dict):
        raise where.fail(section, "expected a table")
    check_keys(where, section, table, SITE_KEYS)
    r = Reader(where, section, table, base)
    name = r.required_string("name")
    if not _NAME.match(name):
        raise where.fail(r.key("name"), f"{name!r}: letters, digits, '.', '_' and '-' only (at most 63)")

    site = SiteSection(
        name=name,
        queue=r.string("queue", f"camscan.{name}") or f"camscan.{name}",
        targets=tuple(anchor(t, base) for t in r.strings("targets", required=True)),
        ports=ports_spec(r),
        exclude=tuple(anchor(t, base) for t in r.strings("exclude")),
        allow_large=r.boolean("allow_large", False),
        shards=r.integer("shards", None, minimum=1, maximum=1024),
        timeout=r.number("timeout", None),
    )
    from camscan.scanner.targets import parse_ports, parse_targets

    try:
        parse_targets(site.targets, ports=parse_ports(site.ports), exclude=site.exclude,
                      allow_large=site.allow_large)
    except UsageError as exc:
        raise where.fail(r.key("targets"), str(exc)) from None
    return site


def sites_section(where: Where, data: Mapping[str, Any], base: Path) -> tuple[SiteSection, ...]:
    raw = data.get("sites", [])
    if not isinstance(raw, list) or not raw:
        raise where.fail("[[sites]]", "expected one or more [[sites]] tables")
    sites = tuple(_site(where, i, table, base) for i, table in enumerate(raw))
    seen: dict[str, str] = {}
    for site in sites:
        for key, value in (("name", site.name), ("queue", site.queue)):
            if f"{key}:{value}" in seen:
                raise where.fail(f"[[sites]] {key}", f"{value!r} is used by two sites")
            seen[f"{key}:{value}"] = site.name
    return sites


def dispatch_section(where: Where, data: Mapping[str, Any], base: Path) -> DispatchSection:
    table = Reader(where, "", data, base).table_of("dispatch")
    check_keys(where, "[dispatch]", table, DISPATCH_KEYS)
    r = Reader(where, "[dispatch]", table, base)
    return DispatchSection(
        timeout=r.number("timeout", 3600.0) or 3600.0,
        retries=r.integer("retries", 1, minimum=0, maximum=5) or 0,
        fail_on_site_down=r.boolean("fail_on_site_down", True),
        discover_timeout=r.number("discover_timeout", 2.0) or 2.0,
    )


def parse_sites(data: Mapping[str, Any], path: Path, *, extra_keys: tuple[str, ...] = ()) -> SitesConfig:
    where = Where(path)
    base = path.parent.resolve()
    reject_inline_url(where, data)
    check_keys(where, "", data, ("sites", "broker", "dispatch", *extra_keys))
    return SitesConfig(
        path=path,
        sites=sites_section(where, data, base),
        broker=broker_section(where, data, base),
        dispatch=dispatch_section(where, data, base),
    )


def load_sites(path: str | Path) -> SitesConfig:
    """`camscan scan --sites FILE`: a file of [[sites]], [broker] and [dispatch] only."""
    data, resolved = read_toml(path, "sites file")
    return parse_sites(data, resolved)
