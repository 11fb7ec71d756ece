"""Many sites, one audit, with the real engine: redis-server, Celery workers, one namespace per site.

Topology (all inside namespaces this module creates and deletes, named with the pid):

    hub   : redis-server (password, no persistence) and the central `camscan audit`;
            routes to both sites' device blocks, for the single-machine scan to compare with
    north : its lab on 198.51.100.0/26 (local to north) and two `camscan worker`s
    south : its lab on 203.0.113.0/26 (local to south) and one `camscan worker`

north and south reach the hub (Redis) over their own veth pair and nothing else: a north
worker cannot reach south's devices. One TLS server per site serves the same certificate and
key, so only a judgement across sites sees it shared (CS401/CS402).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from camscan import pki
from tests.sites.support import (
    LAB,
    PYTHON,
    ROGUE_WORKER,
    ROOT,
    TLS_SERVER,
    Procs,
    Redis,
    in_ns,
    redis_available,
    start_redis,
    start_worker,
    wait_for_line,
    write_worker_config,
)

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="creating network namespaces needs root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's `ip` is not installed"),
    pytest.mark.skipif(not redis_available(), reason="redis-server is not installed"),
]

PID = os.getpid()
HUB, NORTH, SOUTH = f"camscan-sh-{PID}", f"camscan-sn-{PID}", f"camscan-ss-{PID}"
# Addresses exist only inside this module's namespaces: link-local and documentation ranges.
HUB_NORTH, NORTH_HUB = "169.254.61.1", "169.254.61.2"  # netns
HUB_SOUTH, SOUTH_HUB = "169.254.62.1", "169.254.62.2"  # netns
NORTH_BLOCK, SOUTH_BLOCK = "198.51.100.0/26", "203.0.113.0/26"  # netns
NORTH_TARGETS, SOUTH_TARGETS = "198.51.100.1-198.51.100.62", "203.0.113.1-203.0.113.62"  # netns
SHARED_NORTH, SHARED_SOUTH = "198.51.100.60", "203.0.113.60"  # netns
LAB_SIZE = 10
REDIS_PORT = 26379  # inside the hub namespace nothing else listens


@dataclass
class Sites:
    tmp: Path
    redis: Redis
    procs: Procs
    bundles: list[Path]
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def central_env(self) -> dict[str, str]:
        return {**os.environ, "CAMSCAN_BROKER_URL": self.redis.url("127.0.0.1")}

    def camscan(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            in_ns(HUB, [PYTHON, "-m", "camscan", *args]), capture_output=True, text=True,
            timeout=timeout, cwd=ROOT, env=self.central_env(),
        )

    def audit_config(self, name: str, sites: str, *, history: str = "history.sqlite") -> Path:
        directory = self.tmp / name
        directory.mkdir(exist_ok=True)
        bundles = ", ".join(f'"{b}"' for b in self.bundles)
        path = directory / "camscan.toml"
        path.write_text(
            f'{sites}\n[dispatch]\ntimeout = 120\ndiscover_timeout = 1.0\n\n'
            f'[trust]\nmode = "site"\nca_bundles = [{bundles}]\n\n[thresholds]\nfail_on = "error"\n\n'
            f'[outputs]\njson = "report.json"\nhtml = "report.html"\n\n[history]\npath = "{history}"\n'
        )
        return path


def site_table(name: str, targets: str, *, queue: str | None = None, shards: int | None = None) -> str:
    lines = [f'[[sites]]\nname = "{name}"\ntargets = ["{targets}"]\nports = "8443"']
    if queue:
        lines.append(f'queue = "{queue}"')
    if shards:
        lines.append(f"shards = {shards}")
    return "\n".join(lines) + "\n"


BOTH = site_table("north", NORTH_TARGETS) + site_table("south", SOUTH_TARGETS)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


def _start_lab(procs: Procs, ns: str, block: str, out: Path) -> None:
    log = out / "lab.log"
    out.mkdir(parents=True)
    proc = procs.start(in_ns(ns, [PYTHON, "-c", LAB, block, str(LAB_SIZE), str(out)]), log)
    wait_for_line(log, '["', proc, 60)


def _start_tls_server(procs: Procs, ns: str, cert: Path, key: Path, address: str, log: Path) -> None:
    proc = procs.start(in_ns(ns, [PYTHON, "-c", TLS_SERVER, str(cert), str(key), address, "8443"]), log)
    wait_for_line(log, "ready", proc, 20)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    tmp = tmp_path_factory.mktemp("sites")
    procs = Procs()
    created: list[str] = []
    try:
        for ns in (HUB, NORTH, SOUTH):
            ip("netns", "add", ns)
            created.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        # Both ends of each pair are made inside the namespaces: the host's network is untouched.
        for site_ns, hub_if, site_if, hub_addr, site_addr, block in (
            (NORTH, "hn0", "nh0", HUB_NORTH, NORTH_HUB, NORTH_BLOCK),
            (SOUTH, "hs0", "sh0", HUB_SOUTH, SOUTH_HUB, SOUTH_BLOCK),
        ):
            ip("-n", HUB, "link", "add", hub_if, "type", "veth", "peer", "name", site_if, "netns", site_ns)
            ip("-n", HUB, "addr", "add", f"{hub_addr}/30", "dev", hub_if)  # netns
            ip("-n", site_ns, "addr", "add", f"{site_addr}/30", "dev", site_if)  # netns
            ip("-n", HUB, "link", "set", hub_if, "up")
            ip("-n", site_ns, "link", "set", site_if, "up")
            # The site's device block is local to the site (the lab binds any address in it) ...
            ip("-n", site_ns, "route", "add", "local", block, "dev", "lo")  # netns
            # ... and routed from the hub only, for the single-machine scan of both sites.
            ip("-n", HUB, "route", "add", block, "via", site_addr)  # netns
        binds = ["127.0.0.1", HUB_NORTH, HUB_SOUTH]  # the hub's own loopback and its veth ends
        redis = start_redis(procs, tmp / "redis", binds=binds, port=REDIS_PORT, ns=HUB)
        _start_lab(procs, NORTH, NORTH_BLOCK, tmp / "lab-north")
        _start_lab(procs, SOUTH, SOUTH_BLOCK, tmp / "lab-south")
        shared = pki.make_leaf(None, ips=[SHARED_NORTH, SHARED_SOUTH])
        (tmp / "shared.pem").write_bytes(shared.cert_pem)
        (tmp / "shared.key").write_bytes(shared.key_pem)
        for ns, address in ((NORTH, SHARED_NORTH), (SOUTH, SHARED_SOUTH)):
            log = tmp / f"tls-{ns}.log"
            _start_tls_server(procs, ns, tmp / "shared.pem", tmp / "shared.key", address, log)
        bundles = [tmp / "lab-north" / "site-ca.pem", tmp / "lab-south" / "site-ca.pem"]
        state = Sites(tmp, redis, procs, bundles)
        north_cfg = write_worker_config(tmp / "north.toml", "north", [NORTH_BLOCK])
        south_cfg = write_worker_config(tmp / "south.toml", "south", [SOUTH_BLOCK])
        for name, cfg, ns, hub in (
            ("north-a", north_cfg, NORTH, HUB_NORTH),
            ("north-b", north_cfg, NORTH, HUB_NORTH),
            ("south-a", south_cfg, SOUTH, HUB_SOUTH),
        ):
            log = tmp / f"{name}.log"
            state.workers[name] = start_worker(procs, cfg, f"{name}@test", redis.url(hub), log, ns)
        yield state
    finally:
        procs.stop_all()
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=20)


def _findings(document: dict[str, object]) -> set[tuple[str, int, str]]:
    endpoints = document["endpoints"]
    assert isinstance(endpoints, list)
    return {(e["address"], e["port"], f["rule_id"]) for e in endpoints for f in e["findings"]}


def _answered(document: dict[str, object]) -> set[tuple[str, int]]:
    endpoints = document["endpoints"]
    assert isinstance(endpoints, list)
    return {(e["address"], e["port"]) for e in endpoints if e["status"] == "observed"}


def test_the_central_audit_equals_a_single_machine_scan_of_both_labs(sites: Sites) -> None:
    config = sites.audit_config("equal", BOTH)
    central = sites.camscan("audit", "--config", str(config))
    # Findings at "error" (the default --fail-on) exit 1.
    assert central.returncode == 1, central.stderr + central.stdout[-3000:]
    assert "sites: 2 complete" in central.stdout
    assert "Traceback" not in central.stderr and sites.redis.password not in central.stdout + central.stderr

    single_json = sites.tmp / "equal" / "single.json"
    single = sites.camscan(
        NORTH_TARGETS, SOUTH_TARGETS, "-p", "8443", "--no-ws-discovery", "--trust", "site",
        "--fail-on", "error", *[arg for b in sites.bundles for arg in ("--ca-bundle", str(b))],
        "--json", str(single_json), "-q",
    )
    assert single.returncode == 1, single.stderr
    report = json.loads((sites.tmp / "equal" / "report.json").read_text())
    alone = json.loads(single_json.read_text())

    assert len(_answered(report)) == 2 * (LAB_SIZE + 1)
    assert _answered(report) == _answered(alone)
    assert {(e["address"], e["port"]) for e in report["endpoints"]} == {
        (e["address"], e["port"]) for e in alone["endpoints"]
    }
    assert _findings(report) == _findings(alone)
    # Plus the site labels: every endpoint at the site whose block holds it.
    for entry in report["endpoints"]:
        assert entry["site"] == ("north" if entry["address"].startswith("198.51.100.") else "south"), entry
    assert all("site" not in entry for entry in alone["endpoints"])
    assert {s["name"]: (s["state"], s["shards"], s["shards_done"]) for s in report["sites"]} == {
        "north": ("complete", 2, 2), "south": ("complete", 1, 1),
    }
    assert set(report["sites"][0]["workers"]) == {"north-a@test", "north-b@test"}
    # Judged across sites: the certificate served at both sites is one fleet-wide problem.
    for rule in ("CS401", "CS402"):
        assert (SHARED_NORTH, 8443, rule) in _findings(report)
        assert (SHARED_SOUTH, 8443, rule) in _findings(report)

    from jsonschema import Draft202012Validator

    from camscan.reports.json_report import load_schema

    Draft202012Validator(load_schema()).validate(report)
    html = (sites.tmp / "equal" / "report.html").read_text()
    assert 'id="sites-table"' in html and f"{SHARED_SOUTH}:8443 [south]" in html

    history = sites.camscan("history", "--config", str(config), "--json", "--site", "south")
    runs = json.loads(history.stdout)["runs"]
    assert [s["state"] for s in runs[0]["sites"]] == ["complete", "complete"]
    diff = sites.camscan("diff", "--config", str(config), "1", "--json", "--site", "south")
    assert diff.returncode == 2  # run 1 is the first: nothing before it


def test_a_site_that_is_down_is_reported_and_neither_fixed_nor_new_in_the_diff(sites: Sites) -> None:
    config = sites.audit_config("down", BOTH)
    first = sites.camscan("audit", "--config", str(config), "--quiet")
    assert first.returncode == 1, first.stderr
    south_findings = {f for f in _findings(json.loads((config.parent / "report.json").read_text()))
                      if f[0].startswith("203.0.113.")}
    assert south_findings

    # South's queue has no worker now: the site is down, not empty.
    down = config.read_text().replace('name = "south"', 'name = "south"\nqueue = "camscan.nobody"')
    config.write_text(down)
    second = sites.camscan("audit", "--config", str(config))
    assert second.returncode == 3, second.stderr  # fail_on_site_down (default)
    assert "sites: 1 complete, 1 down (south: no worker serves queue camscan.nobody)" in second.stdout
    report = json.loads((config.parent / "report.json").read_text())
    assert {s["name"]: s["state"] for s in report["sites"]} == {"north": "complete", "south": "down"}
    assert not any(e["address"].startswith("203.0.113.") for e in report["endpoints"])
    assert "resolved findings" not in second.stdout and "vanished endpoints" not in second.stdout

    config.write_text(down.replace('queue = "camscan.nobody"\n', ""))
    third = sites.camscan("audit", "--config", str(config))
    assert third.returncode == 1, third.stderr
    assert "sites: 2 complete" in third.stdout
    # Back: compared with the last run where south was complete, so its findings are not "new".
    assert "new findings" not in third.stdout and "new endpoints" not in third.stdout, third.stdout
    diff = json.loads(sites.camscan("diff", "--config", str(config), "--json").stdout)
    assert diff["counts"]["new_findings"] == 0 and diff["counts"]["resolved_findings"] == 0
    history = json.loads(sites.camscan("history", "--config", str(config), "--json").stdout)["runs"]
    assert [[s["state"] for s in run["sites"]] for run in history] == [
        ["complete", "complete"], ["complete", "down"], ["complete", "complete"],
    ]


def test_a_target_outside_the_workers_allow_list_is_refused(sites: Sites) -> None:
    # The central config asks north for an address of south: north's workers refuse, scan nothing.
    wider = f'["{NORTH_TARGETS}", "203.0.113.5"]'
    table = site_table("north", NORTH_TARGETS).replace(f'["{NORTH_TARGETS}"]', wider)
    config = sites.audit_config("allow", table)
    result = sites.camscan("audit", "--config", str(config))
    assert result.returncode == 3, result.stderr
    report = json.loads((config.parent / "report.json").read_text())
    (north,) = report["sites"]
    assert north["state"] == "down" and north["endpoints"] == 0
    assert north["detail"].startswith("refused by worker north-"), north["detail"]
    assert "203.0.113.5 is outside this worker's allow-list (198.51.100.0/26)" in north["detail"]
    assert report["endpoints"] == []
    # And the namespace itself keeps a north worker from south's devices.
    probe = subprocess.run(
        in_ns(NORTH, [PYTHON, "-c", "import socket; socket.create_connection(('203.0.113.1', 8443), 3)"]),
        capture_output=True, text=True, timeout=30,
    )
    assert probe.returncode != 0 and "unreachable" in probe.stderr.lower()


def test_a_result_that_is_not_valid_json_is_refused(sites: Sites) -> None:
    log = sites.tmp / "rogue.log"
    argv = in_ns(NORTH, [PYTHON, "-c", ROGUE_WORKER, "camscan.rogue", "rogue@test"])
    proc = sites.procs.start(argv, log, env={"CAMSCAN_BROKER_URL": sites.redis.url(HUB_NORTH)})
    try:
        wait_for_line(log, " ready.", proc, 90)
        config = sites.audit_config("rogue", site_table("rogue", "198.51.100.1-198.51.100.3"))
        result = sites.camscan("audit", "--config", str(config))
        assert result.returncode == 3, result.stderr
        report = json.loads((config.parent / "report.json").read_text())
        (rogue,) = report["sites"]
        assert rogue["state"] == "down"
        assert rogue["detail"].startswith("result refused: site rogue shard 1/1: not a JSON document"), rogue
        assert report["endpoints"] == [] and "Traceback" not in result.stderr
    finally:
        Procs.kill(proc)


def test_a_shard_whose_worker_dies_is_run_again_elsewhere(sites: Sites) -> None:
    # Two slow north workers on their own queue (rate-limited by their own config): one shard.
    slow = write_worker_config(sites.tmp / "north-slow.toml", "north", [NORTH_BLOCK], rate=10,
                               queue="camscan.north-slow")
    logs = {name: sites.tmp / f"{name}.log" for name in ("slow-a", "slow-b")}
    workers = {
        name: start_worker(sites.procs, slow, f"{name}@test", sites.redis.url(HUB_NORTH), log, NORTH)
        for name, log in logs.items()
    }
    config = sites.audit_config(
        "killed", site_table("north", NORTH_TARGETS, queue="camscan.north-slow", shards=1)
    )
    central = subprocess.Popen(
        in_ns(HUB, [PYTHON, "-m", "camscan", "audit", "--config", str(config)]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=sites.central_env(),
    )
    try:
        deadline = time.monotonic() + 60
        victim = None
        while victim is None and time.monotonic() < deadline:
            for name, log in logs.items():
                if re.search(r"Task camscan\.sites\.sweep\[[^]]+\] received", log.read_text()):
                    victim = name
            time.sleep(0.1)
        assert victim is not None, "no slow worker received the shard"
        time.sleep(1.0)  # mid-shard: 62 endpoints at 10 connections a second take seconds
        Procs.kill(workers[victim])
        _, err = central.communicate(timeout=180)
    finally:
        if central.poll() is None:
            central.kill()
            central.communicate()
    assert central.returncode == 1, err
    assert f"worker {victim}@test stopped answering mid-shard; sending it again" in err
    report = json.loads((config.parent / "report.json").read_text())
    (north,) = report["sites"]
    survivor = next(name for name in logs if name != victim)
    assert (north["state"], north["shards_done"], north["workers"]) == ("complete", 1, [f"{survivor}@test"])
    assert len(_answered(report)) == LAB_SIZE + 1
