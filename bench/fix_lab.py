#!/usr/bin/env python3
"""`camscan fix --apply` over the whole built-in lab: wall time, outcomes, findings before/after.

Starts `camscan lab` (the built-in 45-device fleet, lab/fleets/default.toml) on its own block,
creates a site CA, runs `camscan fix --apply --yes` over every device under /usr/bin/time, then
reads the fix-v1 JSON and rescans once more to count the findings by rule. The default scan's
options are used (HTTP, the TLS 1.0/1.1 probe, WS-Discovery), trusting the lab's site CA.

    python bench/fix_lab.py                 # prints a Markdown table
    python bench/fix_lab.py --parallel 4
    python bench/fix_lab.py --issuer command   # through a real `openssl ca`
    python bench/fix_lab.py --issuer est       # through the RFC 7030 test server (loopback TLS)
    python bench/fix_lab.py --issuer acme      # through Pebble (Debian `pebble`), real http-01

The non-local issuers are the test suite's servers (tests/support), run from the repository
root; their trust anchors are added to the rescan's trust as clients would import them.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BLOCK = "127.79.0.0/24"  # away from the default lab block
PASSWORD = "camscan-lab"  # the simulated devices' documented password


def _camscan(
    *args: str, env: dict[str, str] | None = None, timed: bool = False
) -> subprocess.CompletedProcess[str]:
    prefix = ["/usr/bin/time", "-v"] if timed and Path("/usr/bin/time").exists() else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "camscan", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _findings(report: Path) -> collections.Counter[str]:
    data = json.loads(report.read_text())
    return collections.Counter(f["rule_id"] for e in data["endpoints"] for f in e.get("findings", []))


def _issuer(
    kind: str, work: Path, servers: contextlib.ExitStack
) -> tuple[list[str], dict[str, str], Path | None]:
    """The `camscan fix` options, environment and client trust for one issuer kind."""
    if kind == "local":
        return [], {}, None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support
    issuers = work / "issuers.toml"
    trust = work / "issuer-trust.pem"
    if kind == "command":
        from tests.support.openssl_ca import openssl_ca

        ca = openssl_ca(work / "openssl-ca")
        issuers.write_text(
            f"""[issuer.bench]
kind = "command"
command = "openssl ca -batch -notext -config {ca.config} -in {{csr}} -out {{out}} -days {{days}}"
roots = "{ca.cert_path}"
"""
        )
        trust.write_bytes(ca.cert_path.read_bytes())
        env: dict[str, str] = {}
    elif kind == "est":
        from tests.support.est_server import est_server

        server = servers.enter_context(est_server("127.0.0.1"))
        (work / "est-server-ca.pem").write_bytes(server.tls_ca.cert_pem)
        issuers.write_text(
            f"""[issuer.bench]
kind = "est"
url = "{server.url}"
server_ca = "{work / "est-server-ca.pem"}"
username = "{server.username}"
password_env = "CAMSCAN_EST_PASSWORD"
"""
        )
        trust.write_bytes(server.ca.cert_pem)
        env = {"CAMSCAN_EST_PASSWORD": server.password}
    else:
        from tests.support.pebble import EAB_HMAC, EAB_KID, pebble

        acme = servers.enter_context(pebble(work / "pebble"))
        trust.write_bytes(acme.roots.read_bytes() + acme.intermediates.read_bytes())
        issuers.write_text(
            f"""[issuer.bench]
