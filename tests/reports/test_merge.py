"""`camscan merge`: three --shard scans of the real lab, merged, equal the unsharded scan; the
JSON report reads back into the model; everything that must not be merged is refused in one line.

The lab's three factory-default cameras (one key in every unit) sit on consecutive addresses,
so the three shards split them: no shard alone sees the shared key (CS401, CS402), and the
merged report has it only because merge judges the fleet rules again over all the shards."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from camscan.cli import main
from camscan.lab.fleet import default_fleet
from camscan.reports.json_load import load_report
from camscan.reports.json_report import build_document, load_schema
from tests.support.lab_thread import lab_in_thread, random_block
from tests.support.tls_servers import unused_port

BLOCK = random_block(97)
_NET = BLOCK.rsplit(".", 1)[0]
TARGET = f"{_NET}.1-{_NET}.50"  # the lab hands out addresses from the start of its block
AS_OF = "2026-12-01T08:00:00Z"  # one audit clock for every run: findings that quote it agree
SHARED = ("CS401", "CS402")


def _trust(folder: Path) -> list[str]:
    return ["--ca-bundle", str(folder / "site-ca.pem"), "--trust", "site", "--offline"]


def _scan(port: int, site_ca: Path, out: Path, *extra: str) -> None:
    # No HTTP facts: the Date header (and CS302, which quotes it) changes from run to run.
    code = main(
        [
            TARGET,
            "-p",
            str(port),
            "--ca-bundle",
            str(site_ca),
            "--trust",
            "site",
            "--offline",
            "--as-of",
            AS_OF,
            "--no-http",
            "--no-legacy-probe",
            "--no-ws-discovery",
            "--connect-timeout",
            "2",
            "-q",
            "--json",
            str(out),
            *extra,
        ]
    )
    assert code == 0


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """full.json (unsharded) and shard1..3.json of one lab, scanned back to back."""
    folder = tmp_path_factory.mktemp("merge")
    port = unused_port(f"{_NET}.1")
    fleet = default_fleet()
    fleet = replace(
        fleet,
        settings=replace(
            fleet.settings,
            block=BLOCK,
            https_port=port,
            http_port=None,
            reboot_downtime=0.0,
            ws_discovery=False,
        ),
    )
    with lab_in_thread(fleet) as (lab, _):
        site_ca = lab.write_bundles(folder)["site"]
        _scan(port, site_ca, folder / "full.json")
        for index in (1, 2, 3):
            _scan(port, site_ca, folder / f"shard{index}.json", "--shard", f"{index}/3")
    return folder


def _read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _timeless(document: dict[str, Any]) -> dict[str, Any]:
    """The document without the times a second run cannot repeat (the audit clock stays)."""
    document = json.loads(json.dumps(document))
    for key in ("started_at", "finished_at"):
        document.pop(key)
    for entry in document["endpoints"]:
        entry.pop("observed_at")
    return document


def _rules_at(document: dict[str, Any], rule_ids: tuple[str, ...]) -> set[str]:
    return {e["address"] for e in document["endpoints"] for f in e["findings"] if f["rule_id"] in rule_ids}


def test_three_shards_merged_equal_the_unsharded_scan(
    scans: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shards = [scans / f"shard{i}.json" for i in (1, 2, 3)]
    merged = scans / "merged.json"
    code = main(
        [
            "merge",
            *map(str, shards),
            *_trust(scans),
            "--json",
            str(merged),
            "--csv",
            str(scans / "merged.csv"),
            "--html",
            str(scans / "merged.html"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    full = _read(scans / "full.json")
    parts = [_read(path) for path in shards]
    assert [p["parameters"]["shard"] for p in parts] == ["1/3", "2/3", "3/3"]
    assert full["parameters"]["shard"] is None and _read(merged)["parameters"]["shard"] is None
    # The shards really split the estate: disjoint, and each holds a third of it (within one).
    addresses = [{(e["address"], e["port"]) for e in p["endpoints"]} for p in parts]
    assert sum(map(len, addresses)) == len(set().union(*addresses)) == len(full["endpoints"]) == 50
    assert max(map(len, addresses)) - min(map(len, addresses)) <= 1
    # No shard saw the shared key of the factory-default cameras; the merge (and the full scan) did.
    shared = _rules_at(full, SHARED)
    assert len(shared) >= 3
    assert all(len(_rules_at(p, SHARED)) < len(shared) for p in parts)
    merged_document = _read(merged)
    # The merged report says what it covers, and otherwise equals the unsharded scan.
    coverage = merged_document["parameters"].pop("merge")
    assert coverage == {"reports": 3, "shards": ["1/3", "2/3", "3/3"], "missing_shards": []}
    assert full["parameters"].pop("merge") is None
    assert _timeless(merged_document) == _timeless(full)
    jsonschema.Draft202012Validator(load_schema()).validate(_read(merged))
    assert f"merged 3 reports: 50 endpoints, {full['summary']['observed']} HTTPS" in err
    assert (scans / "merged.csv").read_text().count("\n") == 1 + full["summary"]["findings"]
    assert "<html" in (scans / "merged.html").read_text()


def test_the_json_report_reads_back_into_the_model(scans: Path) -> None:
    validator = jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker())
    for name in ("full.json", "shard2.json"):
        validator.validate(_read(scans / name))
        loaded = load_report(scans / name)
        assert build_document(loaded.audit) == _read(scans / name)
    loaded = load_report(scans / "shard2.json")
    assert (
        loaded.shard == "2/3" and loaded.rules_fingerprint and loaded.rules_fingerprint.startswith("sha256:")
    )


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


def _merge_error(capsys: pytest.CaptureFixture[str], *args: str, trust: Path | None = None) -> str:
    code = main(["merge", *args, *(_trust(trust) if trust else []), "--json", "-"])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("camscan: error: "), captured.err
    return lines[0]


def test_reports_of_other_rules_versions_or_clocks_are_refused(
    scans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = scans / "shard1.json", scans / "shard2.json"
    other_rules = _read(two)
    other_rules["parameters"]["rules_fingerprint"] = "sha256:" + "0" * 64
    assert "different rule sets" in _merge_error(
        capsys, str(one), str(_write(tmp_path / "r.json", other_rules)), trust=scans
    )
    other_tool = _read(two)
    other_tool["tool"]["version"] = "0.0.1"
    assert "camscan 0.0.1" in _merge_error(
        capsys, str(one), str(_write(tmp_path / "t.json", other_tool)), trust=scans
    )
    unrecorded = _read(two)
    del unrecorded["parameters"]["rules_fingerprint"]
    assert "no rules fingerprint" in _merge_error(
        capsys, str(one), str(_write(tmp_path / "u.json", unrecorded)), trust=scans
    )

    later = _read(two)
    as_of = dt.datetime.fromisoformat(later["as_of"][:-1]) + dt.timedelta(hours=2)
    later["as_of"] = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    late = _write(tmp_path / "late.json", later)
    message = _merge_error(capsys, str(one), str(late), trust=scans)
    assert "2:00:00 apart, more than --max-skew 3600s" in message
    assert (
        main(
            [
                "merge",
                str(one),
                str(late),
                *_trust(scans),
                "--max-skew",
                "7201",
                "--json",
                str(tmp_path / "m.json"),
            ]
        )
        == 0
    )
    capsys.readouterr()

    # Judging again needs the settings the shards were judged with: here the site CA is missing.
    message = _merge_error(capsys, str(one), str(two), "--offline")
    assert "judged with other settings than this merge's: pass the --ca-bundle" in message

    split = _read(two)
    split["parameters"]["shard"] = "1/4"
    assert "different splits" in _merge_error(
        capsys, str(one), str(_write(tmp_path / "s.json", split)), trust=scans
    )
    # Shard 2/3 of another estate is no third of this one.
    elsewhere = _read(two)
    elsewhere["parameters"]["targets"] = ["127.99.0.0/24"]
    assert "shards of different target sets" in _merge_error(
        capsys, str(one), str(_write(tmp_path / "e.json", elsewhere)), trust=scans
    )


def test_an_endpoint_in_two_reports_is_refused_or_the_latest_kept(
    scans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = str(scans / "shard1.json")
    message = _merge_error(capsys, one, one, trust=scans)
    assert "is in both" in message and "--duplicates latest" in message
    merged = tmp_path / "dup.json"
    assert (
        main(
            [
                "merge",
                one,
                str(scans / "full.json"),
                *_trust(scans),
                "--duplicates",
                "latest",
                "--json",
                str(merged),
            ]
        )
        == 0
    )
    capsys.readouterr()
    # full.json was scanned first, so shard 1's endpoints (later) win; the set is the whole estate.
    assert len(_read(merged)["endpoints"]) == 50


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["loud", "quiet"])
def test_a_missing_shard_is_warned_even_with_q_and_recorded(
    scans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], quiet: list[str]
) -> None:
    code = main(
        [
            "merge",
            str(scans / "shard1.json"),
            str(scans / "shard3.json"),
            *_trust(scans),
            *quiet,
            "--json",
            str(tmp_path / "p.json"),
        ]
    )
    assert code == 0
    assert "warning: no report for shard 2/3" in capsys.readouterr().err
    # The merged report says what it covers; the schema validates it.
    document = _read(tmp_path / "p.json")
    jsonschema.validate(document, load_schema())
    expected = {"reports": 2, "shards": ["1/3", "3/3"], "missing_shards": ["2/3"]}
    assert document["parameters"]["merge"] == expected
    assert load_report(tmp_path / "p.json").audit.scan.parameters.merge is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", "not a JSON document"),
        ("[1, 2]", "not a camscan JSON report"),
        ('{"schema_version": "1.0", "tool": {"name": "other"}}', "not a camscan JSON report"),
        ('{"schema_version": "2.0", "tool": {"name": "camscan"}}', "schema_version 2.0 is newer than"),
        ('{"schema_version": "1.99", "tool": {"name": "camscan"}}', "schema_version 1.99 is newer than"),
        ('{"schema_version": "one", "tool": {"name": "camscan"}}', "is not MAJOR.MINOR"),
        (
            '{"schema_version": "1.1", "tool": {"name": "camscan"}}',
            "malformed report: 'parameters' is missing",
        ),
    ],
)
def test_bad_foreign_and_newer_files_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert message in _merge_error(capsys, str(bad))


def test_a_damaged_endpoint_and_a_missing_file_are_one_line(
    scans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = _read(scans / "shard1.json")
    damaged["endpoints"][1]["port"] = "443"
    path = _write(tmp_path / "damaged.json", damaged)
    assert "malformed report: endpoints[1]: 'port' is not an integer" in _merge_error(capsys, str(path))
    assert "cannot read report" in _merge_error(capsys, str(tmp_path / "absent.json"))


def test_a_shards_history_finding_survives_the_merge(
    scans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CS404 from an audit's history cannot be judged again (a report has no history): kept."""
    shard = _read(scans / "shard1.json")
    healthy = next(
        e
        for e in shard["endpoints"]
        if e["status"] == "observed" and "CS404" not in {f["rule_id"] for f in e["findings"]}
    )
    healthy["findings"].append(
        {
            "rule_id": "CS404",
            "severity": "error",
            "title": "Certificate names the device's previous address",
            "message": "seen at 10.0.0.9 by the history",  # not contacted
            "evidence": {"history_mac": None},
            "remediation": "Reboot.",
        }
    )
    edited = _write(tmp_path / "shard1.json", shard)
    merged = tmp_path / "merged.json"
    others = [str(scans / f"shard{i}.json") for i in (2, 3)]
    assert main(["merge", str(edited), *others, *_trust(scans), "--json", str(merged), "-q"]) == 0
    capsys.readouterr()
    entry = next(e for e in _read(merged)["endpoints"] if e["address"] == healthy["address"])
    assert [f["message"] for f in entry["findings"] if f["rule_id"] == "CS404"] == [
        "seen at 10.0.0.9 by the history"  # not contacted
    ]
