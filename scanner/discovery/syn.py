"""Stateless TCP SYN discovery for routed IPv4 targets: no state per probe, no connect timeouts.

One SYN template is built with scapy (TCP header with an MSS option, from a source port this
process holds bound so no local connection can use it); per probe only the destination port, the
sequence number and the checksum are patched. The sequence number is a cookie: a keyed BLAKE2s
of (address, port), so a reply is ours exactly when its acknowledgement number is the cookie + 1,
and nothing is remembered per probe. The kernel builds the IP header and routes each SYN out of
the interface whose route covers its address.

A SYN-ACK means open (the kernel, which knows no such connection, resets it for us); an RST
means refused; silence after the retries and the listen window means filtered. Retries go to the
silent ports of hosts that answered on some port, and to one port of each silent host.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import blake2s

import trio

from camscan.scanner.discovery.pacer import Pacer

_SYN, _RST, _ACK = 0x02, 0x04, 0x10
_RECV_BUFFER = 8 * 1024 * 1024
_SEND_TRIES = 100


@dataclass
class SynResult:
    open: dict[int, set[int]] = field(default_factory=dict)  # address -> ports that sent SYN-ACK
    refused: dict[int, set[int]] = field(default_factory=dict)  # address -> ports that sent RST
    packets: int = 0
    errors: int = 0  # SYNs the kernel would not send (no route, queues full for 1 s)

    def answered(self, address: int) -> bool:
        return address in self.open or address in self.refused

    def port_answered(self, address: int, port: int) -> bool:
        return port in self.open.get(address, ()) or port in self.refused.get(address, ())


def syn_template(sport: int) -> bytes:
    """A 24-byte TCP SYN from `sport` (destination port, sequence and checksum left zero)."""
    from scapy.layers.inet import TCP

    segment = TCP(sport=sport, dport=0, seq=0, flags="S", window=1024, options=[("MSS", 1460)])
    raw = bytearray(bytes(segment))
    raw[16:18] = b"\x00\x00"
    return bytes(raw)


def _sum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def _fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


class SynBuilder:
    """Patches the template for one (address, port); the checksum from precomputed partial sums."""

    def __init__(self, template: bytes, src: int, secret: bytes) -> None:
        self._packet = bytearray(template)
        # Pseudo-header (source, protocol, length) plus the constant part of the segment.
        self._base = _sum16(struct.pack("!IHH", src, socket.IPPROTO_TCP, len(template))) + _sum16(template)
        self._secret = secret

    def cookie(self, address: int, port: int) -> int:
        digest = blake2s(struct.pack("!IH", address, port), digest_size=4, key=self._secret).digest()
        value: int = struct.unpack("!I", digest)[0]
        return value

    def packet(self, address: int, port: int) -> bytearray:
        seq = self.cookie(address, port)
        total = self._base + (address >> 16) + (address & 0xFFFF) + port + (seq >> 16) + (seq & 0xFFFF)
        struct.pack_into("!HI", self._packet, 2, port, seq)
        struct.pack_into("!H", self._packet, 16, ~_fold(total) & 0xFFFF)
        return self._packet


def parse_reply(datagram: bytes, sport: int) -> tuple[int, int, int, int] | None:
    """(source address, source port, ack, flags) of an IPv4 TCP segment to `sport`, else None."""
    if len(datagram) < 20 or datagram[0] >> 4 != 4 or datagram[9] != socket.IPPROTO_TCP:
        return None
    ihl = (datagram[0] & 0x0F) * 4
    if len(datagram) < ihl + 14:
        return None
    address: int = struct.unpack_from("!I", datagram, 12)[0]
    src_port, dst_port, _seq, ack, _offset, flags = struct.unpack_from("!HHIIBB", datagram, ihl)
    if dst_port != sport:
        return None
    return address, src_port, ack, flags


def open_socket() -> socket.socket:
    """A raw IPv4 TCP socket (PermissionError without CAP_NET_RAW): sends segments, reads every TCP reply."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECV_BUFFER)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _reserve_port() -> tuple[socket.socket, int]:
    """A TCP socket bound (not listening) to a free port: no local connection can take that port."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("0.0.0.0", 0))  # noqa: S104 - bound, never listening: it only reserves the port
    return holder, holder.getsockname()[1]


async def syn_sweep(
    groups: Iterable[tuple[int, Sequence[int]]],
    ports: Sequence[int],
    pacer: Pacer,
    *,
    retries: int,
    wait: float,
    on_open: Callable[[int, int], None] | None = None,
) -> SynResult:
    """SYN every port of every target. `groups`: (source address, targets) per route."""
    result = SynResult()
    secret = os.urandom(16)
    holder, sport = _reserve_port()
    template = syn_template(sport)
    with holder, open_socket() as sock:
        builders = [(SynBuilder(template, src, secret), targets) for src, targets in groups]
        known = {a for _, targets in builders for a in targets}
        cookie = builders[0][0].cookie if builders else None

        async def receive() -> None:
            while True:
                await trio.lowlevel.wait_readable(sock)
                for _ in range(4096):
                    try:
                        data = sock.recv(128)
                    except BlockingIOError:
                        break
                    reply = parse_reply(data, sport)
                    if reply is None or cookie is None:
                        continue
                    address, port, ack, flags = reply
                    if address not in known or (ack - 1) & 0xFFFFFFFF != cookie(address, port):
                        continue  # not an answer to one of our SYNs
                    if flags & _SYN and flags & _ACK:
                        opened = result.open.setdefault(address, set())
                        if port not in opened:
                            opened.add(port)
                            if on_open is not None:
                                on_open(address, port)
                    elif flags & _RST:
                        result.refused.setdefault(address, set()).add(port)

        async def send(builder: SynBuilder, probes: Iterable[tuple[int, int]]) -> None:
            granted = 0
            for address, port in probes:
                if not granted:
                    granted = await pacer.take(256)
                granted -= 1
                packet = builder.packet(address, port)
                destination = (socket.inet_ntoa(address.to_bytes(4, "big")), 0)
                for _ in range(_SEND_TRIES):
                    try:
                        sock.sendto(packet, destination)
                    except BlockingIOError:
                        await trio.lowlevel.wait_writable(sock)
                    except OSError as exc:
                        if exc.errno != errno.ENOBUFS:
                            result.errors += 1  # no route after all (the table changed)
                            break
                        await trio.sleep(0.01)  # the device queue is full: let it drain
                    else:
                        result.packets += 1
                        break
                else:
                    result.errors += 1

        def first_pass(targets: Sequence[int]) -> Iterable[tuple[int, int]]:
            # Port-major: consecutive SYNs go to different hosts, never a burst at one device.
            return ((a, p) for p in ports for a in targets)

        def retry_pass(targets: Sequence[int]) -> Iterable[tuple[int, int]]:
            for port in ports:
                for address in targets:
                    if result.answered(address):
                        if not result.port_answered(address, port):
                            yield address, port
                    elif port == ports[0]:
                        yield address, port

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            for attempt in range(retries + 1):
                for builder, targets in builders:
                    await send(builder, first_pass(targets) if attempt == 0 else retry_pass(targets))
                await trio.sleep(wait)
            nursery.cancel_scope.cancel()
    return result
