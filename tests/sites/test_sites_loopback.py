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
from datetime import UTC, datetime
from pathlib import Path

import pytest

from camscan.errors import UsageError
from camscan.model import Endpoint, SiteStatus
from camscan.reports.history_records import EndpointRecord, FindingRecord, RunRecord, RunSnapshot
from camscan.reports.site_diff import align_sites, only_site
from camscan.scanner.targets import parse_targets
from camscan.sites.allow import AllowList
from camscan.sites.job import run_job
from camscan.sites.worker_config import parse_worker_config
from tests.sites.support import (
    LAB,
    PYTHON,
    ROOT,
    Procs,
    Redis,
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


def camscan(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "camscan", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


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


# --- pure parts ----------------------------------------------------------------------------------


def test_the_allow_list_covers_ranges_addresses_names_and_ports() -> None:
    # Parsed only: nothing here is contacted.
    allow = AllowList(["10.1.0.0/16", "cam1.example.lan", "2001:db8::/64"], ports=[443, 8443])
    assert allow.refusal(parse_targets(["10.1.2.0/24", "10.1.9.9", "[2001:db8::5]:443"], ports=[443])) is None
    assert allow.refusal(parse_targets(["cam1.example.lan"], ports=[8443])) is None
    assert allow.refusal(parse_targets(["10.1.255.0-10.2.0.3"], ports=[443])) == (
        "10.1.255.0-10.2.0.3 is outside this worker's allow-list "
        "(10.1.0.0/16, cam1.example.lan, 2001:db8::/64)"
    )
    assert (
        allow.refusal(parse_targets(["10.1.0.1"], ports=[22]))
        == "port 22 is not among this worker's allowed ports"
    )
    assert allow.refusal(parse_targets(["cam2.example.lan"], ports=[443])) == (
        "host name cam2.example.lan is not in this worker's allow-list"
    )
    assert (
        allow.allows("10.1.3.4", 443)
        and not allow.allows("10.2.3.4", 443)
        and not allow.allows("10.1.3.4", 80)
    )


def test_a_worker_refuses_a_request_outside_its_allow_list_without_scanning(tmp_path: Path) -> None:
    data = {"worker": {"site": "north", "allow": ["192.0.2.0/28"]}, "broker": {"url_env": "X"}}
    config = parse_worker_config(data, tmp_path / "w.toml")
    request = {"site": "north", "targets": ["198.51.100.7"], "ports": "443", "exclude": [], "shard": None}
    answer = run_job(config, request, worker="w@test")
    assert answer == {
        "site": "north",
        "shard": None,
        "worker": "w@test",
        "refused": "198.51.100.7 is outside this worker's allow-list (192.0.2.0/28)",
    }
    assert "refused" in run_job(config, {**request, "site": "south"}, worker="w@test")
    assert run_job(config, {**request, "extra": 1}, worker="w@test")["refused"].startswith("malformed")
    large = {**request, "targets": ["192.0.0.0/8"], "allow_large": True}
    assert "allow_large" in run_job(config, large, worker="w@test")["refused"]


def _run(run_id: int, sites: dict[str, str]) -> RunRecord:
    now = datetime(2026, 1, run_id, tzinfo=UTC)
    return RunRecord(
        run_id, now, now, now, {}, 0, 0, 0, {}, tuple({"name": n, "state": s} for n, s in sites.items())
    )


def _snap(run_id: int, sites: dict[str, str], rows: list[tuple[str, str, str]]) -> RunSnapshot:
    """rows: (site, address, rule) - one endpoint each, one finding each when rule is given."""
    now = datetime(2026, 1, run_id, tzinfo=UTC)
    endpoints = tuple(EndpointRecord(Endpoint(a, 443), "ok", now, site=s) for s, a, _ in rows)
    findings = tuple(
        FindingRecord(Endpoint(a, 443), r, "error", "t", "m", {}, site=s) for s, a, r in rows if r
    )
    return RunSnapshot(_run(run_id, sites), endpoints, findings)


def test_diff_alignment_keeps_a_down_site_out_of_resolved_and_new() -> None:
    from camscan.reports.diff import diff_runs

    up = {"n": "complete", "s": "complete"}
    rows = [
        ("n", "192.0.2.1", "CS111"),
        ("n", "192.0.2.2", "CS401"),
        ("s", "198.51.100.1", "CS120"),
        ("s", "198.51.100.2", "CS401"),
    ]
    first = _snap(1, up, rows)
    down = _snap(2, {"n": "complete", "s": "down"}, [("n", "192.0.2.1", "CS111"), ("n", "192.0.2.2", "")])
    last = {"n": only_site(first, "n"), "s": only_site(first, "s")}  # as the history gives them
    old, new = align_sites(first, down, last, first)
    assert diff_runs(old, new).empty  # south's findings not resolved; north's CS401 not either
    back = _snap(3, up, rows)
    last = {"n": only_site(down, "n"), "s": only_site(first, "s")}
    old, new = align_sites(down, back, last, first)
    assert diff_runs(old, new).empty  # nothing "new" when south is back as it was
    worse = _snap(3, up, [*rows, ("s", "198.51.100.3", "CS101")])
    old, new = align_sites(down, worse, last, first)
    assert [(f.endpoint.address, f.rule_id) for f in diff_runs(old, new).new_findings] == [
        ("198.51.100.3", "CS101")
    ]


def test_the_report_sites_section_round_trips_and_fits_the_schema() -> None:
    import dataclasses

    from jsonschema import Draft202012Validator

    from camscan.reports.json_load import parse_report
    from camscan.reports.json_report import build_document, load_schema
    from tests.reports.sample import build_audit

    audit = build_audit(hostile=False)
    endpoint = audit.scan.observations[0].endpoint
    status = SiteStatus("north", "camscan.north", "partial", 2, 1, 5, "timed out after 60 s", ("w1@h",))
    audit = dataclasses.replace(audit, sites=(status,), endpoint_sites={endpoint: "north"})
    document = build_document(audit)
    Draft202012Validator(load_schema()).validate(document)
    assert document["schema_version"] == "1.2" and document["sites"][0]["state"] == "partial"
    loaded = parse_report("r", json.dumps(document)).audit
    assert loaded.sites == (status,) and loaded.endpoint_sites == {endpoint: "north"}
    plain = build_document(dataclasses.replace(audit, sites=(), endpoint_sites={}))
    assert "sites" not in plain and all("site" not in e for e in plain["endpoints"])


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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[scan]\ntargets = ["127.0.0.1"]\n',
            "[scan]: a config with [[sites]] sweeps through the sites' workers",
        ),
        ('[[sites]]\nname = "lab"\ntargets = ["127.0.0.2"]\n', "[[sites]] name: 'lab' is used by two sites"),
        ('[[sites]]\nname = "b a d"\ntargets = ["127.0.0.2"]\n', "[[sites]] #2 name: 'b a d': letters"),
        ('[[sites]]\nname = "x"\ntargets = ["300.0.0.1"]\n', "[[sites]] #2 targets:"),
        ("[dispatch]\nretries = 9\n", "[dispatch] retries: 9 is out of range"),
        ("[dispatch]\ntimout = 9\n", "[dispatch] timout: unknown key (did you mean 'timeout'?)"),
    ],
)
def test_bad_sites_configs_are_refused_before_anything_runs(tmp_path: Path, body: str, message: str) -> None:
    config = tmp_path / "camscan.toml"
    config.write_text('[[sites]]\nname = "lab"\ntargets = ["127.0.0.1"]\n' + body)
    result = camscan("audit", "--config", str(config), "--check")
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_audit_check_lists_the_sites(tmp_path: Path) -> None:
    config = tmp_path / "camscan.toml"
    config.write_text('[[sites]]\nname = "north"\ntargets = ["192.0.2.0/28"]\nports = "443"\n')
    result = camscan("audit", "--config", str(config), "--check")
    assert result.returncode == 0, result.stderr
    assert "site north: queue camscan.north, targets 192.0.2.0/28  ports: 443" in result.stdout


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


