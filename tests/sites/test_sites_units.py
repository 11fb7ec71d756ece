"""The pure parts of sites: allow-list, worker refusals, diff alignment, the reports' site
sections, config validation (`camscan audit --check`), the combination of sites' results."""

from __future__ import annotations

import json
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
from tests.sites.support import camscan


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


def test_junit_and_sarif_name_each_endpoints_site() -> None:
    import dataclasses
    import xml.etree.ElementTree as ET

    from camscan.reports.junit_report import render_junit
    from camscan.reports.sarif_report import build_sarif
    from tests.reports.sample import build_audit

    audit = build_audit(hostile=False)
    sites = {f.endpoint: "north" for f in audit.findings}
    labelled = dataclasses.replace(audit, sites=(SiteStatus("north", "camscan.north", "complete", 1, 1, 3),),
                                   endpoint_sites=sites)
    results = build_sarif(labelled)["runs"][0]["results"]
    assert results and {r["properties"]["site"] for r in results} == {"north"}
    assert all("site" not in r["properties"] for r in build_sarif(audit)["runs"][0]["results"])
    cases = ET.fromstring(render_junit(labelled)).iter("testcase")
    named = {c.get("classname"): [p.get("value") for p in c.iter("property") if p.get("name") == "site"]
             for c in cases}
    assert {f"camscan.{e.address}" for e in sites} <= set(named)
    assert all(named[f"camscan.{e.address}"] == ["north"] for e in sites)
    assert not [p for p in ET.fromstring(render_junit(audit)).iter("property") if p.get("name") == "site"]


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
