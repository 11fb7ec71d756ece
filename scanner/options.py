"""The sweep's settings in one place: the `camscan scan` flags, and the SweepOptions, targets and
ScanParameters that scan, demo and audit build from them (or from the audit config's [scan]).

Convention: each flag's dest, the SweepOptions field and the [scan] config key share one name
(`per_host`, `handshake_timeout`, ...), so `sweep_options` reads any of them by field name, and a
new sweep setting needs its field in SweepOptions and its flag here, nothing in the commands.

Kept light at import time: `camscan --help` calls add_arguments(), so the scanner itself (trio,
the probes) is imported only inside the functions that build a sweep.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from camscan.argtypes import bounded, positive

if TYPE_CHECKING:
    from camscan.config import ScanSection
    from camscan.model import ScanParameters
    from camscan.scanner.sweep import SweepOptions
    from camscan.scanner.targets import TargetSet

# Flags of the "targets and sweep" group that say what to scan rather than how: they are not
# SweepOptions fields (and [scan] has the same keys, plus `targets`).
TARGET_SETTINGS: tuple[str, ...] = ("ports", "exclude", "allow_large", "shard")


# A count of connections and a duration or rate: whole numbers from 1, positive numbers.
positive_float = positive(float)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The "targets and sweep" group (the TARGET positional stays with the command)."""
    sweep = parser.add_argument_group("targets and sweep")
    sweep.add_argument(
        "-p", "--ports", default="cameras", metavar="PORTS",
        help="ports: 443,8443 or 8000-8100 or presets 'cameras' (443,4443,7443,8443,9443) and "
        "'vms' (cameras + Milestone XProtect 7563,8082); mix freely (default: cameras)",
    )
    sweep.add_argument(
        "--exclude", action="append", default=[], metavar="TARGET",
        help="skip these (same forms as targets; repeatable or comma-separated)",
    )
    sweep.add_argument(
        "--allow-large", action="store_true",
        help="allow targets covering more than a /16 (65,536 addresses)",
    )
    sweep.add_argument(
        "--shard", metavar="I/N", default=None,
        help="scan only shard I of N (1-based: 1/3, 2/3, 3/3): N runs with the same targets "
        "cover every endpoint exactly once, in shards whose sizes differ by at most one; "
        "combine their JSON reports with `camscan merge`",
    )
    # The bounds of the audit config's [scan] keys: each worker is a task, so an unbounded
    # --concurrency 10**20 exhausted memory before a single probe.
    sweep.add_argument("--concurrency", type=bounded(int, 1, 65536), default=256, metavar="N",
                       help="connections in flight at once, all hosts together (default: 256)")
    sweep.add_argument("--per-host", type=bounded(int, 1, 64), default=2, metavar="N",
                       help="connections at once to one address; cameras are fragile (default: 2)")
    sweep.add_argument("--rate", type=positive_float, default=None, metavar="PER_SECOND",
                       help="at most this many new connections per second (default: unlimited)")
    sweep.add_argument("--connect-timeout", type=positive_float, default=3.0, metavar="SECONDS",
                       help="TCP connect timeout (default: 3)")
    sweep.add_argument("--handshake-timeout", type=positive_float, default=5.0, metavar="SECONDS",
                       help="TLS handshake timeout (default: 5)")
    sweep.add_argument("--http-timeout", type=positive_float, default=3.0, metavar="SECONDS",
                       help="time allowed for the HTTP HEAD after the handshake (default: 3)")
    sweep.add_argument("--no-http", dest="http_facts", action="store_false",
                       help="skip the HTTP HEAD request (no Server/Date facts, no clock-skew rule)")
    sweep.add_argument(
        "--legacy-probe", action=argparse.BooleanOptionalAction, default=True,
        help="also ask each HTTPS endpoint for TLS 1.0 and 1.1 with hand-built hellos "
        "(one more connection per endpoint, within --per-host; default: on)",
    )
    sweep.add_argument(
        "--ws-discovery", action=argparse.BooleanOptionalAction, default=True,
        help="ask each HTTPS host for its identity (MAC, model) with one unicast ONVIF "
        "WS-Discovery probe on UDP 3702 (default: on)",
    )
    sweep.add_argument("--ws-discovery-timeout", type=positive_float, default=1.0, metavar="SECONDS",
                       help="how long to wait for the WS-Discovery answer (default: 1)")
    found = parser.add_argument_group("host discovery (docs/discovery.md)")
    found.add_argument(
        "--discovery", choices=("auto", "arp", "syn", "connect", "none"), default="auto",
        help="find live hosts before connecting: ARP for on-link targets, SYN for routed ones "
        "(both need root or CAP_NET_RAW), host-aware connects otherwise; none connects to every "
        "address (default: auto, the best available)",
    )
    found.add_argument("--no-discovery", dest="discovery", action="store_const", const="none",
                       help="same as --discovery none")
    found.add_argument("--discovery-rate", type=positive_float, default=10_000.0, metavar="PER_SECOND",
                       help="packets (ARP, SYN or connects) per second, every method together "
                       "(default: 10000)")
    found.add_argument("--discovery-retries", type=bounded(int, 0, 10), default=1, metavar="N",
                       help="ask silent addresses again N times (default: 1)")
    found.add_argument("--discovery-wait", type=positive_float, default=0.5, metavar="SECONDS",
                       help="listen this long for answers after each pass (default: 0.5)")


