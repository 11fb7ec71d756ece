"""Renewal in the scheduled audit: certificates from the configured issuer entering the renewal
window (the audit clock moved with --as-of) are renewed by `camscan audit` only with
[fix] renew = true, and the superseded certificate is revoked at the issuer (a real
`openssl ca -revoke`)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from camscan.cli import main
from camscan.lab import DeviceSpec
from camscan.remediate import inventory
from tests.remediate.issuer_lab import apply_with, write_issuers
from tests.remediate.test_apply_lab import (
    Run,
    make_run,  # noqa: F401  (the lab fixture)
)
from tests.remediate.test_issuer_command import issuers_file
from tests.support.openssl_ca import OpenSSLCA, openssl_ca

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def audit_config(
    tmp: Path, run: Run, ca: OpenSSLCA | Path, issuers: Path | None, *, renew: bool, name: str = "corp"
) -> Path:
    trust = ca.cert_path if isinstance(ca, OpenSSLCA) else ca
    where = f'file = "{issuers}"' if issuers else f'ca = "{run.ca.directory}"'
    ips = sorted(d.ip for d in run.lab.devices)
    config = tmp / "camscan.toml"
    config.write_text(
        f"""
[scan]
targets = {json.dumps(ips)}
ports = [{run.port}]
connect_timeout = 1.0
legacy_probe = false
ws_discovery = false

[trust]
mode = "site"
ca_bundles = ["{run.bundles["site"]}", "{trust}"]
offline = true

[thresholds]
fail_on = "none"

[history]
path = "{tmp / "history.sqlite"}"

[issuer]
name = "{name}"
{where}
renew_before_days = 30

[fix]
renew = {"true" if renew else "false"}
user = "admin"
state = "{tmp / "state"}"
"""
    )
    return config


def served(run: Run, name: str) -> x509.Certificate:
    import trio

    return trio.from_thread.run_sync(run.lab.device(name).served, trio_token=run.token).leaf


def test_the_audit_renews_what_the_issuer_issued_only_when_allowed_and_revokes_the_old_one(
    make_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    ca = openssl_ca(tmp_path / "openssl-ca")
    issuers = issuers_file(tmp_path, ca)
    run = make_run(
        DeviceSpec("axis", "expired", name="axis"),
        DeviceSpec("hikvision", "expired", name="hik"),
        DeviceSpec("dahua", "expired", name="untouched"),
    )
    # Two devices get certificates from the issuer (90 days: [issuer.corp] days); the third keeps
    # the lab's, which the renewal must leave alone.
    other = run.lab.device("untouched")
    run.lab.devices.remove(other)  # `camscan fix` targets the lab's devices: leave this one out
    try:
        assert apply_with(run, "corp", issuers) == 0
    finally:
        run.lab.devices.append(other)
    first = {name: served(run, name) for name in ("axis", "hik")}
    untouched = served(run, "untouched")
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=75)).strftime("%Y-%m-%dT%H:%M:%SZ")
    capsys.readouterr()

    # Inside the window, but [fix] renew = false: planned, nothing changes.
    config = audit_config(tmp_path, run, ca, issuers, renew=False)
    assert main(["audit", "--config", str(config), "--as-of", later, "--no-notify"]) == 0
    out = capsys.readouterr().out
    assert "renewal: 2 certificate(s) inside the renewal window, planned as renew" in out
    assert {n: served(run, n) for n in first} == first

    # Not yet inside the window (now): nothing planned.
    assert main(["audit", "--config", str(config), "--no-notify"]) == 0
    assert "no certificate from the issuer is inside its renewal window" in capsys.readouterr().out

    # With renew = true: both renewed, the old ones revoked at the CA; the other device untouched.
    config = audit_config(tmp_path, run, ca, issuers, renew=True)
    assert main(["audit", "--config", str(config), "--as-of", later, "--no-notify"]) == 0
    out = capsys.readouterr().out
    assert out.count("renewal: fixed") == 2, out
    for name, old in first.items():
        new = served(run, name)
        assert new.serial_number != old.serial_number
        assert new.issuer == ca.ca.cert.subject
        assert f"superseded {old.serial_number:x} revoked" in out
    assert served(run, "untouched") == untouched
    index = ca.index()
    revoked = {line.split("\t")[3] for line in index if line.startswith("R")}
    assert revoked == {f"{old.serial_number:X}" for old in first.values()}
    assert sum(1 for line in index if line.startswith("V")) == 2  # the two renewals
    log = [json.loads(line) for line in (tmp_path / "state" / "audit.log").read_text().splitlines()]
    assert [entry["result"] for entry in log if entry["action"] == "revoke"] == ["ok", "ok"]


def test_renew_true_needs_credentials_and_an_issuer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "camscan.toml"
    config.write_text('[scan]\ntargets = ["127.0.0.1"]\n\n[fix]\nrenew = true\nuser = "admin"\n')
    assert main(["audit", "--config", str(config), "--check"]) == 2
    assert "renewals need an [issuer] section" in capsys.readouterr().err


def renew_once(run: Run, config: Path, later: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["audit", "--config", str(config), "--as-of", later, "--no-notify"]) == 0
    return capsys.readouterr().out


def test_est_renewals_use_simplereenroll(
    make_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.support.est_server import est_server

    run = make_run(DeviceSpec("axis", "expired", name="cam"))
    with est_server("127.0.0.1") as server:
        (tmp_path / "pin.pem").write_bytes(server.tls_ca.cert_pem)
        (tmp_path / "est-root.pem").write_bytes(server.ca.cert_pem)
        monkeypatch.setenv("CAMSCAN_EST_PASSWORD", server.password)
        issuers = write_issuers(
            tmp_path,
            f"""[issuer.corp]
