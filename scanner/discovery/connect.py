"""Host-aware connect discovery: the fallback without CAP_NET_RAW (and for IPv6 targets).

A host's ports are tried together, so an empty address costs one wait, not one per port; the
first "no route / host unreachable" (the kernel's ARP or neighbour discovery gave up, or a
router said so) ends the host's other attempts and marks it dead. A connection that stands is
an open port (closed at once; the TLS sweep connects again), a refusal a closed one, and a
timeout a filtered one. Every connect attempt counts against the shared Pacer.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import trio

from camscan.runtime import raise_fd_limit
from camscan.scanner.discovery.pacer import Pacer

# The kernel gave up on the address itself (ARP/ND failed, or an ICMP host/net unreachable).
DEAD_ERRNOS = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN})


@dataclass
class HostAnswer:
    open: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    filtered: list[int] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return bool(self.open or self.refused)


@dataclass
class ConnectResult:
    hosts: dict[str, HostAnswer] = field(default_factory=dict)  # only hosts that answered
    dead: int = 0  # unreachable, or silent on every port
    packets: int = 0


async def _attempt(address: str, port: int, timeout: float) -> str:
    """"open", "refused", "filtered" or "dead" for one connect."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with trio.socket.socket(family, socket.SOCK_STREAM) as sock, trio.move_on_after(timeout):
        try:
            await sock.connect((address, port))
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED:
                return "refused"
            if exc.errno in DEAD_ERRNOS:
                return "dead"
            return "filtered"
        return "open"
    return "filtered"


async def probe_host(address: str, ports: Sequence[int], pacer: Pacer, timeout: float,
                     result: ConnectResult) -> None:
    answer = HostAnswer()
    dead = False
    async with trio.open_nursery() as nursery:

        async def one(port: int) -> None:
            nonlocal dead
            await pacer.take(1)
            result.packets += 1
            state = await _attempt(address, port, timeout)
            if state == "dead":
                dead = True
                nursery.cancel_scope.cancel()  # the address is gone: its other ports are too
            else:
                getattr(answer, state).append(port)

        for port in ports:
            nursery.start_soon(one, port)
    if answer.alive and not dead:
        answer.open.sort()
        answer.refused.sort()
        answer.filtered.sort()
        result.hosts[address] = answer
    else:
        result.dead += 1


async def connect_sweep(
    hosts: AsyncIterator[tuple[str, Sequence[int]]] | Iterable[tuple[str, Sequence[int]]],
    pacer: Pacer,
    *,
    timeout: float,
    concurrency: int,
    ports_per_host: int,
    on_open: Callable[[str, Sequence[int]], None] | None = None,
) -> ConnectResult:
    """Probe hosts, at most `concurrency` connects in flight (whole hosts at a time)."""
    result = ConnectResult()
    # Each host in flight holds one socket per port: make room for them, or take fewer hosts.
    limit = raise_fd_limit(concurrency + 256)
    in_flight = max(1, min(concurrency, limit - 256) // max(1, ports_per_host))
    slots = trio.Semaphore(in_flight)

    async def run(address: str, ports: Sequence[int]) -> None:
        try:
            await probe_host(address, ports, pacer, timeout, result)
            answer = result.hosts.get(address)
            if on_open is not None and answer is not None and answer.open:
                on_open(address, answer.open)
        finally:
            slots.release()

    async with trio.open_nursery() as nursery:
        if isinstance(hosts, AsyncIterator):
            async for address, ports in hosts:
                await slots.acquire()
                nursery.start_soon(run, address, ports)
        else:
            for address, ports in hosts:
                await slots.acquire()
                nursery.start_soon(run, address, ports)
    return result
