"""--shard I/N: the shards partition the target set (no endpoint lost, none twice), evenly, the
same way every time, and lazily (a /8 or an IPv6 /64 is never enumerated).

The reference is TargetSet.__iter__, the unsharded expansion, which applies exclusions
endpoint by endpoint; the shards compute runs between exclusions arithmetically, so the two
are independent implementations of the same set. Addresses here are parsing data only."""

from __future__ import annotations

import itertools
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from camscan.errors import UsageError
from camscan.model import Endpoint
from camscan.scanner.shards import Shard, ShardedTargets, parse_shard, shard_targets
from camscan.scanner.targets import TargetSet, parse_targets

COUNTS = (1, 2, 3, 4, 5, 7, 16)


def _units(targets: TargetSet) -> list[tuple[str, int, str | None]]:
    """Every endpoint of `targets`, host names as one (name, port) unit each (unresolved).

    The unsharded set leaves name exclusions to the sweep (resolve_names); a shard applies
    them up front. Either way the sweep never probes an excluded name: they are left out."""
    units: list[tuple[str, int, str | None]] = [(e.address, e.port, e.server_name) for e in targets]
    units += [
        ("", port, host.name)
        for host in targets.hostnames
        for port in host.ports
        if not targets.exclusions.excludes_name(host.name, port)
    ]
    return units


_full_units = _units


def _cases(tmp_path: Path) -> dict[str, TargetSet]:
    listing = tmp_path / "site.txt"
    listing.write_text("10.9.0.0/28  # a block\n10.9.1.7:8443 10.9.2.1-10.9.2.9\n[2001:db8::9]:443\n")
    return {
        "v4 cidr": parse_targets(["10.0.0.0/24"], ports=(443,)),
        "v4 cidr, ports": parse_targets(["10.0.0.0/26"], ports=(443, 4443, 8443)),
        "v6 cidr": parse_targets(["2001:db8::/120"], ports=(443, 8443)),
        "v4 and v6 cidrs": parse_targets(["10.1.0.0/27", "2001:db8:1::/122", "10.1.0.8/29"], ports=(443,)),
        "ranges": parse_targets(
            ["10.2.0.10-40", "10.2.1.250-10.2.2.5", "2001:db8::5-2001:db8::17"], ports=(443, 7443)
        ),
        "host:port": parse_targets(
            ["10.3.0.1:8443", "10.3.0.2:443", "[2001:db8::1]:9443", "10.3.0.0/30", "10.3.0.1:9"], ports=(443,)
        ),
        "@file": parse_targets([f"@{listing}"], ports=(443, 8443)),
        "host names": parse_targets(
            ["cam1.example.lan", "cam2.example.lan:8443", "10.4.0.0/29"], ports=(443, 8443)
        ),
        "exclusions": parse_targets(
            ["10.5.0.0/24", "2001:db8:5::/120", "10.5.9.1:443", "cam.example.lan", "nvr.example.lan"],
            ports=(443, 8443),
            exclude=[
                "10.5.0.16/28",
                "10.5.0.100-10.5.0.140",
                "10.5.0.7",
                "10.5.0.9:443",
                "10.5.0.255:8443",
                "2001:db8:5::80/121",
                "[2001:db8:5::3]:8443",
                "10.5.9.1",
                "cam.example.lan:8443",
                "nvr.example.lan",
            ],
        ),
        "exclusions over the edges": parse_targets(
            ["10.6.0.10-20"], ports=(443,), exclude=["10.6.0.0-10.6.0.10", "10.6.0.20-30", "10.6.0.15:443"]
        ),
        "every other address excluded": parse_targets(
            ["10.7.0.0/26"], ports=(443,), exclude=[f"10.7.0.{n}" for n in range(1, 63, 2)]
        ),
    }


def test_the_shards_partition_every_kind_of_target_set(tmp_path: Path) -> None:
    for name, targets in _cases(tmp_path).items():
        full = _full_units(targets)
        assert len(full) == len(set(full)), name  # the reference itself has no duplicates
        for count in COUNTS:
            shards = [shard_targets(targets, Shard(index, count)) for index in range(1, count + 1)]
            parts = [_units(shard) for shard in shards]
            together = Counter(itertools.chain.from_iterable(parts))
            assert together == Counter(full), f"{name}, {count} shards"
            sizes = [len(part) for part in parts]
            assert max(sizes) - min(sizes) <= 1, f"{name}, {count} shards: uneven {sizes}"
            if count > 1:  # (a whole TargetSet estimates before exclusions; a shard is exact)
                for shard, part in zip(shards, parts, strict=True):
                    assert shard.estimated_size() == len(part), f"{name} {count}"


