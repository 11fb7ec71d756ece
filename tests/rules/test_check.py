"""`camscan check`, `camscan rules`, `camscan explain` and the shared audit options, through the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from camscan import pki
from camscan.cli import main
from camscan.errors import UsageError
from camscan.reports.json_report import load_schema
from camscan.rules.options import parse_as_of

ROOT = pki.make_ca("Check Root")
INTER = pki.make_ca("Check Issuing CA", issuer=ROOT)
LEAF = pki.make_leaf(INTER, common_name="cam01", ips=["192.0.2.10"])  # example, never contacted


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CAMSCAN_P12_PASSWORD", raising=False)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "leaf.pem": LEAF.cert_pem,
        "leaf.der": LEAF.cert_der,
        "leaf.key": LEAF.key_pem,
        "inter.pem": INTER.cert_pem,
        "root.pem": ROOT.cert_pem,
        "fullchain.pem": LEAF.cert_pem + INTER.cert_pem,
        "other.key": pki.key_to_pem(pki.new_key()),
        "empty.pem": b"",
    }
    out = {}
    for name, data in paths.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    return out


SITE = ["--trust", "site", "--offline"]


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_good_pem_chain_and_key_pass(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", files["leaf.pem"], "--chain", files["inter.pem"], "--key",
                       files["leaf.key"], "--ip", "192.0.2.10", "--ca-bundle", files["root.pem"], *SITE)
    assert code == 0, out
    assert "chain        trusted" in out and "key          matches" in out and "verdict: PASS" in out


def test_der_leaf_alone_fails_with_missing_intermediate(files: dict[str, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", files["leaf.der"], "--ip", "192.0.2.10",
                       "--ca-bundle", files["root.pem"], *SITE)
    assert code == 1 and "CS201" in out and "verdict: FAIL" in out


def test_fullchain_file_and_wrong_ip_and_wrong_key(files: dict[str, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", files["fullchain.pem"], "--key", files["other.key"],
                       "--ip", "192.0.2.11", "--ca-bundle", files["root.pem"], *SITE)
    assert code == 1
    assert "CS105" in out and "CS501" in out and "DOES NOT match" in out and "CS201" not in out


def test_pkcs12_with_password_from_the_environment(files: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    p12 = tmp_path / "cam.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"cam", LEAF.key, LEAF.cert, [INTER.cert],  # type: ignore[arg-type]
        serialization.BestAvailableEncryption(b"s3cret")))
    args = ["check", p12, "--ip", "192.0.2.10", "--ca-bundle", files["root.pem"], *SITE]
    code, _, err = run(capsys, *args)  # no password: stdin is not a terminal under pytest
    assert code == 2 and "CAMSCAN_P12_PASSWORD" in err and "s3cret" not in err
    monkeypatch.setenv("CAMSCAN_P12_PASSWORD", "s3cret")
    code, out, _ = run(capsys, *args)
    assert code == 0, out
    assert "key          matches" in out  # the key inside the PKCS#12 file was checked
    assert "s3cret" not in out


def test_json_report_is_valid_against_the_schema(files: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "check.json"
    code, _, _ = run(capsys, "check", files["leaf.pem"], "--dns", "cam01.example.org", "--ca-bundle",
                     files["root.pem"], *SITE, "--json", report)
    assert code == 1
    document = json.loads(report.read_text())
    jsonschema.validate(document, load_schema())
    (endpoint,) = document["endpoints"]
    assert {f["rule_id"] for f in endpoint["findings"]} >= {"CS108", "CS201"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ip", "300.1.1.1"], "--ip '300.1.1.1'"),
        (["--dns", "192.0.2.1"], "use --ip"),
        (["--ip", "192.0.2.1", "--as-of", "next tuesday"], "--as-of 'next tuesday'"),
        (["--ip", "192.0.2.1", "--ca-bundle", "EMPTY"], "empty.pem: the file is empty"),
        (["--ip", "192.0.2.1", "--ca-bundle", "/nonexistent/ca.pem"], "cannot read"),
        (["--ip", "192.0.2.1", "--trust", "site"], "--trust site needs"),
        (["--ip", "192.0.2.1", "--key", "EMPTY"], "empty.pem: the file is empty"),
    ],
)
def test_bad_input_is_a_one_line_usage_error(files: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                             extra: list[str], message: str) -> None:
    argv = [str(files["empty.pem"]) if a == "EMPTY" else a for a in extra]
    code, _, err = run(capsys, "check", files["leaf.pem"], *argv)
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_a_file_that_is_not_a_certificate(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", files["leaf.key"], "--ip", "192.0.2.10")
    assert code == 2 and "leaf.key" in err


def test_hostile_subject_text_is_sanitized(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = pki.make_leaf(None, common_name="cam\x1b]0;pwned\x07", ips=["192.0.2.10"])
    path = tmp_path / "evil.pem"
    path.write_bytes(evil.cert_pem)
    code, out, _ = run(capsys, "check", path, "--ip", "192.0.2.10", "--offline")
    assert code == 1  # self-signed: untrusted root
    assert "\x1b" not in out and "\\x1b" in out


def test_rules_lists_every_rule_as_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    from camscan.rules.registry import all_rules, rules_for

    code, out, _ = run(capsys, "rules")
    assert code == 0
    for rule in rules_for("device"):
        assert rule.id in out
    code, out, _ = run(capsys, "rules", "--json")
    entries = json.loads(out)
    assert [e["id"] for e in entries] == [r.id for r in rules_for("device")]
    code, out, _ = run(capsys, "rules", "--profile", "webpki", "--json")
    assert [e["id"] for e in json.loads(out)] == [r.id for r in all_rules()]
    assert all(e["title"] and e["severity"] in {"error", "warning", "notice"} for e in entries)


def test_explain_prints_the_rule_doc_and_refuses_unknown_ids(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "cs105")
    assert code == 0 and out.startswith("CS105 [error]") and "## How to fix" in out
    code, _, err = run(capsys, "explain", "CS999")
    assert code == 2 and "no rule 'CS999'" in err


def test_parse_as_of() -> None:
    assert parse_as_of("2026-12-01") == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert parse_as_of("2026-12-01T08:00:00+02:00") == dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC)
    assert parse_as_of("2024-04-01T00:00:00.005Z") == dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_as_of("+30d", now=base) == dt.datetime(2026, 1, 31, tzinfo=dt.UTC)
    with pytest.raises(UsageError, match="'soon'"):
        parse_as_of("soon")


def test_expiry_warn_must_be_a_number(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(files["leaf.pem"]), "--ip", "192.0.2.10", "--expiry-warn", "soon"])
    assert exit_info.value.code == 2
    assert "'soon' is not a whole number" in capsys.readouterr().err
