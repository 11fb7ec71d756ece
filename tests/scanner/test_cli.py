"""`camscan TARGET...` end to end through camscan.cli.main, and start-up hygiene in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from camscan import pki
from camscan.cli import COMMANDS, main
from camscan.reports.json_report import load_schema
from tests.support.tls_servers import ServerSpec, serve_in_thread

HOST = "127.45.0.2"
HOSTILE = "cam\x1b]0;pwned\x07"


@pytest.fixture(scope="module")
def servers() -> object:
    good = pki.make_leaf(pki.make_ca("camscan cli CA"), common_name="good-cam", ips=[HOST])
    weak = pki.make_leaf(None, common_name=HOSTILE, ips=["127.45.0.3"], key=pki.new_key("rsa-1024"))
    with serve_in_thread([
        (ServerSpec(chain=[good.cert], key=good.key), HOST),
        (ServerSpec(chain=[weak.cert], key=weak.key), "127.45.0.3"),
    ]) as addresses:
        yield addresses


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    # --offline: no AIA fetch may leave loopback (these certificates carry no AIA anyway).
    code = main([*args, "--offline"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_scan_table_and_json(servers: list[tuple[str, int]], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    (_, port), (_, weak_port) = servers
    report = tmp_path / "scan.json"
    code, out, _ = run_cli(
        ["127.45.0.0/29", "-p", f"{port},{weak_port}", "--json", str(report), "--no-legacy-probe",
         "--connect-timeout", "2", "--handshake-timeout", "2"],
        capsys,
    )
    assert code == 0
    assert "HTTPS endpoints (2)" in out
    assert "CN=good-cam" in out and f"IP:{HOST}" in out and "RSA 1024" in out
    assert "\x1b" not in out and "\x07" not in out  # the hostile CN was sanitized
    assert "\\x1b" in out
    assert "12 endpoints" in out  # 6 addresses x 2 ports
    document = json.loads(report.read_text())
    jsonschema.Draft202012Validator(load_schema()).validate(document)
    assert document["summary"]["observed"] == 2
    assert document["parameters"]["ports"] == sorted([port, weak_port])


def test_json_to_stdout_moves_the_table_away(servers: list[tuple[str, int]],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (_, port), _ = servers
    code, out, err = run_cli([f"{HOST}:{port}", "--json", "-", "--no-legacy-probe"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["endpoints"][0]["chain"][0]["common_names"] == ["good-cam"]
    assert "HTTPS endpoints (1)" in err


def test_quiet_prints_nothing(servers: list[tuple[str, int]], capsys: pytest.CaptureFixture[str]) -> None:
    (_, port), _ = servers
    code, out, err = run_cli([f"{HOST}:{port}", "-q", "--no-legacy-probe"], capsys)
    assert (code, out, err) == (0, "", "")


def test_fail_on_sets_the_exit_code(
    servers: list[tuple[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, (_, weak_port) = servers
    code, _, _ = run_cli([f"127.45.0.3:{weak_port}", "-q", "--no-legacy-probe", "--fail-on", "error"], capsys)
    assert code == 1  # RSA-1024 (CS101) is an error
    code, _, _ = run_cli([f"127.45.0.3:{weak_port}", "-q", "--no-legacy-probe"], capsys)
    assert code == 0


def test_exclude_on_the_command_line(servers: list[tuple[str, int]], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (_, port), _ = servers
    report = tmp_path / "r.json"
    code, _, _ = run_cli(["127.45.0.0/29", "-p", str(port), "--exclude", "127.45.0.1,127.45.0.4-127.45.0.6",
                          "--json", str(report), "-q", "--no-legacy-probe"], capsys)
    assert code == 0
    document = json.loads(report.read_text())
    assert [e["address"] for e in document["endpoints"]] == ["127.45.0.2", "127.45.0.3"]
    assert document["parameters"]["excluded"] == ["127.45.0.1", "127.45.0.4-127.45.0.6"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["127.0.0.0/33"], "malformed CIDR '127.0.0.0/33'"),
        (["127.0.0.1", "-p", "0"], "port 0 is out of range"),
        (["127.0.0.1", "-p", "70000"], "port 70000 is out of range"),
        (["@/nonexistent/targets.txt"], "cannot read target file '/nonexistent/targets.txt'"),
        (["127.0.0.0/8"], "--allow-large"),
        (["127.0.0.1", "--exclude", "127.0.0.0/99"], "malformed CIDR"),
        (["127.0.0.1", "--json", "/nonexistent/dir/r.json"], "does not exist"),
        (["127.0.0.1", "--json", "/tmp/"], "not a file name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("camscan: error: ") and message in lines[0]


def test_bad_numbers_are_refused_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["127.0.0.1", "--concurrency", "0"], ["127.0.0.1", "--rate", "-3"],
                 ["127.0.0.1", "--connect-timeout", "soon"]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        assert "error:" in capsys.readouterr().err


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60, check=False)


# Not on the help path: the scanner and lab (trio, scapy), the rules (cryptography), the reports
# (jinja2, rich), nor camscan's own model: `--help` builds argparse parsers and nothing else.
HELP_MUST_NOT_IMPORT = ("scapy", "trio", "jinja2", "cryptography", "rich", "camscan.model")


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in COMMANDS)],
                         ids=lambda argv: " ".join(argv))
def test_help_does_not_import_scapy(argv: list[str]) -> None:
    code = (
        "import sys\nfrom camscan.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.startswith({HELP_MUST_NOT_IMPORT!r}))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = _python("-X", "importtime", "-c", code)
    assert "usage: camscan" in result.stdout
    if argv in (["--help"], ["scan", "--help"]):
        assert "exit codes:" in result.stdout and "--ports" in result.stdout
    assert "HEAVY []" in result.stderr
    # -X importtime names every module imported, even one dropped from sys.modules again.
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:") and line.count("|") == 2}
    assert imported, result.stderr
    assert not {m for m in imported if m.startswith(HELP_MUST_NOT_IMPORT)}


def test_python_dash_m_and_version() -> None:
    result = _python("-m", "camscan", "--version")
    assert result.returncode == 0 and result.stdout.startswith("camscan ")
    help_text = _python("-m", "camscan", "--help").stdout
    for flag in ("--ports", "--exclude", "--allow-large", "--concurrency", "--per-host", "--rate",
                 "--connect-timeout", "--handshake-timeout", "--json", "--quiet", "--legacy-probe"):
        assert flag in help_text
    assert "exit codes:" in help_text


def test_progress_bar_only_on_a_terminal(servers: list[tuple[str, int]]) -> None:
    """stderr on a pseudo-terminal shows the bar; piped (the other tests) it stays silent."""
    import os
    import pty

    (_, port), _ = servers
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "camscan", "127.45.1.0/28", "-p", f"{port},1", "--offline",
             "--no-legacy-probe", "--connect-timeout", "2"],
            stdout=subprocess.PIPE, stderr=follower, text=True, timeout=60, check=False,
            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "scanning" in terminal and "28/28" in terminal
    assert "scanning" not in proc.stdout and "28 endpoints" in proc.stdout
