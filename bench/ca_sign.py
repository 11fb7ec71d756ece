"""What the site CA's signing checks cost: certificates per second with and without them, and
`openssl x509 -req` (one process per certificate, as a plan's openssl commands run) beside them.

Every certificate is for an IP address and a DNS name (the checks run the rules once per name),
ECDSA P-256, from an encrypted site CA in a temporary directory (its inventory is written for
each certificate, as in real use). Loopback names only; nothing is contacted.

    .venv/bin/python bench/ca_sign.py --count 200
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from camscan import pki
from camscan.remediate import signcheck
from camscan.remediate.ca import LocalCA

PASSPHRASE = b"bench site CA passphrase"


def camscan_run(ca: LocalCA, count: int, offset: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        ca.issue([f"127.0.{offset}.{i % 250 + 1}"], [f"cam{offset}-{i}.example.internal"])
    return time.perf_counter() - started


def openssl_run(work: Path, count: int) -> float:
    ca_dir = work / "openssl-ca"
    ca_dir.mkdir()
    ca = pki.make_ca("openssl bench CA")
    (ca_dir / "ca.pem").write_bytes(ca.cert_pem)
    (ca_dir / "ca.key").write_bytes(ca.key_pem)
    key = pki.new_key()
    (work / "leaf.key").write_bytes(pki.key_to_pem(key))
    csr = pki.make_csr(key, common_name="127.0.9.1", ips=["127.0.9.1"], dns=["cam.example.internal"])
    from cryptography.hazmat.primitives import serialization

    (work / "leaf.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    (work / "ext").write_text(
        "subjectAltName=IP:127.0.9.1,DNS:cam.example.internal\nextendedKeyUsage=serverAuth\n"
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
    )
    started = time.perf_counter()
    for i in range(count):
        subprocess.run(
            ["openssl", "x509", "-req", "-in", str(work / "leaf.csr"), "-CA", str(ca_dir / "ca.pem"),
             "-CAkey", str(ca_dir / "ca.key"), "-set_serial", str(1000 + i), "-out", str(work / "leaf.pem"),
             "-days", "397", "-sha256", "-extfile", str(work / "ext")],
            check=True, capture_output=True,
        )
    return time.perf_counter() - started


def fresh_ca(work: Path, name: str, inventory_size: int) -> LocalCA:
    """A new encrypted CA, warmed up, its inventory pre-filled to `inventory_size` records."""
    import json

    from camscan.remediate import inventory

    ca = LocalCA.init(work / name, passphrase=PASSPHRASE)
    ca.issue(["127.0.0.1"], ["warm-up.example.internal"])  # imports, rule caches
    if inventory_size:
        data = json.loads((ca.directory / inventory.INVENTORY).read_text())
        first = data["certificates"][0]
        data["certificates"] = [dict(first, serial=format(10**9 + i, "x")) for i in range(inventory_size)]
        inventory._write(ca.directory, data)
    return ca


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--inventory", type=int, default=0, help="records already in the inventory")
    args = parser.parse_args()
    count = max(1, min(args.count, 2000))
    size = max(0, min(args.inventory, 100_000))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        checked = camscan_run(fresh_ca(work, "checked", size), count, 1)
        original = signcheck.vet_certificate
        signcheck.vet_certificate = lambda *a, **k: None  # type: ignore[assignment]
        try:
            bare = camscan_run(fresh_ca(work, "bare", size), count, 2)
        finally:
            signcheck.vet_certificate = original
        peer = openssl_run(work, count) if shutil.which("openssl") else None
    print(f"site CA signing, {count} certificates each (IP + DNS name, ECDSA P-256), "
          f"inventory of {size} records before, {os.cpu_count()} CPUs")
    print("| run | ms per certificate | certificates/s | vs checked |")
    print("|---|---:|---:|---:|")
    rows = [("camscan, rule checks on (default)", checked), ("camscan, rule checks off", bare)]
    if peer is not None:
        rows.append(("openssl x509 -req, one process each", peer))
    for label, seconds in rows:
        per = seconds / count * 1000
        print(f"| {label} | {per:.1f} | {count / seconds:.0f} | {seconds / checked:.2f}x |")


if __name__ == "__main__":
    main()
