"""The `acme` issuer against Pebble (RFC 8555 with IP identifiers and external account binding),
started by the test. Pebble validates http-01 for real by fetching the token from the device's
address: camscan answers there (the lab's devices live on loopback addresses this host holds).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from cryptography import x509

from camscan import pki
from camscan.cli import main
from camscan.lab import DeviceSpec
from camscan.remediate.issuers.base import Enrolment, check_issued
from camscan.remediate.issuers.config import build, read_file
from tests.remediate.issuer_lab import apply_with, assert_all_fixed_by, fleet, outcome, write_issuers
from tests.remediate.test_apply_lab import make_run  # noqa: F401  (the lab fixture)
from tests.support import pebble as pebble_server
from tests.support.tls_servers import unused_port

pytestmark = pytest.mark.skipif(not pebble_server.available(), reason="needs pebble (Debian package)")


@pytest.fixture
def pebble(tmp_path: Path) -> Iterator[pebble_server.Pebble]:
    with pebble_server.pebble(tmp_path / "pebble") as server:
        yield server


def acme_file(tmp: Path, server: pebble_server.Pebble, *, directory: str | None = None,
              http01_port: int | None = None, extra: str = "") -> Path:
    # A device whose API installs the leaf alone (Axis here) cannot send Pebble's intermediate,
    # so its clients must hold it (seed 002, CS201): the clients' trust is the root and the
    # intermediate, as for a site whose ACME CA issues from an intermediate.
    (tmp / "acme-trust.pem").write_bytes(server.roots.read_bytes() + server.intermediates.read_bytes())
    return write_issuers(
        tmp,
        f"""
[issuer.corp-acme]
kind = "acme"
directory = "{directory or server.directory}"
server_ca = "{server.server_ca}"
eab_kid = "{pebble_server.EAB_KID}"
eab_hmac_env = "CAMSCAN_ACME_EAB_HMAC"
email = "pki@example.net"
http01_port = {http01_port or server.http_port}
timeout = 20
roots = "acme-trust.pem"
{extra}
""",
    )


def test_acme_issues_for_expired_and_stale_devices_and_the_rescan_is_clean(
    make_run: Any, pebble: pebble_server.Pebble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("CAMSCAN_ACME_EAB_HMAC", pebble_server.EAB_HMAC)
    run = make_run(*fleet())
    path = acme_file(tmp_path, pebble)
    assert apply_with(run, "corp-acme", path) == 0
    intermediate = x509.load_pem_x509_certificate(pebble.intermediates.read_bytes())
    assert_all_fixed_by(run, intermediate.subject.rfc4514_string())
    # Pebble validated http-01 against every device's own address.
    log = pebble.log.read_text()
    for device in run.lab.devices:
        assert f"http://{device.ip}:{pebble.http_port}/.well-known/acme-challenge/" in log, device.ip
    # The account key was made once, 0600, beside the issuer file.
    key = tmp_path / "acme-corp-acme-account.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_issuer_test_registers_the_account_with_eab(
    pebble: pebble_server.Pebble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = acme_file(tmp_path, pebble)
    monkeypatch.setenv("CAMSCAN_ACME_EAB_HMAC", pebble_server.EAB_HMAC)
    assert main(["issuer", "test", "corp-acme", "--issuers", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok: acme:" in out and "server pinned" in out and "/my-account/" in out
    wrong = "A" * 64
    monkeypatch.setenv("CAMSCAN_ACME_EAB_HMAC", wrong)
    (tmp_path / "acme-corp-acme-account.key").unlink()  # a new account: the binding is checked
    assert main(["issuer", "test", "corp-acme", "--issuers", str(path)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("corp-acme: FAILED: issuer auth:") and wrong not in err, err


@pytest.mark.parametrize("case", ["unreachable", "validation", "auth"])
def test_a_failed_order_leaves_the_device_serving_its_certificate(
    make_run: Any, pebble: pebble_server.Pebble, tmp_path: Path, case: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:
    hmac = "B" * 64 if case == "auth" else pebble_server.EAB_HMAC
    monkeypatch.setenv("CAMSCAN_ACME_EAB_HMAC", hmac)
    run = make_run(DeviceSpec("axis", "expired", name="cam"))
    device = run.lab.device("cam")
    before = run.fingerprint(device)
    if case == "unreachable":
        path = acme_file(tmp_path, pebble, directory=f"https://127.0.0.1:{unused_port()}/dir")
        kind, words = "issuer unreachable:", "cannot reach"
    elif case == "validation":
        # camscan answers on a port the ACME server does not look at: validation fails.
        path = acme_file(tmp_path, pebble, http01_port=unused_port(device.ip))
        kind, words = "issuer refused:", "validation failed"
    else:
        path = acme_file(tmp_path, pebble)
        kind, words = "issuer auth:", "external account binding"
    assert apply_with(run, "corp-acme", path) == 1
    entry = outcome(run, "cam")["outcome"]
    assert entry["status"] == "failed"
    assert kind in entry["reason"] and words in entry["reason"], entry["reason"]
    assert "device unchanged" in entry["reason"]
    assert run.fingerprint(device) == before
    captured = capfd.readouterr()
    assert hmac not in captured.out + captured.err + (run.ca.directory / "audit.log").read_text()


def test_an_issued_certificate_is_revoked_at_the_acme_server(
    pebble: pebble_server.Pebble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMSCAN_ACME_EAB_HMAC", pebble_server.EAB_HMAC)
    issuer = build("corp-acme", read_file(acme_file(tmp_path, pebble)), ca_dir=None)
    address = "127.0.0.1"  # the challenge is answered here, on Pebble's http-01 port
    key = pki.new_key("ec-p256")
    enrolment = Enrolment(pki.make_csr(key, common_name=address, ips=[address]), (address,), (), 90)

    async def issue_and_revoke() -> x509.Certificate:
        chain = await issuer.issue(enrolment)
        check_issued(chain, enrolment, issuer.name)
        await issuer.revoke(chain[0], "superseded")
        return chain[0]

    cert = trio.run(issue_and_revoke)
    context = ssl.create_default_context(cafile=str(pebble.server_ca))
    with httpx.Client(verify=context, timeout=10) as client:
        status = client.get(f"{pebble.management}/cert-status-by-serial/{cert.serial_number:x}").json()
    assert status["Status"] == "Revoked", status
    assert status.get("Reason") == 4, status  # superseded (RFC 5280 5.3.1)


def test_the_audit_renews_through_acme_and_revokes_the_superseded_certificate(
    make_run: Any, pebble: pebble_server.Pebble, tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    import datetime as dt

    from tests.remediate.test_renewal_audit import audit_config, renew_once, served

    monkeypatch.setenv("CAMSCAN_ACME_EAB_HMAC", pebble_server.EAB_HMAC)
    run = make_run(DeviceSpec("dahua", "expired", name="cam"))
    issuers = acme_file(tmp_path, pebble)
    assert apply_with(run, "corp-acme", issuers) == 0
    old = served(run, "cam")
    config = audit_config(tmp_path, run, tmp_path / "acme-trust.pem", issuers, renew=True, name="corp-acme")
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=75)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = renew_once(run, config, later, capsys)
    assert f"superseded {old.serial_number:x} revoked" in out, out
    assert served(run, "cam").serial_number != old.serial_number
    context = ssl.create_default_context(cafile=str(pebble.server_ca))
    with httpx.Client(verify=context, timeout=10) as client:
        status = client.get(f"{pebble.management}/cert-status-by-serial/{old.serial_number:x}").json()
    assert status["Status"] == "Revoked" and status.get("Reason") == 4, status