@functools.cache
def flag_defaults() -> dict[str, Any]:
    """Each flag's default by dest: what a command without the flag (demo) sweeps with."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    return vars(parser.parse_args([]))


def sweep_options(settings: object, **overrides: Any) -> SweepOptions:
    """SweepOptions from parsed arguments or a [scan] section: each field read by its name.

    A field `settings` lacks takes the flag's default (so demo sweeps as `camscan scan` would),
    or the dataclass default when no flag sets it; `overrides` win over both.
    """
    import dataclasses

    from camscan.scanner.sweep import SweepOptions

    defaults = flag_defaults()
    values: dict[str, Any] = {}
    for field in dataclasses.fields(SweepOptions):
        if hasattr(settings, field.name):
            values[field.name] = getattr(settings, field.name)
        elif field.name in defaults:
            values[field.name] = defaults[field.name]
    values.update(overrides)
    # A legacy hello's answer is the start of a handshake: it may take as long as one.
    values.setdefault("legacy_timeout", values["handshake_timeout"])
    return SweepOptions(**values)


def scan_parameters(
    targets: Iterable[str],
    ports: Sequence[int],
    options: SweepOptions,
    *,
    excluded: Iterable[str] = (),
    shard: str | None = None,
) -> ScanParameters:
    """What the reports record about how the scan was run."""
    from camscan.model import ScanParameters

    return ScanParameters(
        targets=tuple(targets),
        ports=tuple(ports),
        excluded=tuple(excluded),
        concurrency=options.concurrency,
        per_host=options.per_host,
        rate=options.rate,
        connect_timeout=options.connect_timeout,
        handshake_timeout=options.handshake_timeout,
        http_facts=options.http_facts,
        http_timeout=options.http_timeout if options.http_facts else None,
        legacy_probe=options.legacy_probe,
        ws_discovery=options.ws_discovery,
        shard=shard,
    )


class Sweep(NamedTuple):
    """Everything run_scan needs: what to scan, how, and the parameters the report records."""

    targets: TargetSet
    options: SweepOptions
    parameters: ScanParameters


def split_excluded(values: Iterable[str]) -> list[str]:
    """--exclude is repeatable and comma-separated: one flat list of target specs.

    An empty --exclude is refused, not ignored: `--exclude "$SKIP"` with SKIP unset would
    otherwise scan what the user meant to leave alone."""
    values = list(values)
    if any(not value.strip() for value in values):
        from camscan.errors import UsageError

        raise UsageError("--exclude '': empty (name the targets to leave out)")
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def sweep_from_args(args: argparse.Namespace) -> Sweep:
    """The sweep `camscan scan TARGET... [flags]` asks for; UsageError on a bad target or port."""
    return _sweep(
        args.targets, args.ports, split_excluded(args.exclude), args.allow_large, args,
        shard=getattr(args, "shard", None),
    )


def sweep_from_config(scan: ScanSection) -> Sweep:
    """The sweep an audit config's [scan] section asks for (keys named like the flags' dests)."""
    return _sweep(scan.targets, scan.ports, scan.exclude, scan.allow_large, scan, shard=scan.shard)


def _sweep(
    targets: Sequence[str],
    ports_spec: str,
    excluded: Sequence[str],
    allow_large: bool,
    settings: object,
    *,
    shard: str | None = None,
) -> Sweep:
    from camscan.scanner.shards import parse_shard, shard_targets
    from camscan.scanner.targets import parse_ports, parse_targets

    chosen = parse_shard(shard) if shard is not None else None
    ports = parse_ports(ports_spec)
    target_set = parse_targets(targets, ports=ports, exclude=excluded, allow_large=allow_large)
    options = sweep_options(settings)
    parameters = scan_parameters(
        targets, ports, options, excluded=excluded, shard=str(chosen) if chosen else None
    )
    return Sweep(shard_targets(target_set, chosen), options, parameters)
