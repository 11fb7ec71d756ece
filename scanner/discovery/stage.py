"""The discovery stage: plan each target's method, run the methods together, hand the sweep
exactly the endpoints of the hosts that answered.

  on-link IPv4  -> ARP sweep (arp.py): a live host gets all its ports swept
  routed IPv4   -> SYN discovery (syn.py): only ports that sent SYN-ACK are swept
  IPv6, or no CAP_NET_RAW -> host-aware connect discovery (connect.py): only open ports swept
  loopback, own addresses -> swept as given (a connect there never waits)
  reject route or no route -> nothing sent, counted as unreachable

Ports that refused (RST) or stayed silent on a host that answered are recorded as failures
(refused / timeout) without a connect; addresses that never answered are counted in the
summary, not listed one by one (a silent /16 would be 327,670 failure records).
"""

from __future__ import annotations

import socket
import time
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import trio

from camscan.errors import UsageError
from camscan.model import (
    DiscoveryMethodStats,
    DiscoverySummary,
    Endpoint,
    FailureKind,
    ProbeFailure,
    ProbeStage,
)
from camscan.scanner.discovery.pacer import Pacer
from camscan.scanner.discovery.plan import (
    Planner,
    Reach,
    interface_mac,
    load_local_networks,
    load_routes,
    own_addresses,
    source_for,
)
from camscan.scanner.targets import TargetSet, address_text

if TYPE_CHECKING:
    from camscan.scanner.sweep import SweepOptions

METHODS = ("auto", "arp", "syn", "connect", "none")
CONNECT_SOCKETS_PER_WORKER = 8  # connect discovery holds up to 8 x --concurrency sockets


def privileged() -> bool:
    """Whether raw sockets open here (root or CAP_NET_RAW): ARP and SYN discovery need them."""
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP).close()
    except OSError:
        return False
    return True


@dataclass
class _Plan:
    local: list[Endpoint] = field(default_factory=list)
    # (interface, ports, then SYN the hosts that answered) -> addresses
    arp: dict[tuple[str, tuple[int, ...], bool], array[int]] = field(default_factory=dict)
    syn: dict[tuple[int, tuple[int, ...]], array[int]] = field(default_factory=dict)
    connect: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    unreachable: int = 0
    routed_example: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    summary: DiscoverySummary
    endpoints: list[Endpoint]  # every endpoint handed to the sweep
    failures: list[ProbeFailure]


@dataclass
class Prepared:
    """A discovery plan: made before anything is sent, so a run that needs none skips the stage."""

    plan: _Plan
    requested: str
    privileged: bool


def _hosts(targets: TargetSet) -> list[tuple[int, int, str, tuple[int, ...]]]:
    """(version, value, text, ports) of every address the sweep would probe, ports ascending.

    A plain TargetSet without exclusions is read interval by interval (a /16 is 65,534 tuples
    sharing one ports tuple); anything else (exclusions, a shard) by iterating its endpoints.
    """
    out: list[tuple[int, int, str, tuple[int, ...]]] = []
    if type(targets) is TargetSet and not targets.exclusions:
        for interval in targets.intervals:
            for value in range(interval.first, interval.last + 1):
                out.append((interval.version, value, address_text(interval.version, value), targets.ports))
        extra: Iterable[Endpoint] = targets.explicit_endpoints
    else:
        extra = targets
    grouped: dict[str, list[int]] = defaultdict(list)
    for endpoint in extra:
        grouped[endpoint.address].append(endpoint.port)
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}  # one tuple object per distinct port list
    for text, ports in grouped.items():
        ip = Endpoint(text, 1).ip
        key = tuple(sorted(set(ports)))
        out.append((ip.version, int(ip), text, shared.setdefault(key, key)))
    return out


