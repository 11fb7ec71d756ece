"""How long the profile, expiry, protocol and fleet rules (CS101-CS404) take on a large fleet.

Pure CPU, no network: N observations built in memory (a mix of healthy, self-signed, shared-key,
expired and re-addressed devices, with audit history), judged by the registry's evaluate().

    .venv/bin/python bench/rules_profile.py --devices 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import time
import tracemalloc

from camscan import certinfo, pki
from camscan.model import AuditContext, Endpoint, HistoryFact, Observation
from camscan.rules.registry import all_rules, evaluate

R2_NUMBERS = (101, 102, 103, 104, 109, 110, 111, 120, 121, 122, 301, 302, 401, 402, 403, 404)
R2_RULES = {f"CS{n}" for n in R2_NUMBERS}


def build(devices: int) -> tuple[list[Observation], list[HistoryFact]]:
    now = pki.utcnow()
    site = pki.make_ca("bench site CA")
    factory = pki.new_key("ec-p256")
    base = int(ipaddress.ip_address("127.100.0.0"))
    observations: list[Observation] = []
    history: list[HistoryFact] = []
    for i in range(devices):
        address = str(ipaddress.ip_address(base + i))
        kind = i % 10
        if kind == 7:  # self-signed with the factory key
            cert = pki.make_leaf(None, ips=[address], key=factory).cert
            chain = (cert,)
        elif kind == 8:  # expired
            cert = pki.make_leaf(site, ips=[address], not_before=now - dt.timedelta(days=400),
                                 not_after=now - dt.timedelta(days=2)).cert
            chain = (cert, site.cert)
        elif kind == 9:  # re-addressed: names the previous address, seen there before
            old = str(ipaddress.ip_address(base + i + 0x8000))
            cert = pki.make_leaf(site, ips=[old]).cert
            chain = (cert, site.cert)
            history.append(HistoryFact(Endpoint(old, 443), now - dt.timedelta(days=1),
                                       certinfo.cert_sha256(cert), certinfo.spki_sha256(cert)))
        else:
            cert = pki.make_leaf(site, ips=[address]).cert
            chain = (cert, site.cert)
        observations.append(Observation(
            Endpoint(address, 443), tuple(certinfo.cert_der(c) for c in chain), "TLSv1.3",
            "TLS_AES_128_GCM_SHA256", now, legacy_versions=("TLSv1.0",) if kind == 6 else ()))
    return observations, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--all-rules", action="store_true", help="also run the name and trust rules")
    parser.add_argument("--memory", action="store_true", help="trace peak memory (slows the run)")
    args = parser.parse_args()
    observations, history = build(args.devices)
    rules = [r for r in all_rules() if args.all_rules or r.id in R2_RULES]
    ctx = AuditContext(now=pki.utcnow(), history=history)
    if args.memory:
        tracemalloc.start()
    started = time.perf_counter()
    found = evaluate(observations, ctx, rules)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    memory = f", peak traced memory {peak:.1f} MiB" if args.memory else ""
    counts: dict[str, int] = {}
    for finding in found:
        counts[finding.rule_id] = counts.get(finding.rule_id, 0) + 1
    print(f"{len(rules)} rules on {args.devices} observations: {elapsed:.2f} s "
          f"({elapsed / args.devices * 1e6:.0f} us per device){memory}")
    print("findings:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
