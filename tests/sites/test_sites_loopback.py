"""Sites without namespaces (no root needed): the broker down, bad broker settings, and one real
worker and Redis on loopback serving `camscan scan --sites`. Pure parts (allow-list, diff
alignment, the report's sites section) are tested here too."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sites.support import (
    LAB,
    PYTHON,
    Procs,
    Redis,
    camscan,
    redis_available,
    start_redis,
    start_worker,
    wait_for_line,
    write_worker_config,
)

SECRET = "pw-never-printed-0451"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sites_file(tmp_path: Path, targets: str, extra: str = "") -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(
        f'[[sites]]\nname = "lab"\ntargets = ["{targets}"]\nports = "8443"\n{extra}'
        "[dispatch]\ntimeout = 60\ndiscover_timeout = 1.0\n"
    )
    return path


# --- the broker down, bad broker settings ------------------------------------------------------


def test_redis_down_is_one_line_and_exit_3_without_the_password(tmp_path: Path) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{_free_port()}/0"  # nothing listens there
    config = tmp_path / "camscan.toml"
    config.write_text(_sites_file(tmp_path, "127.0.0.1").read_text() + '[history]\npath = "h.sqlite"\n')
    started = time.monotonic()
    result = camscan("audit", "--config", str(config), env={"CAMSCAN_BROKER_URL": url})
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("camscan: error: the broker is unreachable"), result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stdout + result.stderr
    assert time.monotonic() - started < 60
    from camscan.reports.history import HistoryStore

    with HistoryStore(tmp_path / "h.sqlite", create=False) as store:
        assert store.runs() == []  # no run recorded: nothing to diff, no site "fixed"

    worker = write_worker_config(tmp_path / "w.toml", "lab", ["127.0.0.0/8"])
    check = camscan("worker", "--config", str(worker), "--check", env={"CAMSCAN_BROKER_URL": url})
    assert check.returncode == 3 and "the broker is unreachable" in check.stderr
    assert SECRET not in check.stdout + check.stderr


@pytest.mark.parametrize(
    ("broker", "message"),
    [
        ('url = "redis://:x@127.0.0.1:6379/0"\n', "[broker] url: the broker URL holds a password"),
        (
            'url_env = "CAMSCAN_TEST_UNSET_VARIABLE"\n',
            "the broker URL is not set (environment variable CAMSCAN_TEST_UNSET_VARIABLE",
        ),
        ('url_file = "url.txt"\n', "url_file: {dir}/url.txt is readable by others"),
        ('url_env = "A"\nurl_file = "url.txt"\n', "set url_env or url_file, not both"),
    ],
)
def test_bad_broker_settings_are_refused_with_one_line(tmp_path: Path, broker: str, message: str) -> None:
    (tmp_path / "url.txt").write_text(f"redis://:{SECRET}@127.0.0.1:1/0\n")
    (tmp_path / "url.txt").chmod(0o644)
    sites = _sites_file(tmp_path, "127.0.0.1")
    sites.write_text(sites.read_text() + "[broker]\n" + broker)
    result = camscan("scan", "--sites", str(sites), env={"CAMSCAN_BROKER_URL": ""})
    assert result.returncode == 2, result.stderr
    assert message.format(dir=tmp_path) in result.stderr
    assert result.stderr.count("\n") == 1 and SECRET not in result.stderr


def test_a_world_readable_url_file_is_fine_once_it_is_0600_and_then_reaches_for_the_broker(
    tmp_path: Path,
) -> None:
    url = tmp_path / "url.txt"
    url.write_text(f"redis://:{SECRET}@127.0.0.1:{_free_port()}/0\n")
    url.chmod(0o600)
    sites = _sites_file(tmp_path, "127.0.0.1")
    sites.write_text(sites.read_text() + '[broker]\nurl_file = "url.txt"\n')
    result = camscan("scan", "--sites", str(sites))
    assert result.returncode == 3 and "the broker is unreachable" in result.stderr
    assert SECRET not in result.stderr


# --- one real worker and Redis on loopback -------------------------------------------------------


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Redis]]:
    if not redis_available():
        pytest.skip("redis-server is not installed")
    tmp = tmp_path_factory.mktemp("loopback")
    procs = Procs()
    try:
        redis = start_redis(procs, tmp / "redis", binds=["127.0.0.1"], port=_free_port())
        lab_log = tmp / "lab.log"
        (tmp / "lab").mkdir()
        lab = procs.start([PYTHON, "-c", LAB, "127.91.0.0/28", "6", str(tmp / "lab")], lab_log)
        wait_for_line(lab_log, '["', lab, 60)
        config = write_worker_config(tmp / "worker.toml", "lab", ["127.91.0.0/24"])
        start_worker(procs, config, "lab-a@test", redis.url(), tmp / "worker.log")
        yield tmp, redis
    finally:
        procs.stop_all()


def test_scan_sites_through_a_real_worker_on_loopback(loopback: tuple[Path, Redis], tmp_path: Path) -> None:
    tmp, redis = loopback
    sites = _sites_file(tmp_path, "127.91.0.1-127.91.0.14")
    out = tmp_path / "report.json"
    result = camscan(
        "scan",
        "--sites",
        str(sites),
        "--ca-bundle",
        str(tmp / "lab" / "site-ca.pem"),
        "--trust",
        "site",
        "--json",
        str(out),
        "--jsonl",
        str(tmp_path / "report.jsonl"),
        "-q",
        env={"CAMSCAN_BROKER_URL": redis.url()},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert {line["site"] for line in lines if line["type"] == "endpoint"} == {"lab"}
    assert lines[-1]["type"] == "summary" and lines[-1]["sites"][0]["state"] == "complete"
    assert lines[-1]["late_findings"] == []  # written once every site is judged: nothing is late
    assert "sites: 1 complete" in result.stderr and redis.password not in result.stderr
    report = json.loads(out.read_text())
    assert report["sites"][0]["workers"] == ["lab-a@test"]
    assert sum(1 for e in report["endpoints"] if e["status"] == "observed") == 6
    assert {e["site"] for e in report["endpoints"]} == {"lab"}
    # The central side asks for something beyond the worker's allow-list: refused, exit 3.
    wide = _sites_file(tmp_path, "127.92.0.1")
    refused = camscan("scan", "--sites", str(wide), "-q", env={"CAMSCAN_BROKER_URL": redis.url()})
    assert refused.returncode == 3
    assert (
        "sites: 1 down (lab: refused by worker lab-a@test: 127.92.0.1 is outside this worker's "
        "allow-list (127.91.0.0/24))" in refused.stderr
    )


def test_a_pickled_message_is_refused_by_the_worker(loopback: tuple[Path, Redis]) -> None:
    from camscan.sites.broker import TASK_NAME, BrokerSettings, make_app

    tmp, redis = loopback
    os.environ["CAMSCAN_TEST_PICKLE_URL"] = redis.url()
    try:
        app = make_app(BrokerSettings(url_env="CAMSCAN_TEST_PICKLE_URL"))
        request = {"site": "lab", "targets": ["127.91.0.1"], "ports": "8443", "exclude": [], "shard": None}
        result = app.send_task(TASK_NAME, args=[request], queue="camscan.lab", serializer="pickle")
        log = tmp / "worker.log"
        deadline = time.monotonic() + 30
        while "untrusted content of type pickle" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "Refusing to deserialize untrusted content of type pickle" in log.read_text()
        assert result.state == "PENDING"  # never run
    finally:
        del os.environ["CAMSCAN_TEST_PICKLE_URL"]


def test_cron_prints_a_systemd_unit_for_a_site_worker(tmp_path: Path) -> None:
    import shutil

    config = write_worker_config(tmp_path / "north.toml", "north", ["192.0.2.0/24"])
    result = camscan("cron", "--worker", str(config))
    assert result.returncode == 0, result.stderr
    head, _, rest = result.stdout.partition("\n")
    assert head == "# /etc/systemd/system/camscan-worker-north.service"
    unit = rest.split("# enable with:")[0]
    assert (
        f"-m camscan worker --config {config}" in unit and "EnvironmentFile=-/etc/camscan/worker.env" in unit
    )
    assert "Environment=" not in unit  # the broker URL is never in the unit itself
    if shutil.which("systemd-analyze"):
        path = tmp_path / "camscan-worker-north.service"
        path.write_text(unit)
        verify = subprocess.run(
            ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
        )
        assert verify.returncode == 0, verify.stderr


def test_a_slow_site_is_reported_at_the_deadline_and_its_shard_revoked(
    loopback: tuple[Path, Redis], tmp_path: Path
) -> None:
    _, redis = loopback
    procs = Procs()
    try:
        # A worker of its own queue, throttled by its own config to 2 connections a second.
        config = write_worker_config(
            tmp_path / "slow.toml", "slow", ["127.91.0.0/24"], rate=2, queue="camscan.slow"
        )
        start_worker(procs, config, "slow-a@test", redis.url(), tmp_path / "slow.log")
        sites = tmp_path / "sites.toml"
        sites.write_text(
            '[[sites]]\nname = "slow"\nqueue = "camscan.slow"\ntargets = ["127.91.0.1-127.91.0.14"]\n'
            'ports = "8443"\ntimeout = 3\n[dispatch]\ndiscover_timeout = 1.0\n'
        )
        out = tmp_path / "report.json"
        started = time.monotonic()
        result = camscan(
            "scan", "--sites", str(sites), "-q", "--json", str(out), env={"CAMSCAN_BROKER_URL": redis.url()}
        )
        assert time.monotonic() - started < 30
        assert result.returncode == 3, result.stderr
        (slow,) = json.loads(out.read_text())["sites"]
        assert (slow["state"], slow["shards"], slow["shards_done"]) == ("down", 1, 0)
        assert slow["detail"] == "timed out after 3 s (worker slow-a@test still sweeping)"
    finally:
        procs.stop_all()