def test_the_csv_report_and_the_summary_line_name_the_sites() -> None:
    import csv
    import dataclasses
    import io

    from camscan.reports.csv_report import render_csv
    from camscan.sites.run import summary_line
    from tests.reports.sample import build_audit

    audit = build_audit(hostile=False)
    sites = {f.endpoint: "north" for f in audit.findings}
    statuses = (
        SiteStatus("north", "camscan.north", "complete", 2, 2, 3),
        SiteStatus("south", "camscan.south", "partial", 4, 3, 9, "worker s1@h stopped answering mid-shard"),
        SiteStatus("east", "camscan.east", "down", 0, 0, 0, "no worker serves queue camscan.east"),
    )
    rows = list(
        csv.reader(io.StringIO(render_csv(dataclasses.replace(audit, sites=statuses, endpoint_sites=sites))))
    )
    assert rows[0][-1] == "site" and {row[-1] for row in rows[1:]} == {"north"}
    assert "site" not in next(csv.reader(io.StringIO(render_csv(audit))))
    from camscan.reports.prometheus_report import render_prometheus

    text = render_prometheus(dataclasses.replace(audit, sites=statuses)).decode()
    assert 'camscan_site_up{queue="camscan.north",site="north"} 1.0' in text
    assert 'camscan_site_up{queue="camscan.south",site="south"} 0.0' in text
    assert 'camscan_site_endpoints{site="south"} 9.0' in text
    assert "camscan_site_up" not in render_prometheus(audit).decode()
    assert summary_line(statuses) == (
        "sites: 1 complete, 1 partial, 1 down (south: 3/4 shards, worker s1@h stopped answering mid-shard; "
        "east: no worker serves queue camscan.east)"
    )


def test_two_sites_returning_the_same_endpoint_are_refused(tmp_path: Path) -> None:
    import dataclasses

    from camscan.reports.json_load import parse_report
    from camscan.reports.json_report import build_document
    from camscan.sites.central import _combined
    from camscan.sites.site_config import parse_sites
    from tests.reports.sample import build_audit

    audit = dataclasses.replace(build_audit(hostile=False), findings=())
    report = parse_report("a", json.dumps(build_document(audit)))
    data = {
        "sites": [{"name": "a", "targets": ["127.0.0.1"]}, {"name": "b", "targets": ["127.0.0.2"]}],
        "broker": {"url_env": "X"},
    }
    config = parse_sites(data, tmp_path / "sites.toml")
    with pytest.raises(UsageError, match="two sites returned the same endpoint; sites must not overlap"):
        _combined([report, dataclasses.replace(report, path="b")], config)
    assert len(_combined([report], config).observations) == len(audit.scan.observations)
