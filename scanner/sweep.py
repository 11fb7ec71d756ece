"""The sweep: one nursery, a producer feeding a bounded channel, a fixed pool of workers.

Limits: `concurrency` workers in all (so at most that many connections at once), at most
`per_host` connections to any one address (cameras are fragile), an optional `rate` of new
connections per second. Every endpoint ends as exactly one Observation or ProbeFailure.

After a successful handshake the sweep gathers the device's identity (scanner/identity.py): the
neighbour table, the HTTP facts, and one WS-Discovery datagram per address (`ws_discovery`),
paced by `rate` and sent inside the host's `per_host` slot like any connection.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import trio

from camscan.errors import UsageError
from camscan.model import Endpoint, FailureKind, Observation, ProbeFailure, ProbeResult, ProbeStage
from camscan.scanner.identity import IdentityGatherer
from camscan.scanner.targets import TargetSet
from camscan.scanner.tls_probe import ProbeSettings, probe

ResultCallback = Callable[[ProbeResult], None]


@dataclass(frozen=True)
class SweepOptions:
    concurrency: int = 256
    per_host: int = 2
    rate: float | None = None  # new connections per second, all hosts together
    connect_timeout: float = 3.0
    handshake_timeout: float = 5.0
    http_facts: bool = True
    legacy_probe: bool = False
    http_timeout: float = 3.0
    legacy_timeout: float = 3.0
    resolve_timeout: float = 5.0
    # One unicast WS-Discovery Probe per observed address (UDP 3702): cameras answer it with
    # their MAC, model and vendor. On by default: it is one datagram per HTTPS host, and a host
    # without a listener ends the wait at once with an ICMP port-unreachable.
    ws_discovery: bool = True
    ws_discovery_timeout: float = 1.0  # devices answer within 0.5 s (WS-Discovery APP_MAX_DELAY)
    # Host discovery in front of the sweep (camscan.scanner.discovery), run by pipeline.run_scan
    # for a TargetSet: "auto" picks ARP, SYN or connect per target; "none" connects to every one.
    discovery: str = "none"
    discovery_rate: float = 10_000.0  # packets per second, every method together
    discovery_retries: int = 1
    discovery_wait: float = 0.5  # seconds to listen for answers after each pass (nmap -T4: 500 ms)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise UsageError(f"--concurrency must be at least 1 (got {self.concurrency})")
        if self.per_host < 1:
            raise UsageError(f"--per-host must be at least 1 (got {self.per_host})")
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise UsageError(f"--rate must be a positive number of connections per second (got {self.rate})")
        if self.discovery not in ("auto", "arp", "syn", "connect", "none"):
            raise UsageError(f"--discovery must be auto, arp, syn, connect or none (got {self.discovery!r})")
        if not 0 <= self.discovery_retries <= 10:
            raise UsageError(f"--discovery-retries must be 0-10 (got {self.discovery_retries})")
        if not (0 < self.discovery_rate <= 1_000_000 and math.isfinite(self.discovery_rate)):
            raise UsageError(
                f"--discovery-rate must be 1-1000000 packets per second (got {self.discovery_rate})")
        if not 0 < self.discovery_wait <= 60:
            raise UsageError(
                f"--discovery-wait must be more than 0 and at most 60 seconds (got {self.discovery_wait})")
        for name in ("connect_timeout", "handshake_timeout", "http_timeout", "legacy_timeout",
                     "ws_discovery_timeout"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must be a positive number of seconds (got {value})")

    @property
    def probe_settings(self) -> ProbeSettings:
        return ProbeSettings(
            connect_timeout=self.connect_timeout,
            handshake_timeout=self.handshake_timeout,
            http_facts=self.http_facts,
            http_timeout=self.http_timeout,
        )

    def replace(self, **changes: object) -> SweepOptions:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class _HostLimits:
    """At most `per_host` slots per address, handed on in FIFO order; idle addresses leave no state.

    A sweep of a /16 acquires 65,534 addresses once each, so the common case is a dict update;
    a trio ParkingLot exists only for an address someone is waiting on. A released slot goes
    straight to the longest waiter (as trio.CapacityLimiter does), so a newcomer cannot take it.
    """

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._busy: dict[str, int] = {}  # slots held, per address
        self._waiting: dict[str, trio.lowlevel.ParkingLot] = {}

    async def acquire(self, address: str) -> None:
        busy = self._busy.get(address, 0)
        if busy < self._per_host:
            self._busy[address] = busy + 1
            return
        lot = self._waiting.get(address)
        if lot is None:
            lot = self._waiting[address] = trio.lowlevel.ParkingLot()
        try:
            # release() hands its slot over before waking us: `busy` already counts it.
            await lot.park()
        except BaseException:
            # Cancelled while parked: no slot was handed to this task.
            if not lot:
                del self._waiting[address]
            raise

    def release(self, address: str) -> None:
        lot = self._waiting.get(address)
        if lot:
            lot.unpark()
            if not lot:
                del self._waiting[address]
            return
        busy = self._busy[address] - 1
        if busy:
            self._busy[address] = busy
        else:
            del self._busy[address]

    def __len__(self) -> int:
        return len(self._busy)


class _Pacer:
    """At most `rate` new connections per second, spread evenly (no bursts)."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = trio.current_time()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await trio.sleep(slot - now)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _resolve(name: str, port: int, timeout: float) -> list[str] | ProbeFailure:
    try:
        with trio.fail_after(timeout):
            infos = await trio.socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except trio.TooSlowError:
        detail = f"{name} did not resolve within {timeout:g}s"
    except OSError as exc:  # socket.gaierror
        detail = f"{name} does not resolve: {exc}"
    else:
        addresses: list[str] = []
        for family, _type, _proto, _canon, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                address = str(sockaddr[0]).split("%", 1)[0]
                if address not in addresses:
                    addresses.append(address)
        if addresses:
            return addresses
        detail = f"{name} resolved to no IP address"
    # The endpoint has no address to show: the unspecified address marks "unresolved".
    return ProbeFailure(
        Endpoint("0.0.0.0", port, server_name=name),  # noqa: S104 - a marker, never contacted
        ProbeStage.RESOLVE,
        FailureKind.NAME_RESOLUTION,
        detail,
        _now(),
    )