kind = "est"
url = "{server.url}"
server_ca = "{tmp_path / "pin.pem"}"
username = "{server.username}"
password_env = "CAMSCAN_EST_PASSWORD"
""",
        )
        assert apply_with(run, "corp", issuers) == 0
        old = served(run, "cam")
        config = audit_config(tmp_path, run, tmp_path / "est-root.pem", issuers, renew=True)
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=75)).strftime("%Y-%m-%dT%H:%M:%SZ")
        out = renew_once(run, config, later, capsys)
    assert "renewal: fixed" in out and "not revoked (est cannot)" in out, out
    assert served(run, "cam").serial_number != old.serial_number
    assert [r for r in server.requests if r.startswith("POST")] == [
        "POST /.well-known/est/simpleenroll",
        "POST /.well-known/est/simplereenroll",
    ]


def test_the_site_ca_renews_too_and_revokes_the_superseded_certificate_in_its_crl(
    make_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    run = make_run(DeviceSpec("hikvision", "expired", name="cam"))
    assert run.fix("--apply", "--yes", "--user", "admin") == 0
    old = served(run, "cam")
    config = audit_config(tmp_path, run, run.ca.cert_path, None, renew=True, name="local")
    # The site CA issues for 398 days: 380 days on, the certificate is inside the window.
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=380)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = renew_once(run, config, later, capsys)
    assert "renewal: fixed" in out and f"{old.serial_number:x} revoked" in out, out
    new = served(run, "cam")
    assert new.serial_number != old.serial_number and new.issuer == run.ca.certificate.subject
    # The inventory says so, and the CRL the site CA signed lists the old serial (superseded).
    records = {r.serial: r for r in inventory.list_issued(run.ca.directory)}
    assert records[f"{old.serial_number:x}"].reason == "superseded"
    crl = x509.load_der_x509_crl((run.ca.directory / "crl.der").read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(old.serial_number)
    assert entry is not None and crl.is_signature_valid(run.ca.certificate.public_key())
    assert crl.get_revoked_certificate_by_serial_number(new.serial_number) is None
