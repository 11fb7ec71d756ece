"""ARP sweep on a raw layer-2 socket: who-has for each on-link target, on its route's interface.

The request is built once with scapy (Ether / ARP who-has from this interface's MAC and address)
and only the 4 bytes of the target address are patched per packet. Replies are read straight
off the socket: an ARP reply (op 2) whose sender address is one of our targets marks that
address alive, with the sender MAC. Replies for any other address are ignored, and requests go
to target addresses only, out of the one interface whose route covers them.

Every request counts against the shared Pacer; unanswered targets are asked again `retries`
times, after each pass the sweep listens `wait` seconds. The socket is closed when the sweep
ends, however it ends (Ctrl-C included).
"""

from __future__ import annotations

import socket
import struct
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import trio

from camscan.scanner.discovery.pacer import Pacer

ETH_P_ARP = 0x0806
_TARGET_OFFSET = 38  # Ethernet header (14) + ARP fixed part (8) + sender MAC, IP (10) + target MAC (6)
_RECV_BUFFER = 4 * 1024 * 1024


@dataclass
class ArpResult:
    alive: dict[int, bytes] = field(default_factory=dict)  # address -> MAC
    packets: int = 0


def request_template(src_mac: bytes, src_ip: int) -> bytearray:
    """An ARP who-has from (src_mac, src_ip), target address 0.0.0.0 (patched per packet)."""
    from scapy.layers.l2 import ARP, Ether

    mac = ":".join(f"{b:02x}" for b in src_mac)
    frame = Ether(dst="ff:ff:ff:ff:ff:ff", src=mac, type=ETH_P_ARP) / ARP(
        op=1, hwsrc=mac, psrc=socket.inet_ntoa(src_ip.to_bytes(4, "big")),
        hwdst="00:00:00:00:00:00", pdst="0.0.0.0",  # noqa: S104 - patched per packet
    )
    return bytearray(bytes(frame))


def parse_reply(frame: bytes) -> tuple[int, bytes] | None:
    """(sender address, sender MAC) of an Ethernet ARP reply, else None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06":
        return None
    hw_type, proto, hw_len, proto_len, op = struct.unpack_from("!HHBBH", frame, 14)
    if (hw_type, proto, hw_len, proto_len, op) != (1, 0x0800, 6, 4, 2):
        return None
    mac = bytes(frame[22:28])
    address: int = struct.unpack_from("!I", frame, 28)[0]
    return address, mac


def open_socket(iface: str) -> socket.socket:
    """A raw AF_PACKET socket bound to `iface`, ARP frames only (PermissionError without CAP_NET_RAW)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    try:
        sock.bind((iface, ETH_P_ARP))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECV_BUFFER)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def arp_sweep(
    iface: str,
    src_mac: bytes,
    src_ip: int,
    targets: Sequence[int],
    pacer: Pacer,
    *,
    retries: int,
    wait: float,
    on_alive: Callable[[int, bytes], None] | None = None,
) -> ArpResult:
    result = ArpResult()
    wanted = set(targets)
    frame = request_template(src_mac, src_ip)
    with open_socket(iface) as sock:

        async def receive() -> None:
            while True:
                await trio.lowlevel.wait_readable(sock)
                for _ in range(4096):  # drain what is there, then let the sender run
                    try:
                        data = sock.recv(128)
                    except BlockingIOError:
                        break
                    reply = parse_reply(data)
                    if reply is not None and reply[0] in wanted and reply[0] not in result.alive:
                        result.alive[reply[0]] = reply[1]
                        if on_alive is not None:
                            on_alive(*reply)

        async def send(batch: Sequence[int]) -> None:
            at = 0
            while at < len(batch):
                granted = await pacer.take(len(batch) - at)
                for address in batch[at : at + granted]:
                    if address in result.alive:
                        continue
                    struct.pack_into("!I", frame, _TARGET_OFFSET, address)
                    while True:
                        try:
                            sock.send(frame)
                            break
                        except BlockingIOError:
                            await trio.lowlevel.wait_writable(sock)
                    result.packets += 1
                at += granted

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            batch: Sequence[int] = targets
            for _ in range(retries + 1):
                await send(batch)
                await trio.sleep(wait)
                batch = array("I", (a for a in batch if a not in result.alive))
                if not batch:
                    break
            nursery.cancel_scope.cancel()
    return result
