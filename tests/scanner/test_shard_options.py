"""--shard on the command line and `shard` in an audit config's [scan]: validated in one line
before anything is sent, recorded in the JSON report's parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from camscan import pki
from camscan.cli import main
from camscan.config import load_config
from camscan.errors import UsageError
from camscan.scanner.options import sweep_from_config
from camscan.scanner.shards import ShardedTargets
from tests.support.tls_servers import ServerSpec, serve_in_thread

HOSTS = ("127.48.0.1", "127.48.0.2", "127.48.0.3")


@pytest.mark.parametrize("shard", ["0/4", "5/4", "a/b", "1/0", "3"])
def test_a_bad_shard_is_one_line_and_exit_2(shard: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["127.48.0.0/30", "-p", "443", "--shard", shard]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"camscan: error: --shard {shard!r}: expected I/N with 1 <= I <= N (I counts from 1), "
        "e.g. 2/3 for the second of three shards\n"
    )


def _config(tmp_path: Path, shard: str) -> Path:
    path = tmp_path / "camscan.toml"
    path.write_text(f'[scan]\ntargets = ["127.48.0.0/28"]\nports = [443]\nshard = "{shard}"\n')
    return path


def test_the_audit_config_key(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, "2/3"))
    assert cfg.scan.shard == "2/3"
    targets, _, parameters = sweep_from_config(cfg.scan)
    assert isinstance(targets, ShardedTargets) and parameters.shard == "2/3"
    assert [e.address for e in targets] == [
        "127.48.0.2",
        "127.48.0.5",
        "127.48.0.8",
        "127.48.0.11",
        "127.48.0.14",
    ]
    with pytest.raises(UsageError, match=r"\[scan\] shard: '5/4': expected I/N with 1 <= I <= N"):
        load_config(_config(tmp_path, "5/4"))


def test_a_shard_scans_only_its_endpoints_and_the_report_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = pki.make_ca("camscan shard CA")
    specs = [(ServerSpec(chain=[(leaf := pki.make_leaf(ca, ips=[h])).cert], key=leaf.key), h) for h in HOSTS]
    with serve_in_thread(specs) as servers:
        # host:port targets (each server has its own port) are sharded like addresses.
        targets = [f"{host}:{port}" for host, port in servers]
        reports = []
        for index in (1, 2):
            report = tmp_path / f"shard{index}.json"
            argv = [
                *targets,
                "--shard",
                f"{index}/2",
                "--json",
                str(report),
                "-q",
                "--offline",
                "--no-legacy-probe",
                "--no-ws-discovery",
                "--no-http",
                "--connect-timeout",
                "2",
            ]
            assert main(argv) == 0
            reports.append(json.loads(report.read_text()))
    capsys.readouterr()
    assert [r["parameters"]["shard"] for r in reports] == ["1/2", "2/2"]
    assert [[e["address"] for e in r["endpoints"]] for r in reports] == [
        ["127.48.0.1", "127.48.0.3"],
        ["127.48.0.2"],
    ]
    assert all(e["status"] == "observed" for r in reports for e in r["endpoints"])
