"""`camscan check` behaviour found wrong in the README acceptance run.

- `--json -` wrote the text verdict and the JSON document to stdout together (no parser can read
  that); `--json` into a missing directory printed the whole verdict, then failed with exit 3.
- `--ca-bundle` and `--intermediates` take PKCS#7 as the README and the loader's own error message
  say, but --help said "PEM or DER" only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from camscan import pki
from camscan.cli import main

IP = "127.0.0.10"  # a check opens no socket (--offline); the address is only the name to match


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = pki.make_ca("check test root")
    issuing = pki.make_ca("check test issuing CA", issuer=root)
    leaf = pki.make_leaf(issuing, common_name="cam", ips=[IP])
    (tmp_path / "cam.pem").write_bytes(pki.pem_chain([leaf.cert]))
    der, pem = serialization.Encoding.DER, serialization.Encoding.PEM
    (tmp_path / "root.p7b").write_bytes(pkcs7.serialize_certificates([root.cert], der))
    (tmp_path / "ica.p7b").write_bytes(pkcs7.serialize_certificates([issuing.cert], pem))
    return tmp_path


def _check(site: Path, *extra: str) -> list[str]:
    return ["check", str(site / "cam.pem"), "--ip", IP, "--offline", "--trust", "site",
            "--ca-bundle", str(site / "root.p7b"), *extra]


def test_json_to_stdout_is_the_document_alone(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_check(site, "--json", "-")) == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert [f["rule_id"] for f in document["endpoints"][0]["findings"]] == ["CS201"]
    assert "verdict: FAIL" in captured.err and "verdict" not in captured.out


def test_json_into_a_missing_directory_is_refused_first(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_check(site, "--json", str(site / "missing" / "check.json"))) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"camscan: error: --json '{site / 'missing' / 'check.json'}': directory "
        f"'{site / 'missing'}' does not exist\n"
    )


def test_pkcs7_bundles_are_used_and_documented(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The DER PKCS#7 root is the only anchor; the leaf alone cannot reach it...
    assert main(_check(site, "--json", str(site / "alone.json"))) == 1
    alone = json.loads((site / "alone.json").read_text())["endpoints"][0]["findings"]
    assert [(f["rule_id"], f["evidence"]["found_in"]) for f in alone] == [("CS201", None)]
    # ...the PEM PKCS#7 intermediate completes the path to it (CS201 still says it was not sent).
    with_ica = _check(site, "--intermediates", str(site / "ica.p7b"), "--json", str(site / "with.json"))
    assert main(with_ica) == 1
    evidence = json.loads((site / "with.json").read_text())["endpoints"][0]["findings"][0]["evidence"]
    assert evidence["found_in"] == "intermediates-file"
    assert evidence["path"] == ["CN=cam", "CN=check test issuing CA", "CN=check test root"]
    capsys.readouterr()

    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "extra trust anchors, PEM, DER or PKCS#7" in help_text
    assert "do not send (PEM, DER or PKCS#7; repeatable)" in help_text