def _plan(targets: TargetSet, requested: str, raw: bool) -> _Plan:
    plan = _Plan()
    routes = load_routes()
    planner = Planner(routes, own_addresses({r.iface for r in routes}), load_local_networks())
    sources: dict[str, int | None] = {}
    for version, value, text, ports in _hosts(targets):
        if version == 6:
            if value == 1:  # ::1
                plan.local.extend(Endpoint(text, p) for p in ports)
            elif requested in ("arp",):
                raise UsageError(f"--discovery arp reaches on-link IPv4 targets only, not {text}")
            else:
                plan.connect.append((text, ports))
            continue
        reach, route = planner.reach(value)
        if reach is Reach.LOCAL:
            plan.local.extend(Endpoint(text, p) for p in ports)
            continue
        if reach is Reach.UNREACHABLE or route is None:
            plan.unreachable += 1
            continue
        method = requested
        if requested == "auto":
            method = ("arp" if reach is Reach.ON_LINK else "syn") if raw else "connect"
        if method == "syn" and reach is Reach.ON_LINK:
            # A SYN to an empty on-link address leaves a neighbour entry waiting on ARP in the
            # kernel (and its SYN queued behind it): ARP first, then SYN only the hosts that answered.
            plan.arp.setdefault((route.iface, ports, True), array("I")).append(value)
        elif method == "arp":
            if reach is not Reach.ON_LINK:
                raise UsageError(
                    f"--discovery arp reaches on-link targets only; {text} is routed via {route.iface} "
                    "(use --discovery syn or connect)")
            plan.arp.setdefault((route.iface, ports, False), array("I")).append(value)
        elif method == "syn":
            key = f"{route.iface}/{route.network}/{route.prefix}"
            if key not in sources:
                sources[key] = source_for(value)
            src = sources[key]
            if src is None:
                plan.unreachable += 1
                continue
            plan.syn.setdefault((src, ports), array("I")).append(value)
        else:
            plan.connect.append((text, ports))
    if plan.connect and not raw:
        plan.notes.append(
            "discovery ran unprivileged (no CAP_NET_RAW): host-aware connects instead of ARP and "
            "SYN, so each silent address costs one --connect-timeout; run as root or grant "
            "CAP_NET_RAW for ARP and SYN discovery")
    return plan


def _text(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))


def _now() -> datetime:
    return datetime.now(UTC)


def prepare(targets: TargetSet, options: SweepOptions) -> Prepared | None:
    """The plan; None when no target needs discovery (loopback and host names only)."""
    requested = options.discovery
    raw = privileged()
    if requested in ("arp", "syn") and not raw:
        raise UsageError(f"--discovery {requested} needs raw sockets (root or CAP_NET_RAW); "
                         "--discovery connect works without them")
    plan = _plan(targets, requested, raw)
    if not (plan.arp or plan.syn or plan.connect or plan.unreachable):
        return None
    return Prepared(plan, requested, raw)


