from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from camscan.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from camscan.model import AuditResult, Severity
from camscan.reports import options


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="camscan")
    options.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [("none", EXIT_OK), ("error", EXIT_FINDINGS), ("warning", EXIT_FINDINGS), ("notice", EXIT_FINDINGS)],
)
def test_fail_on_with_findings(audit: AuditResult, fail_on: str, expected: int) -> None:
    assert options.exit_code(audit, _parse(["--fail-on", fail_on])) == expected


def test_fail_on_threshold_is_at_or_above(audit: AuditResult) -> None:
    notices_only = dataclasses.replace(
        audit, findings=tuple(f for f in audit.findings if f.severity is Severity.NOTICE)
    )
    assert notices_only.findings
    assert options.exit_code(notices_only, _parse(["--fail-on", "warning"])) == EXIT_OK
    assert options.exit_code(notices_only, _parse(["--fail-on", "notice"])) == EXIT_FINDINGS
    clean = dataclasses.replace(audit, findings=())
    assert options.exit_code(clean, _parse(["--fail-on", "notice"])) == EXIT_OK
    assert options.exit_code(audit, _parse([])) == EXIT_OK  # default: none


def test_bad_fail_on_is_rejected_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(["--fail-on", "critical"])
    assert exc.value.code == 2
    assert "'critical'" in capsys.readouterr().err


