"""What --shard costs: expanding a target set with exclusions, unsharded and as one shard, and
starting a shard of a /8 (laziness: time and peak memory for its first endpoints).

Pure CPU, no network (nothing is probed; addresses are parsing data only).

    .venv/bin/python bench/shard_bench.py
"""

from __future__ import annotations

import itertools
import time
import tracemalloc

from camscan.scanner.shards import parse_shard, shard_targets
from camscan.scanner.targets import parse_ports, parse_targets


def main() -> None:
    ports = parse_ports("cameras")
    block = parse_targets(["127.64.0.0/16"], ports=ports, exclude=["127.64.5.0/24", "127.64.9.9:443"])
    start = time.perf_counter()
    whole = sum(1 for _ in block)
    unsharded = time.perf_counter() - start
    print(f"/16 x {len(ports)} ports, 2 exclusions: unsharded {whole:,} endpoints in {unsharded:.3f} s")
    for count in (2, 4, 16):
        start = time.perf_counter()
        shards = [shard_targets(block, parse_shard(f"{i}/{count}")) for i in range(1, count + 1)]
        sizes = [sum(1 for _ in shard) for shard in shards]
        took = time.perf_counter() - start
        print(f"  all {count} shards: sizes {min(sizes):,}..{max(sizes):,}, sum {sum(sizes):,}, {took:.3f} s")

    eight = parse_targets(["127.0.0.0/8"], ports=ports, allow_large=True)  # parsed, never contacted
    tracemalloc.start()
    start = time.perf_counter()
    shard = shard_targets(eight, parse_shard("3/7"))
    first = list(itertools.islice(shard, 1000))
    took = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"/8 x {len(ports)} ports, shard 3/7: {shard.estimated_size():,} endpoints; the first "
        f"{len(first):,} in {took * 1000:.1f} ms, peak {peak / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