async def discover(prepared: Prepared, options: SweepOptions,
                   found: trio.MemorySendChannel[Endpoint]) -> Outcome:
    """Run the plan. Each endpoint to sweep goes to `found` as soon as its host answers, so the
    TLS sweep works while discovery still listens; the channel is closed at the end."""
    from camscan.scanner.discovery.arp import ArpResult, arp_sweep
    from camscan.scanner.discovery.connect import ConnectResult, connect_sweep
    from camscan.scanner.discovery.syn import SynResult, syn_sweep

    plan, requested, raw = prepared.plan, prepared.requested, prepared.privileged
    handed: set[Endpoint] = set()

    def hand_over(address: int | str, ports: Sequence[int]) -> None:
        text = address if isinstance(address, str) else _text(address)
        for port in ports:
            endpoint = Endpoint(text, port)
            if endpoint not in handed:
                handed.add(endpoint)
                found.send_nowait(endpoint)  # an unbounded channel: live hosts only

    for endpoint in plan.local:
        hand_over(endpoint.address, (endpoint.port,))
    pacer = Pacer(options.discovery_rate)
    retries, wait = options.discovery_retries, options.discovery_wait
    stats: list[DiscoveryMethodStats] = []
    arp_results: dict[tuple[str, tuple[int, ...], bool], ArpResult] = {}
    arp_syn: dict[tuple[str, tuple[int, ...], bool], SynResult] = {}
    syn_results: dict[tuple[int, ...], SynResult] = {}
    connect_result = ConnectResult()
    timing: dict[str, float] = {}

    async def run_arp() -> None:
        started = time.perf_counter()
        for key, hosts in plan.arp.items():
            iface, ports, then_syn = key
            mac = interface_mac(iface)
            src = source_for(hosts[0])
            if mac is None or src is None:
                raise UsageError(f"interface {iface} has no MAC or IPv4 address: ARP discovery cannot use it")
            on_alive = None if then_syn else (lambda address, _mac, p=ports: hand_over(address, p))
            answered = arp_results[key] = await arp_sweep(iface, mac, src, hosts, pacer, retries=retries,
                                                          wait=wait, on_alive=on_alive)
            if then_syn and answered.alive:
                alive_hosts = array("I", sorted(answered.alive))
                arp_syn[key] = await syn_sweep([(src, alive_hosts)], ports, pacer, retries=retries, wait=wait,
                                               on_open=lambda address, port: hand_over(address, (port,)))
        timing["arp"] = time.perf_counter() - started

    async def run_syn() -> None:
        started = time.perf_counter()
        by_ports: dict[tuple[int, ...], list[tuple[int, array[int]]]] = defaultdict(list)
        for (src, ports), hosts in plan.syn.items():
            by_ports[ports].append((src, hosts))
        for ports, groups in by_ports.items():
            syn_results[ports] = await syn_sweep(groups, ports, pacer, retries=retries, wait=wait,
                                                 on_open=lambda address, port: hand_over(address, (port,)))
        timing["syn"] = time.perf_counter() - started

    async def run_connect() -> None:
        started = time.perf_counter()
        widest = max(len(p) for _, p in plan.connect)
        result = await connect_sweep(
            plan.connect, pacer, timeout=options.connect_timeout,
            concurrency=options.concurrency * CONNECT_SOCKETS_PER_WORKER, ports_per_host=widest,
            on_open=hand_over)
        connect_result.hosts, connect_result.dead = result.hosts, result.dead
        connect_result.packets = result.packets
        timing["connect"] = time.perf_counter() - started

    async with found, trio.open_nursery() as nursery:
        if plan.arp:
            nursery.start_soon(run_arp)
        if plan.syn:
            nursery.start_soon(run_syn)
        if plan.connect:
            nursery.start_soon(run_connect)

    endpoints: list[Endpoint] = list(plan.local)
    failures: list[ProbeFailure] = []
    found_by: dict[str, str] = {}
    macs: dict[str, str] = {}
    seen_at = _now()

    def answered_host(text: str, method: str, ports: Sequence[int], open_: set[int] | list[int],
                      refused: set[int] | list[int], detail: str | None = None) -> None:
        how = detail or method
        found_by[text] = method
        for port in ports:
            endpoint = Endpoint(text, port)
            if port in open_:
                endpoints.append(endpoint)
            elif port in refused:
                failures.append(ProbeFailure(endpoint, ProbeStage.CONNECT, FailureKind.REFUSED,
                                             f"refused (discovery: {how})", seen_at))
            else:
                failures.append(ProbeFailure(endpoint, ProbeStage.CONNECT, FailureKind.TIMEOUT,
                                             f"filtered: no answer (discovery: {how})", seen_at))

    if plan.arp:
        alive = packets = addresses = 0
        for key, hosts in plan.arp.items():
            _iface, ports, _then_syn = key
            arp_found = arp_results[key]
            ports_found = arp_syn.get(key)
            addresses += len(hosts)
            packets += arp_found.packets + (ports_found.packets if ports_found else 0)
            alive += len(arp_found.alive)
            for value in sorted(arp_found.alive):
                text = _text(value)
                macs[text] = ":".join(f"{b:02x}" for b in arp_found.alive[value])
                if ports_found is None:
                    found_by[text] = "arp"
                    endpoints.extend(Endpoint(text, p) for p in ports)
                else:
                    answered_host(text, "arp", ports, ports_found.open.get(value, set()),
                                  ports_found.refused.get(value, set()), detail="syn")
        stats.append(DiscoveryMethodStats("arp", addresses, alive, packets, round(timing["arp"], 3)))
    if plan.syn:
        alive = packets = addresses = 0
        packets = sum(syn_found.packets for syn_found in syn_results.values())
        for (_src, ports), hosts in plan.syn.items():
            syn_found = syn_results[ports]
            addresses += len(hosts)
            for value in hosts:
                if syn_found.answered(value):
                    alive += 1
                    answered_host(_text(value), "syn", ports, syn_found.open.get(value, set()),
                                  syn_found.refused.get(value, set()))
        stats.append(DiscoveryMethodStats("syn", addresses, alive, packets, round(timing["syn"], 3)))
    if plan.connect:
        for text, ports in plan.connect:
            answer = connect_result.hosts.get(text)
            if answer is not None:
                answered_host(text, "connect", ports, answer.open, answer.refused)
        stats.append(DiscoveryMethodStats("connect", len(plan.connect), len(connect_result.hosts),
                                          connect_result.packets, round(timing["connect"], 3)))
    if plan.local:
        stats.append(DiscoveryMethodStats("none", len({e.address for e in plan.local}),
                                          len({e.address for e in plan.local}), 0, 0.0))
    notes = list(plan.notes)
    by_mac: dict[str, list[str]] = defaultdict(list)
    for text, mac in macs.items():
        by_mac[mac].append(text)
    for mac, addresses_of in sorted(by_mac.items()):
        if len(addresses_of) > 1:
            shown = ", ".join(addresses_of[:8]) + (", ..." if len(addresses_of) > 8 else "")
            notes.append(f"one MAC {mac} answered for {len(addresses_of)} addresses: {shown}")
    summary = DiscoverySummary(
        requested=requested, privileged=raw, rate=pacer.rate, retries=retries, methods=tuple(stats),
        found_by=found_by, macs=macs, unreachable=plan.unreachable, notes=tuple(notes),
    )
    return Outcome(summary, endpoints, failures)