kind = "acme"
directory = "{acme.directory}"
server_ca = "{acme.server_ca}"
eab_kid = "{EAB_KID}"
eab_hmac_env = "CAMSCAN_ACME_EAB_HMAC"
http01_port = {acme.http_port}
roots = "{trust}"
"""
        )
        env = {"CAMSCAN_ACME_EAB_HMAC": EAB_HMAC}
    return ["--issuer", "bench", "--issuers", str(issuers)], env, trust


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parallel", default="2")
    parser.add_argument("--move-to-site-ca", action="store_true", help="passed on to camscan fix")
    parser.add_argument("--issuer", choices=("local", "command", "est", "acme"), default="local")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        work = Path(tmp)
        issuer_args, issuer_env, issuer_trust = _issuer(options.issuer, work, servers)
        lab = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "camscan",
                "lab",
                "--block",
                BLOCK,
                "--out",
                str(work / "lab"),
                "--control-port",
                "0",
                "-q",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not (work / "lab" / "inventory.json").exists():
                if time.monotonic() > deadline or lab.poll() is not None:
                    raise SystemExit(f"the lab did not start: {lab.stderr.read() if lab.stderr else ''}")
                time.sleep(0.1)
            devices = json.loads((work / "lab" / "inventory.json").read_text())
            first, last = devices[0]["address"], devices[-1]["address"]
            targets = f"{first}-{last}"
            scan = [
                "-p",
                "8443",
                "--ca-bundle",
                str(work / "lab" / "site-ca.pem"),
                "--trust",
                "site",
                "--offline",
                "-q",
            ]
            before = _camscan(targets, *scan, "--json", str(work / "before.json"))
            assert before.returncode in (0, 1), before.stderr
            # The site CA key is encrypted at rest; unattended runs read its passphrase from the environment.
            env = {**os.environ, "CAMSCAN_PASSWORD": PASSWORD,
                   "CAMSCAN_CA_PASSPHRASE": "bench site CA passphrase", **issuer_env}
            assert _camscan("ca", "init", "--dir", str(work / "site-ca"), env=env).returncode == 0
            started = time.perf_counter()
            fixed = _camscan(
                "fix",
                targets,
                *scan,
                "--ca",
                str(work / "site-ca"),
                "--user",
                "admin",
                "--apply",
                "--yes",
                "--parallel",
                options.parallel,
                "--json",
                str(work / "fix.json"),
                *(["--move-to-site-ca"] if options.move_to_site_ca else []),
                *issuer_args,
                env=env,
                timed=True,
            )
            wall = time.perf_counter() - started
            rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", fixed.stderr)
            _camscan(
                targets,
                *scan,
                "--ca-bundle",
                str(work / "site-ca" / "ca.pem"),
                *(["--ca-bundle", str(issuer_trust)] if issuer_trust else []),
                "--json",
                str(work / "after.json"),
            )
            document: dict[str, Any] = json.loads((work / "fix.json").read_text())
            found_before, found_after = _findings(work / "before.json"), _findings(work / "after.json")
        finally:
            lab.send_signal(signal.SIGINT)
            lab.communicate(timeout=30)
    statuses = collections.Counter(d["outcome"]["status"] for d in document["devices"] if d["outcome"])
    print(f"# `camscan fix --apply` over the built-in lab ({len(devices)} devices)\n")
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, --issuer {options.issuer}, --parallel {options.parallel}"
        f"{', --move-to-site-ca' if options.move_to_site_ca else ''}, load {os.getloadavg()[0]:.2f}\n"
    )
    print("| wall | peak RSS | devices planned | fixed | improved | not fixed | skipped | failed "
          "| findings before | after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {wall:.1f} s | {int(rss.group(1)) / 1024 if rss else float('nan'):.0f} MiB | "
        f"{len(document['devices'])} | {statuses['fixed']} | {statuses['improved']} | "
        f"{statuses['not_fixed']} | "
        f"{statuses['skipped']} | "
        f"{statuses['failed']} | {sum(found_before.values())} | {sum(found_after.values())} |\n"
    )
    print("| rule | before | after |")
    print("|---|---|---|")
    for rule in sorted(set(found_before) | set(found_after)):
        print(f"| {rule} | {found_before[rule]} | {found_after[rule]} |")
    return 0 if fixed.returncode in (0, 1) else fixed.returncode


if __name__ == "__main__":
    raise SystemExit(main())