def test_exclusions_and_files_really_are_exercised(tmp_path: Path) -> None:
    """Guards the partition test's cases: they must exclude and read what they claim to."""
    cases = _cases(tmp_path)
    excluded = _full_units(cases["exclusions"])
    assert ("10.5.0.7", 443, None) not in excluded and ("10.5.0.9", 8443, None) in excluded
    assert ("10.5.0.9", 443, None) not in excluded and ("2001:db8:5::3", 443, None) in excluded
    assert ("", 443, "cam.example.lan") in excluded and ("", 8443, "cam.example.lan") not in excluded
    assert not any(u[2] == "nvr.example.lan" for u in excluded)
    assert len(_full_units(cases["every other address excluded"])) == 62 - 31
    assert len(_full_units(cases["@file"])) == (14 + 9) * 2 + 2


def test_evenness_is_at_most_one_for_any_size_and_count() -> None:
    """Exhaustive over small sizes: N consecutive canonical numbers hold each remainder once."""
    for size in range(1, 40):
        targets = parse_targets([f"10.8.0.1-{size}"], ports=(443,))
        for count in range(1, 12):
            sizes = [len(list(shard_targets(targets, Shard(i, count)))) for i in range(1, count + 1)]
            assert sum(sizes) == size
            assert max(sizes) - min(sizes) <= 1
            # The first size % count shards take the extra one.
            assert sizes == [size // count + (i < size % count) for i in range(count)]


def test_the_same_inputs_give_the_same_shard() -> None:
    def shard(index: int) -> list[Endpoint]:
        targets = parse_targets(["10.10.0.0/25", "2001:db8::/124"], ports=(8443, 443), exclude=["10.10.0.3"])
        return list(shard_targets(targets, parse_shard(f"{index}/4")))

    assert shard(2) == shard(2)
    assert shard(2) != shard(3)
    # Spec order does not matter either: the enumeration is canonical (merged, sorted intervals).
    reordered = parse_targets(["2001:db8::/124", "10.10.0.0/25"], ports=(443, 8443), exclude=["10.10.0.3"])
    assert list(shard_targets(reordered, parse_shard("2/4"))) == shard(2)


def test_a_shard_of_a_slash_8_and_of_a_v6_slash_64_is_lazy() -> None:
    tracemalloc.start()
    try:
        v4 = parse_targets(["10.0.0.0/8"], ports=(443, 8443), exclude=["10.1.0.0/16"], allow_large=True)
        shard = shard_targets(v4, parse_shard("3/7"))
        head = list(itertools.islice(shard, 1000))
        # 2^64 addresses: only arithmetic can size or start this shard.
        v6 = shard_targets(
            parse_targets(["2001:db8::/64"], ports=(443,), allow_large=True), parse_shard("5/5")
        )
        v6_head = list(itertools.islice(v6, 10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(shard, ShardedTargets)
    assert peak < 8 * 1024 * 1024
    total = (16_777_214 - 65_536) * 2  # an excluded /16 is excluded whole
    assert shard.estimated_size() == total // 7 + (2 < total % 7)
    assert head[0] == Endpoint("10.0.0.3", 443) and head[1] == Endpoint("10.0.0.10", 443)
    assert v6.estimated_size() == 2**64 // 5
    assert v6_head[0] == Endpoint("2001:db8::4", 443) and v6_head[1] == Endpoint("2001:db8::9", 443)


def test_one_shard_of_one_is_the_target_set_itself() -> None:
    targets = parse_targets(["10.11.0.0/29"], ports=(443,))
    assert shard_targets(targets, Shard(1, 1)) is targets
    assert shard_targets(targets, None) is targets


@pytest.mark.parametrize("text", ["0/4", "5/4", "a/b", "1/0", "0/0", "2", "1/2/3", "-1/4", "", "1.5/4"])
def test_bad_shards_name_the_expected_form(text: str) -> None:
    with pytest.raises(UsageError, match=r"expected I/N with 1 <= I <= N \(I counts from 1\)"):
        parse_shard(text)


def test_good_shards_parse() -> None:
    assert parse_shard("1/4") == Shard(1, 4)
    assert parse_shard(" 4 / 4 ") == Shard(4, 4)
    assert str(parse_shard("2/3")) == "2/3"
