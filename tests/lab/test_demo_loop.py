"""`camscan demo` runs the whole loop on the real built-in lab: scan, plan, apply through the
simulated devices' HTTP APIs with a site CA of its own, rescan; `--no-fix` stops after the scan."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import jsonschema

from camscan.reports.json_report import load_schema
from tests.support.lab_thread import random_block

CAMSCAN = [sys.executable, "-m", "camscan"]
LAB_PASSWORD = "camscan-lab"  # the simulated devices' documented password


def _demo(*args: str, fleet_dir: Path) -> subprocess.CompletedProcess[str]:
    """`camscan demo` on the built-in fleet moved to a random /24 of its own, so that demos and
    labs run at the same time on one machine (other test runs) do not compete for addresses."""
    text = resources.files("camscan.lab.fleets").joinpath("default.toml").read_text("utf-8")
    block = random_block(91)
    assert 'block = "127.77.0.0/16"' in text
    fleet = fleet_dir / "fleet.toml"
    fleet.write_text(text.replace('block = "127.77.0.0/16"', f'block = "{block}"'), encoding="utf-8")
    return subprocess.run(
        [*CAMSCAN, "demo", "--fleet", str(fleet), *args], capture_output=True, text=True, timeout=180
    )


def _rules(report: dict[str, object]) -> Counter[str]:
    endpoints = report["endpoints"]
    assert isinstance(endpoints, list)
    return Counter(f["rule_id"] for e in endpoints for f in e["findings"])


def test_demo_fixes_the_lab_and_rescans(tmp_path: Path) -> None:
    done = _demo("--out", str(tmp_path / "out"), fleet_dir=tmp_path)
    tmp_path = tmp_path / "out"
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout

    before = json.loads((tmp_path / "report.json").read_text())
    after = json.loads((tmp_path / "rescan.json").read_text())
    jsonschema.validate(before, load_schema())
    jsonschema.validate(after, load_schema())
    found_before, found_after = _rules(before), _rules(after)
    assert sum(found_before.values()) > 50
    # Every automatic fix took: what remains is legacy TLS, which no documented API call changes
    # (its plan is a manual step).
    assert found_after == Counter({"CS301": 1}), found_after
    assert after["summary"]["observed"] == before["summary"]["observed"] == 45

    # The summary's numbers are the reports' numbers.
    match = re.search(
        r"findings before: (\d+) on (\d+) answering endpoints; after: (\d+) on (\d+) answering endpoints", out
    )
    assert match, out
    assert [int(g) for g in match.groups()] == [sum(found_before.values()), 45, 1, 45]

    fix = json.loads((tmp_path / "fix.json").read_text())
    schema = json.loads(resources.files("camscan.schemas").joinpath("fix-v1.schema.json").read_text("utf-8"))
    jsonschema.validate(fix, schema)
    assert fix["applied"] is True
    statuses = Counter(d["outcome"]["status"] for d in fix["devices"])
    automatic = sum(1 for d in fix["devices"] if d["automatic"])
    assert statuses == Counter({"fixed": automatic, "skipped": len(fix["devices"]) - automatic}), statuses
    skipped = len(fix["devices"]) - automatic
    counts = f"{automatic} fixed, 0 improved, 0 not fixed, {skipped} skipped, 0 failed"
    assert counts in out, out

    # The plan, the outcomes and the summary are printed in the loop's order.
    assert out.index("scenario check") < out.index("fix plan (") < out.index("applying the automatic")
    assert out.index("applying the automatic") < out.index("camscan demo: scanned 45")

    # Re-issued devices now chain to the demo's own site CA, made in --out/site-ca.
    issuers = {e["chain"][0]["issuer"] for e in after["endpoints"] if e["status"] == "observed"}
    assert any("camscan demo site CA" in i for i in issuers), issuers
    assert (tmp_path / "site-ca" / "ca.key").stat().st_mode & 0o077 == 0

    # Every device action is in the audit log; the device password is nowhere.
    log = (tmp_path / "site-ca" / "audit.log").read_text()
    assert log.count('"action": "install"') + log.count('"action":"install"') >= 20, log[:500]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".key":
            assert LAB_PASSWORD.encode() not in path.read_bytes(), path


def test_demo_no_fix_stops_after_the_scan(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    done = _demo("--out", out, "--no-fix", "--size", "8", "--no-legacy-probe", fleet_dir=tmp_path)
    tmp_path = tmp_path / "out"
    assert done.returncode == 0, done.stderr
    assert "fix plan" not in done.stdout and "findings before" not in done.stdout
    assert re.search(r"scanned 8 simulated cameras in [\d.]+ s: \d+ findings", done.stdout), done.stdout
    assert (tmp_path / "report.json").exists()
    for absent in ("fix.json", "rescan.json", "site-ca"):
        assert not (tmp_path / absent).exists(), absent


def test_demo_refuses_an_out_where_its_site_ca_cannot_go(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "site-ca").write_text("not a directory")
    done = _demo("--out", str(out), "-q", fleet_dir=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    # One line naming the place (the site CA's own checks word it: "cannot create the CA there").
    assert done.stderr.startswith("camscan: error: ") and "site-ca" in done.stderr and "cannot" in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["site-ca"]  # nothing else written


def _skeleton(line: str) -> str:
    """A line of demo output with what changes between runs (numbers, times, paths) abstracted."""
    line = re.sub(r"/\S+", "PATH", line.rstrip())
    return re.sub(r"\d+(\.\d+)?", "N", line)


def test_readme_tour_quotes_what_demo_prints(tmp_path: Path) -> None:
    """The README's tour shows `camscan demo -q` output: the same lines, numbers aside."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ camscan demo -q --out /tmp/tour\n", 1)[1].split("```", 1)[0]
    done = _demo("-q", "--out", str(tmp_path / "out"), fleet_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [_skeleton(line) for line in block.splitlines()] == [
        _skeleton(line) for line in done.stdout.splitlines()
    ]
