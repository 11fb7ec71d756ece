"""`camscan audit` end to end against real TLS servers on 127.x: reports, history, a device that
changes address without rebooting (diff shows the move, CS404 fires from history), webhook only
on change, --quiet, exit codes; and the crontab line from `camscan cron`, executed by /bin/sh."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from camscan import pki
from camscan.certinfo import cert_pem, spki_sha256
from camscan.cli import main
from camscan.reports.history import HistoryStore
from tests.audit.conftest import Hook
from tests.support.tls_servers import ServerSpec, serve_in_thread


def _write_config(tmp_path: Path, endpoints: Sequence[tuple[str, int]], *, hook: Hook | None = None) -> Path:
    targets = ", ".join(f'"{host}:{port}"' for host, port in endpoints)
    text = f"""
[scan]
targets = [{targets}]
handshake_timeout = 5.0
http_facts = false
legacy_probe = false

[trust]
mode = "site"
ca_bundles = ["site-ca.pem"]
offline = true

[thresholds]
fail_on = "error"

[outputs]
json = "out/report.json"
html = "out/report.html"
prometheus = "out/camscan.prom"
jsonl = "out/stream.jsonl"
csv = "out/findings.csv"
junit = "out/junit.xml"
sarif = "out/camscan.sarif"
"""
    if hook is not None:
        text += f'\n[notify.webhook]\nurl = "{hook.url}"\ntimeout = 5.0\nretries = 2\nbackoff = 0.1\n'
    config = tmp_path / "camscan.toml"
    config.write_text(text)
    return config


@pytest.fixture
def site(tmp_path: Path) -> tuple[pki.Issued, pki.Issued, pki.Issued]:
    ca = pki.make_ca("camscan test site CA")
    (tmp_path / "site-ca.pem").write_text(cert_pem(ca.cert))
    (tmp_path / "out").mkdir()
    cam_a = pki.make_leaf(ca, common_name="cam-a", ips=["127.0.0.81"])
    cam_b = pki.make_leaf(ca, common_name="cam-b", ips=["127.0.0.82"])
    return ca, cam_a, cam_b


def _spec(leaf: pki.Issued, ca: pki.Issued) -> ServerSpec:
    return ServerSpec(chain=[leaf.cert, ca.cert], key=leaf.key, http=False)


def test_device_moves_without_reboot(
    tmp_path: Path, site: tuple[pki.Issued, pki.Issued, pki.Issued], hook: Hook,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    ca, cam_a, cam_b = site
    db = tmp_path / "camscan-history.sqlite"

    # Run 1: both cameras at the addresses their certificates name. Clean: exit 0.
    with serve_in_thread([(_spec(cam_a, ca), "127.0.0.81"), (_spec(cam_b, ca), "127.0.0.82")]) as eps:
        config = _write_config(tmp_path, eps, hook=hook)
        assert main(["audit", "--config", str(config)]) == 0
        first_port = eps[0][1]
    out = capsys.readouterr().out
    assert out.startswith("run 1: 2 endpoints answered, 0 did not; 0 findings")
    assert "changes from an empty history to run 1: 2 new endpoints" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["endpoints"]) == 2
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "camscan" in (tmp_path / "out" / "camscan.prom").read_text()
    assert json.loads((tmp_path / "out" / "camscan.sarif").read_text())["version"] == "2.1.0"
    lines = (tmp_path / "out" / "stream.jsonl").read_text().splitlines()
    assert len([json.loads(line) for line in lines]) >= 2
    assert (tmp_path / "out" / "findings.csv").exists()
    assert (tmp_path / "out" / "junit.xml").read_text().lstrip().startswith("<?xml")
    assert len(hook.requests) == 1  # the first run is a change from the empty history

    # Run 2: cam-a was re-addressed to 127.0.0.83 without a reboot: same certificate, new address.
    with serve_in_thread([(_spec(cam_a, ca), "127.0.0.83"), (_spec(cam_b, ca), "127.0.0.82")]) as eps:
        config = _write_config(tmp_path, eps, hook=hook)
        assert main(["audit", "--config", str(config), "--quiet"]) == 1  # CS404 is an error
        out = capsys.readouterr().out
        assert out.startswith("changes from run 1 to run 2:")
        assert "127.0.0.81 -> 127.0.0.83  same key" in out
        assert "still presenting the certificate of its old address" in out

        report = json.loads((tmp_path / "out" / "report.json").read_text())
        moved = next(e for e in report["endpoints"] if e["address"] == "127.0.0.83")
        cs404 = [f for f in moved["findings"] if f["rule_id"] == "CS404"]
        assert cs404, moved["findings"]
        assert "127.0.0.81" in cs404[0]["message"]
        assert cs404[0]["evidence"]["previous_address"] == "127.0.0.81"

        assert len(hook.requests) == 2
        payload = json.loads(hook.requests[1]["body"])
        assert payload["run"]["id"] == 2
        assert payload["changes"]["moves"] == [
            {
                "old_address": "127.0.0.81",
                "new_address": "127.0.0.83",
                "matched_by": "key",
                "value": spki_sha256(cam_a.cert),  # the key both addresses presented
                "ports": sorted({first_port, eps[0][1]}),  # every port, before and after
                "certificate_unchanged": True,
            }
        ]
        assert "CS404" in {f["rule_id"] for f in payload["changes"]["new_findings"]}

        # Run 3: nothing changed. --quiet prints nothing, no webhook; the exit code still says CS404.
        assert main(["audit", "--config", str(config), "--quiet"]) == 1
        assert capsys.readouterr().out == ""
        assert len(hook.requests) == 2

    with HistoryStore(db, create=False) as store:
        assert [r.id for r in store.runs()] == [1, 2, 3]
        assert store.runs()[1].by_severity["error"] >= 1

    # camscan diff / history over what the audits recorded
    assert main(["diff", "--config", str(config), "1", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(m["old_address"], m["new_address"]) for m in doc["moves"]] == [("127.0.0.81", "127.0.0.83")]
    assert main(["diff", "--config", str(config)]) == 0
    assert "no changes" in capsys.readouterr().out
    assert main(["history", "--config", str(config)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_a_failed_webhook_fails_the_run_but_keeps_it(
    tmp_path: Path, site: tuple[pki.Issued, pki.Issued, pki.Issued], hook: Hook,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    ca, cam_a, _ = site
    hook.statuses = [500, 500]
    with serve_in_thread([(_spec(cam_a, ca), "127.0.0.81")]) as eps:
        config = _write_config(tmp_path, eps, hook=hook)
        assert main(["audit", "--config", str(config), "--quiet"]) == 3
    captured = capsys.readouterr()
    assert "camscan: notification failed: webhook http://127.0.0.71:" in captured.err
    assert "after 2 attempt(s): HTTP 500" in captured.err
    assert len(hook.requests) == 2
    with HistoryStore(tmp_path / "camscan-history.sqlite", create=False) as store:
        assert len(store.runs()) == 1  # recorded before notifying
    assert (tmp_path / "out" / "report.json").exists()  # and the reports are still written


def test_a_corrupt_history_stops_the_audit_before_scanning(
    tmp_path: Path, site: tuple[pki.Issued, pki.Issued, pki.Issued], capsys: pytest.CaptureFixture[str]
) -> None:
    ca, cam_a, _ = site
    db = tmp_path / "camscan-history.sqlite"
    db.write_bytes(b"\x00garbage" * 512)
    spec = _spec(cam_a, ca)
    with serve_in_thread([(spec, "127.0.0.81")]) as eps:
        config = _write_config(tmp_path, eps)
        assert main(["audit", "--config", str(config)]) == 3
    assert "history database" in capsys.readouterr().err
    assert spec.stats.accepted == 0  # nothing was scanned
    assert db.read_bytes() == b"\x00garbage" * 512
    assert not (tmp_path / "out" / "report.json").exists()


def test_cron_line_runs_the_audit(
    tmp_path: Path, site: tuple[pki.Issued, pki.Issued, pki.Issued], capsys: pytest.CaptureFixture[str]
) -> None:
    ca, cam_a, _ = site
    with serve_in_thread([(_spec(cam_a, ca), "127.0.0.81")]) as eps:
        config = _write_config(tmp_path, eps)
        log = tmp_path / "audit.log"
        assert main(["cron", "--config", str(config), "--schedule", "*/10 * * * *", "--log", str(log)]) == 0
        (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("*/10 ")]
        fields = line.split(" ", 5)
        assert fields[:5] == ["*/10", "*", "*", "*", "*"]
        command = fields[5]
        words = shlex.split(command)
        assert words[:3] == ["cd", "/", "&&"] and Path(words[3]).is_absolute()
        assert words[-3:] == [">>", str(log), "2>&1"]
        # What cron would do: hand the command to /bin/sh from a bare environment.
        for _ in range(2):
            subprocess.run(["/bin/sh", "-c", command], env={"PATH": "/usr/bin:/bin"}, timeout=120, check=True)
    text = log.read_text()
    assert text.startswith("changes from an empty history to run 1: 1 new endpoint")
    assert "run 2" not in text  # the second run changed nothing: --quiet kept the log clean
    with HistoryStore(tmp_path / "camscan-history.sqlite", create=False) as store:
        assert len(store.runs()) == 2


def test_audit_check_prints_the_resolved_config(
    tmp_path: Path, site: tuple[pki.Issued, pki.Issued, pki.Issued], capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(tmp_path, [("127.0.0.81", 443)])
    assert main(["audit", "--config", str(config), "--check"]) == 0
    out = capsys.readouterr().out
    assert f"history:  {tmp_path / 'camscan-history.sqlite'}" in out
    assert not (tmp_path / "camscan-history.sqlite").exists()  # --check touches nothing


def test_python_dash_m_entry_point_is_what_cron_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "camscan", "audit", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "--quiet" in proc.stdout


def test_no_notify_records_but_sends_nothing(
    tmp_path: Path, site: tuple[pki.Issued, pki.Issued, pki.Issued], hook: Hook,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    ca, cam_a, _ = site
    with serve_in_thread([(_spec(cam_a, ca), "127.0.0.81")]) as eps:
        config = _write_config(tmp_path, eps, hook=hook)
        assert main(["audit", "--config", str(config), "--no-notify"]) == 0
    assert "1 new endpoint" in capsys.readouterr().out
    assert hook.requests == []
    with HistoryStore(tmp_path / "camscan-history.sqlite", create=False) as store:
        assert len(store.runs()) == 1
