"""Every `camscan ca` action with hostile arguments: one line on stderr, exit 2, no traceback,
and nothing written (no file, no inventory record, no CA)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from camscan.cli import main
from camscan.remediate import inventory
from camscan.remediate.ca import LocalCA

PASSPHRASE = "robustness test passphrase"

CASES: dict[str, list[str]] = {
    "issue-bad-ip": ["issue", "--ca", "{ca}", "--ip", "notanip", "--out", "{tmp}/a"],
    "sign-bad-ip": ["sign", "--ca", "{ca}", "{csr}", "--ip", "notanip", "--out", "{tmp}/a"],
    "issue-unicode-dns": ["issue", "--ca", "{ca}", "--dns", "ü.example", "--out", "{tmp}/a"],
    "issue-empty-dns": ["issue", "--ca", "{ca}", "--dns", "", "--out", "{tmp}/a"],
    "issue-bad-dns": ["issue", "--ca", "{ca}", "--dns", "bad name!", "--out", "{tmp}/a"],
    "issue-no-names": ["issue", "--ca", "{ca}", "--out", "{tmp}/a"],
    "issue-negative-days": ["issue", "--ca", "{ca}", "--ip", "127.0.0.7", "--days", "-5", "--out", "{tmp}/a"],
    "issue-huge-days": ["issue", "--ca", "{ca}", "--ip", "127.0.0.7", "--days", "10" * 12, "--force-days",
                        "--out", "{tmp}/a"],
    "issue-missing-dir": ["issue", "--ca", "{ca}", "--ip", "127.0.0.7", "--out", "{tmp}/no/a"],
    "issue-unwritable-dir": ["issue", "--ca", "{ca}", "--ip", "127.0.0.7", "--out", "/proc/camscan-a"],
    "issue-no-ca": ["issue", "--ca", "{tmp}/nothing", "--ip", "127.0.0.7", "--out", "{tmp}/a"],
    "sign-unreadable-csr": ["sign", "--ca", "{ca}", "{tmp}", "--ip", "127.0.0.7", "--out", "{tmp}/a"],
    "sign-not-a-csr": ["sign", "--ca", "{ca}", "{ca}/ca.pem", "--ip", "127.0.0.7", "--out", "{tmp}/a"],
    "csr-empty-dns": ["csr", "--dns", "", "--out", "{tmp}/a"],
    "init-bad-permit-dns": ["init", "--dir", "{tmp}/new", "--permit-dns", "ü.example"],
    "init-bad-permit-ip": ["init", "--dir", "{tmp}/new", "--permit-ip", "10.0.0.1/8"],  # not contacted
    "init-bad-crl-url": ["init", "--dir", "{tmp}/new", "--crl-url", "http://ü.example/x"],
    "init-empty-name": ["init", "--dir", "{tmp}/new", "--name", ""],
    "init-unwritable": ["init", "--dir", "/proc/camscan-ca"],
    "init-existing": ["init", "--dir", "{ca}"],
    "init-root-is-dir": ["init", "--dir", "{tmp}/new", "--two-level", "--root-dir", "{tmp}/new"],
    "revoke-bad-serial": ["revoke", "--ca", "{ca}", "zz"],
    "revoke-unknown-serial": ["revoke", "--ca", "{ca}", "abcdef"],
    "revoke-bad-reason": ["revoke", "--ca", "{ca}", "abcdef", "--reason", "bored"],
    "crl-zero-days": ["crl", "--ca", "{ca}", "--days", "0"],
    "crl-huge-days": ["crl", "--ca", "{ca}", "--days", "9" * 20],
    "list-no-ca": ["list", "--ca", "{tmp}/nothing"],
    "encrypt-already": ["encrypt-key", "--ca", "{ca}"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_arguments_are_one_line_exit_2_and_write_nothing(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO())
    monkeypatch.setenv("CAMSCAN_CA_PASSPHRASE", PASSPHRASE)
    ca = LocalCA.init(tmp_path / "ca", passphrase=PASSPHRASE.encode())
    csr = tmp_path / "absent.csr"  # the sign cases fail on the names before reading it
    def files() -> list[Path]:  # the inventory's lock file is the one thing a refusal may leave
        return sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.name != ".inventory.lock")

    before = files()
    argv = ["ca", *(a.format(ca=ca.directory, tmp=tmp_path, csr=csr) for a in CASES[name])]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("camscan: error: ")
    assert files() == before
    assert inventory.list_issued(ca.directory) == []