async def resolve_names(
    targets: TargetSet, options: SweepOptions
) -> AsyncIterator[Endpoint | ProbeFailure]:
    """The endpoints of a TargetSet's host names, resolved one name at a time (failures as data)."""
    seen: set[Endpoint] = set()
    for host in targets.hostnames:
        for port in host.ports:
            if targets.exclusions.excludes_name(host.name, port):
                continue
            resolved = await _resolve(host.name, port, options.resolve_timeout)
            if isinstance(resolved, ProbeFailure):
                yield resolved
                continue
            for address in resolved:
                endpoint = Endpoint(address, port, server_name=host.name)
                if endpoint not in seen and not targets.exclusions.excludes(endpoint):
                    seen.add(endpoint)
                    yield endpoint


async def sweep(
    endpoints: Iterable[Endpoint] | trio.MemoryReceiveChannel[Endpoint],
    options: SweepOptions,
    *,
    on_result: ResultCallback | None = None,
    names: TargetSet | None = None,
) -> tuple[list[Observation], list[ProbeFailure]]:
    """Probe every endpoint under the limits; return observations and failures (unsorted).

    One producer feeds every endpoint, in order, through a bounded memory channel to a fixed
    pool of `concurrency` workers; host names are resolved after the addresses, one at a time.
    `endpoints` may be a channel (discovery hands live endpoints over as it finds them); the
    host names are then those of `names`.
    """
    observations: list[Observation] = []
    failures: list[ProbeFailure] = []
    hosts = _HostLimits(options.per_host)
    pacer = _Pacer(options.rate)
    settings = options.probe_settings
    identities = IdentityGatherer(
        ws_discovery=options.ws_discovery,
        ws_discovery_timeout=options.ws_discovery_timeout,
        pace=pacer.wait,
    )

    def record(result: ProbeResult) -> None:
        if isinstance(result, Observation):
            observations.append(result)
        else:
            failures.append(result)
        if on_result is not None:
            on_result(result)

    async def probe_one(endpoint: Endpoint) -> ProbeResult:
        address = endpoint.address
        await hosts.acquire(address)
        try:
            await pacer.wait()
            return await probe(endpoint, settings)
        finally:
            hosts.release(address)

    async def _legacy(endpoint: Endpoint) -> tuple[str, ...] | None:
        from camscan.scanner import legacy

        await hosts.acquire(endpoint.address)
        try:
            await pacer.wait()
            return await legacy.probe_legacy(
                endpoint, connect_timeout=options.connect_timeout, timeout=options.legacy_timeout
            )
        finally:
            hosts.release(endpoint.address)

    # Identity (WS-Discovery waits up to 500 ms for a device's answer, the spec's APP_MAX_DELAY)
    # and the legacy hello run after the certificate connection, off the worker: the worker
    # takes the next endpoint at once. At most `concurrency` follow-ups are in flight.
    follow_up_slots = trio.CapacityLimiter(options.concurrency)
    follow_up_nursery: list[trio.Nursery] = []

    async def follow_up(observed: Observation, connected: float, slot: object) -> None:
        found: dict[str, Any] = {}
        try:

            async def identify() -> None:
                found["identity"] = await identities.identity(observed, connected)

            async def legacy_probe() -> None:
                found["legacy_versions"] = await _legacy(observed.endpoint)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(identify)
                if options.legacy_probe:
                    nursery.start_soon(legacy_probe)
        except Exception:
            found.clear()  # a bug in a follow-up must not lose the certificate it follows
        finally:
            follow_up_slots.release_on_behalf_of(slot)
        record(dataclasses.replace(observed, **found))

    async def run_one(endpoint: Endpoint) -> None:
        try:
            result = await probe_one(endpoint)
        except Exception as exc:
            # A bug in a probe must not lose the endpoint or stop the sweep.
            result = ProbeFailure(
                endpoint, ProbeStage.CONNECT, FailureKind.ERROR,
                f"internal error: {type(exc).__name__}: {exc}"[:300], _now(),
            )
        if isinstance(result, Observation):
            # The connection stood before probe() returned: a neighbour-table read from now on
            # holds the host's MAC if it is on the local segment.
            connected = trio.current_time()
            slot = object()
            await follow_up_slots.acquire_on_behalf_of(slot)
            follow_up_nursery[0].start_soon(follow_up, result, connected, slot)
            return
        record(result)

    async def worker(receive: trio.MemoryReceiveChannel[Endpoint]) -> None:
        async with receive:
            async for endpoint in receive:
                await run_one(endpoint)
                # A refused connect can end without waiting for anything: yield here so that
                # timeouts, live handshakes and Ctrl-C are served between endpoints.
                await trio.lowlevel.checkpoint()

    async def producer(send: trio.MemorySendChannel[Endpoint]) -> None:
        try:
            await produce(send)
        except trio.BrokenResourceError:
            # Every worker is gone: one of them raised (a closed stdout under --jsonl -), and
            # that error, not this echo of it, is what the run reports.
            pass

    async def produce(send: trio.MemorySendChannel[Endpoint]) -> None:
        async with send:
            if isinstance(endpoints, trio.MemoryReceiveChannel):
                async with endpoints:
                    async for endpoint in endpoints:
                        await send.send(endpoint)
            else:
                for endpoint in endpoints:
                    try:
                        send.send_nowait(endpoint)
                    except trio.WouldBlock:
                        # Every worker is busy and the buffer is full: wait for room. The
                        # non-blocking try first skips a scheduler round-trip per endpoint while
                        # workers keep up (a /16 of refusals).
                        await send.send(endpoint)
            hostnames = names if names is not None else endpoints
            if isinstance(hostnames, TargetSet):
                async for item in resolve_names(hostnames, options):
                    if isinstance(item, ProbeFailure):
                        record(item)
                    else:
                        await send.send(item)

    # The bounded channel is the back-pressure: a /16 is fed as fast as workers take it, never
    # materialised as 65,536 pending tasks.
    send_channel, receive_channel = trio.open_memory_channel[Endpoint](options.concurrency)
    async with trio.open_nursery() as nursery:
        follow_up_nursery.append(nursery)
        nursery.start_soon(producer, send_channel)
        async with receive_channel:
            for _ in range(options.concurrency):
                nursery.start_soon(worker, receive_channel.clone())
    return observations, failures
