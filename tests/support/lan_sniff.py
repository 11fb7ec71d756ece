"""Count discovery packets on a LAN interface, with the kernel's receive time of each.

    ip netns exec NS python -m tests.support.lan_sniff --netns NS --seconds 10

Runs inside a namespace a harness created (it refuses anything else), reads every frame on eth0
for `--seconds` (bounded), and prints one JSON object: the receive times of ARP requests and of
TCP SYNs (without ACK), in seconds.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import struct
import sys
import time

from tests.support.lan_device import inside

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35


def classify(frame: bytes) -> str | None:
    if len(frame) < 42:
        return None
    kind = frame[12:14]
    if kind == b"\x08\x06" and struct.unpack_from("!H", frame, 20)[0] == 1:
        return "arp"
    if kind == b"\x08\x00" and frame[23] == socket.IPPROTO_TCP:
        ihl = (frame[14] & 0x0F) * 4
        flags = frame[14 + ihl + 13]
        if flags & 0x02 and not flags & 0x10:
            return "syn"
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--netns", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    if not inside(args.netns):
        sys.exit(f"refusing to run: not inside network namespace {args.netns!r}")
    seen: dict[str, list[float]] = {"arp": [], "syn": []}
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as sock:
        sock.bind(("eth0", ETH_P_ALL))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024 * 1024)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        print("ready", flush=True)
        deadline = time.monotonic() + min(args.seconds, 600)
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                continue
            frame, ancillary, _flags, _addr = sock.recvmsg(128, 64)
            kind = classify(frame)
            if kind is None:
                continue
            stamp = time.time()
            for level, type_, data in ancillary:
                if level == socket.SOL_SOCKET and type_ == SO_TIMESTAMPNS:
                    seconds, nanos = struct.unpack("qq", data[:16])
                    stamp = seconds + nanos / 1e9
            seen[kind].append(stamp)
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