def test_missing_directory_is_rejected_before_the_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from camscan.cli import main

    bad = tmp_path / "nope" / "report.html"
    # 127.0.0.1:9 would be probed (and refused) if the check came after the sweep: the JSON
    # report would then exist. One line on stderr, exit 2, nothing written.
    json_path = tmp_path / "scan.json"
    common = ["127.0.0.1", "-p", "9", "-q", "--offline", "--no-legacy-probe", "--no-ws-discovery"]
    assert main([*common, "--json", str(json_path), "--html", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"camscan: error: --html {str(bad)!r}: directory {str(bad.parent)!r} does not exist\n"
    assert not json_path.exists()
    assert main([*common, "--csv", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_two_stdout_reports_or_one_file_twice_are_usage_errors(
    audit: AuditResult, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="only one report can go to stdout"):
        options.write_reports(audit, _parse(["--csv", "-", "--junit", "-"]))
    same = str(tmp_path / "r.out")
    with pytest.raises(UsageError, match="same file"):
        options.write_reports(audit, _parse(["--csv", same, "--junit", same]))
    with pytest.raises(UsageError, match="only one report can go to stdout"):
        options.jsonl_callback(_parse(["--jsonl", "-", "--html", "-"]))
    assert list(tmp_path.iterdir()) == []


def test_write_reports_writes_every_format(audit: AuditResult, tmp_path: Path) -> None:
    paths = {name: tmp_path / f"report.{ext}" for name, ext in
             [("html", "html"), ("jsonl", "jsonl"), ("csv", "csv"), ("junit", "xml"),
              ("prometheus", "prom"), ("sarif", "sarif")]}
    args = _parse([arg for name, path in paths.items() for arg in (f"--{name}", str(path))])
    written = options.write_reports(audit, args)
    assert sorted(written) == sorted(str(p) for p in paths.values())
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")
    assert json.loads(paths["jsonl"].read_text().splitlines()[-1])["type"] == "summary"
    assert paths["csv"].read_bytes().count(b"\r\n") == len(audit.findings) + 1
    assert "<testsuites" in paths["junit"].read_text()
    families = {f.name for f in text_string_to_metric_families(paths["prometheus"].read_text())}
    assert "camscan_certificate_not_after_timestamp_seconds" in families
    assert json.loads(paths["sarif"].read_text())["version"] == "2.1.0"
    for path in paths.values():
        assert os.stat(path).st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())


def test_jsonl_callback_streams_then_write_reports_finishes(audit: AuditResult, tmp_path: Path) -> None:
    from camscan.model import AuditContext
    from tests.reports.sample import AS_OF

    target = tmp_path / "scan.jsonl"
    args = _parse(["--jsonl", str(target)])
    callback = options.jsonl_callback(args, AuditContext(now=AS_OF))
    assert callback is not None
    for result in audit.scan.observations:
        callback(result)
    assert not target.exists()
    options.write_reports(audit, args)
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines[-1]["type"] == "summary"
    vms = next(line for line in lines if line.get("port") == 7443)
    assert "CS120" in [f["rule_id"] for f in vms["findings"]]  # the real rule, judged on arrival
    assert options.jsonl_callback(_parse([]), None) is None


def test_abort_stream_keeps_previous_jsonl(audit: AuditResult, tmp_path: Path) -> None:
    target = tmp_path / "scan.jsonl"
    target.write_text("old\n")
    args = _parse(["--jsonl", str(target)])
    callback = options.jsonl_callback(args, None)
    assert callback is not None
    callback(audit.scan.observations[0])
    options.abort_stream(args)
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]


_CRASH_MID_WRITE = """
import argparse, resource, signal, sys
from camscan.errors import CamscanError
from camscan.reports import options
from tests.reports.sample import build_audit

audit = build_audit()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
# The disk "fills up" after 4 KiB: the HTML report (~50 KiB) fails mid-write.
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
args = argparse.Namespace(html=sys.argv[1], jsonl=None, csv=None, junit=None, prometheus=None)
try:
    options.write_reports(audit, args)
except CamscanError as exc:
    print(exc)
    sys.exit(3)
sys.exit(0)
"""


def test_a_report_that_fails_mid_write_keeps_the_old_one(tmp_path: Path) -> None:
    import subprocess
    import sys

    target = tmp_path / "report.html"
    target.write_bytes(b"<p>yesterday's good report</p>")
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH_MID_WRITE, str(target)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2], check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith(f"cannot write report {target}: File too large")
    assert target.read_bytes() == b"<p>yesterday's good report</p>"
    assert list(tmp_path.iterdir()) == [target]  # no half-written temporary file left behind


def test_stdout_report(audit: AuditResult, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["--csv", "-"])
    assert options.writes_stdout(args)
    assert options.write_reports(audit, args) == ["-"]
    assert capsys.readouterr().out.startswith("address,port,")
    assert not options.writes_stdout(_parse([]))


_FULL_DISK_AFTER_TWO = """
import argparse, resource, signal, sys
from camscan.errors import CamscanError
from camscan.reports import options
from tests.reports.sample import build_audit

audit = build_audit()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
# Files up to 32 KiB can be written: the JSON (~20 KiB) and the JSON Lines (~20 KiB) are, then
# the HTML (~50 KiB) fails part way.
resource.setrlimit(resource.RLIMIT_FSIZE, (32768, 32768))
folder = sys.argv[1]
args = argparse.Namespace(html=f"{folder}/r.html", jsonl=f"{folder}/r.jsonl", csv=f"{folder}/r.csv",
                          junit=None, prometheus=None, sarif=None)
try:
    options.write_reports(audit, args, json_target=f"{folder}/r.json")
except CamscanError as exc:
    print(exc)
    sys.exit(3)
sys.exit(0)
"""


def test_all_reports_of_a_run_or_none_when_one_fails(tmp_path: Path) -> None:
    """A report that cannot be written (here: the disk fills during the HTML) leaves every
    report of the run as it was, the ones already rendered included: never a new JSON beside
    yesterday's HTML."""
    import subprocess
    import sys

    old = {name: f"yesterday's {name}\n".encode() for name in ("r.json", "r.jsonl", "r.html", "r.csv")}
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_AFTER_TWO, str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2], check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "r.html: File too large" in proc.stdout
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old  # no temporary file left either


def test_a_far_future_audit_clock_renders_and_judges(audit: AuditResult, tmp_path: Path) -> None:
    """--as-of 9999-12-31: the HTML timeline has no dates 90 days on, and CS121's horizon is past
    the last date Python knows; neither may crash (CS000 is a rule that crashed)."""
    import datetime as dt

    from camscan.model import AuditContext
    from camscan.rules.registry import evaluate

    end = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
    findings = evaluate(audit.scan.observations, AuditContext(now=end))
    assert findings and not [f for f in findings if f.rule_id == "CS000"]
    far = dataclasses.replace(audit, as_of=end, findings=tuple(findings))
    args = _parse(["--html", str(tmp_path / "r.html")])
    written = options.write_reports(far, args, json_target=str(tmp_path / "r.json"))
    assert written == [str(tmp_path / "r.html")]
    assert "after 9999-12-31" in (tmp_path / "r.html").read_text()
    assert json.loads((tmp_path / "r.json").read_text())["as_of"] == "9999-12-31T00:00:00Z"
