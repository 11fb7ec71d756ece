"""The `est` issuer against an RFC 7030 server started by the test (TLS on loopback): the lab's
expired and stale devices enrolled through it, and each way an EST enrolment can fail leaving
the device serving the certificate it served."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camscan import pki
from camscan.cli import main
from camscan.lab import DeviceSpec
from tests.remediate.issuer_lab import apply_with, assert_all_fixed_by, fleet, outcome, write_issuers
from tests.remediate.test_apply_lab import PASSWORD as DEVICE_PASSWORD
from tests.remediate.test_apply_lab import make_run  # noqa: F401  (the lab fixture)
from tests.support.est_server import ESTServer, est_server
from tests.support.tls_servers import unused_port

EST_PASSWORD = "Est-Pw-51b2"


@pytest.fixture
def est(tmp_path: Path) -> Iterator[Any]:
    """Start an EST server on 127.0.0.1 with the given options; its issuer file beside it."""
    servers: list[Any] = []

    def start(**options: object) -> tuple[ESTServer, Path]:
        manager = est_server("127.0.0.1", **options)
        server = manager.__enter__()
        servers.append(manager)
        (tmp_path / "est-server-ca.pem").write_bytes(server.tls_ca.cert_pem)
        return server, tmp_path / "est-server-ca.pem"

    yield start
    for manager in reversed(servers):
        manager.__exit__(None, None, None)


def est_file(tmp: Path, url: str, server_ca: Path, extra: str = "") -> Path:
    return write_issuers(
        tmp,
        f"""
[issuer.corp-est]
kind = "est"
url = "{url}"
server_ca = "{server_ca}"
username = "camscan"
password_env = "CAMSCAN_EST_PASSWORD"
max_wait = 3
{extra}
""",
    )


def test_est_enrols_expired_and_stale_devices_and_the_rescan_is_clean(
    make_run: Any, est: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("CAMSCAN_EST_PASSWORD", EST_PASSWORD)
    server, pin = est(mode="pending-once", label="cameras")
    run = make_run(*fleet())
    path = est_file(tmp_path, server.url, pin, 'label = "cameras"')
    assert apply_with(run, "corp-est", path) == 0
    assert_all_fixed_by(run, server.ca.cert.subject.rfc4514_string())
    assert len(server.issued) == len(run.lab.devices)
    # Each device was answered 202 once and enrolled on the retry (Retry-After honoured).
    enrols = [r for r in server.requests if r.endswith("/cameras/simpleenroll")]
    assert len(enrols) == 2 * len(run.lab.devices)
    # An EST CA certifies what the CSR asks: every device here asks for its own names (Axis in
    # its REST call, the others through ONVIF's subjectAltName CSR attribute), so every key
    # was made on the device and none was uploaded.
    actions = {d.name: outcome(run, d.name)["outcome"]["actions"] for d in run.lab.devices}
    assert set(map(tuple, actions.values())) == {("reissue (on-device key + CSR)",)}, actions
    assert not any(line["result"] == "no-names" for line in run.audit_log())


def test_est_with_a_client_certificate_instead_of_a_password(
    make_run: Any, est: Any, tmp_path: Path  # noqa: F811
) -> None:
    client_ca = pki.make_ca("camscan client CA")
    client = pki.make_leaf(client_ca, common_name="camscan", server_auth=False)
    (tmp_path / "client.pem").write_bytes(client.cert_pem)
    key = tmp_path / "client.key"
    key.write_bytes(client.key_pem)
    key.chmod(0o600)
    server, pin = est(client_ca=client_ca)
    run = make_run(DeviceSpec("axis", "expired", name="cam"))
    path = write_issuers(
        tmp_path,
        f"""
[issuer.corp-est]
kind = "est"
url = "{server.url}"
server_ca = "{pin}"
client_cert = "client.pem"
client_key = "client.key"
""",
    )
    assert apply_with(run, "corp-est", path) == 0
    assert_all_fixed_by(run, server.ca.cert.subject.rfc4514_string())


CASES = {
    "refused": ({"mode": "refuse"}, "issuer refused:", "HTTP 400: certificate request rejected by CA policy"),
    "pending": ({"mode": "pending"}, "issuer pending:", "still pending after 3 s"),
    "auth": ({"password": "another-password"}, "issuer auth:", "refused the credentials (HTTP 401)"),
}


@pytest.mark.parametrize("case", [*CASES, "unreachable", "trust"])
def test_a_failed_enrolment_leaves_the_device_serving_its_certificate(
    make_run: Any, est: Any, tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CAMSCAN_EST_PASSWORD", EST_PASSWORD)
    options, kind, words = CASES.get(case, ({}, "", ""))
    server, pin = est(**options)
    url = server.url
    if case == "unreachable":
        url = f"https://127.0.0.1:{unused_port()}/.well-known/est"
        kind, words = "issuer unreachable:", "cannot connect"
    if case == "trust":
        other = pki.make_ca("not the EST server's CA")
        pin = tmp_path / "other-ca.pem"
        pin.write_bytes(other.cert_pem)
        kind, words = "issuer trust:", "does not chain to server_ca"
    run = make_run(DeviceSpec("axis", "expired", name="cam"))
    device = run.lab.device("cam")
    before = run.fingerprint(device)
    # The trust anchors come from the issuer file (not /cacerts) so the failure is the enrolment's.
    (tmp_path / "roots.pem").write_bytes(server.ca.cert_pem)
    assert apply_with(run, "corp-est", est_file(tmp_path, url, pin, 'roots = "roots.pem"')) == 1
    entry = outcome(run, "cam")["outcome"]
    assert entry["status"] == "failed"
    assert kind in entry["reason"] and words in entry["reason"], entry["reason"]
    assert "device unchanged" in entry["reason"]
    assert run.fingerprint(device) == before
    assert server.issued == []
    captured = capfd.readouterr()
    texts = [captured.out, captured.err, (run.ca.directory / "audit.log").read_text(),
             (run.tmp / "fix.json").read_text()]
    for secret in (EST_PASSWORD, "another-password", DEVICE_PASSWORD):
        assert not any(secret in text for text in texts)
    assert base64.b64encode(f"camscan:{EST_PASSWORD}".encode()).decode() not in "".join(texts)


def test_issuer_test_checks_the_pin_and_the_credentials(
    est: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server, pin = est()
    path = est_file(tmp_path, server.url, pin)
    monkeypatch.setenv("CAMSCAN_EST_PASSWORD", EST_PASSWORD)
    assert main(["issuer", "test", "corp-est", "--issuers", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok: est:" in out and "EST test issuing CA" in out and "credentials accepted" in out
    assert server.issued == []  # nothing was enrolled by the test
    monkeypatch.setenv("CAMSCAN_EST_PASSWORD", "wrong-" + EST_PASSWORD)
    assert main(["issuer", "test", "corp-est", "--issuers", str(path)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("corp-est: FAILED: issuer auth:") and EST_PASSWORD not in err
    monkeypatch.delenv("CAMSCAN_EST_PASSWORD")
    assert main(["issuer", "test", "corp-est", "--issuers", str(path)]) == 2
    assert "CAMSCAN_EST_PASSWORD is not set" in capsys.readouterr().err


def test_a_password_in_the_issuer_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_issuers(
        tmp_path, '[issuer.x]\nkind = "est"\nurl = "https://127.0.0.1/"\npassword = "hunter2"\n'
    )
    assert main(["issuer", "test", "x", "--issuers", str(path)]) == 2
    err = capsys.readouterr().err
    assert "does not belong in the issuer file" in err and "hunter2" not in err
    assert os.environ.get("CAMSCAN_EST_PASSWORD") is None


def test_bad_issuer_files_get_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        '[issuer."../x"]\nkind = "command"\ncommand = "true"\n': "an issuer name is letters",
        '[issuer.x]\nkind = "scep"\n': "kind must be one of local, command, est, acme",
        '[issuer.x]\nkind = "command"\ncommand = "ca {csr} {nope}"\n': "unknown placeholder in '{nope}'",
        '[issuer.x]\nkind = "est"\nurl = "https://127.0.0.1/"\nserver_ca = "ca.pem"\n': "set username",
        '[issuer.x]\nkind = "command"\ncomand = "true"\n': "unknown key(s) comand",
        "[issuer.x\n": "not valid TOML",
    }
    for text, words in cases.items():
        path = write_issuers(tmp_path, text)
        assert main(["issuer", "test", "x", "--issuers", str(path)]) == 2, text
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, (text, err)


def test_another_issuer_needs_no_site_ca_only_a_state_directory(
    make_run: Any, est: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CAMSCAN_EST_PASSWORD", EST_PASSWORD)
    server, pin = est()
    run = make_run(DeviceSpec("dahua", "expired", name="cam"))
    args = run.args("--apply", "--yes", "--user", "admin", "--issuer", "corp-est",
                    "--issuers", str(est_file(tmp_path, server.url, pin)))
    at = args.index("--ca")
    del args[at : at + 2]  # no site CA at all
    assert main(args) == 2
    assert "needs --state DIR" in capsys.readouterr().err
    state = tmp_path / "state"
    assert main([*args, "--state", str(state)]) == 0
    assert run.outcomes()[run.lab.device("cam").ip]["outcome"]["status"] == "fixed"
    assert (state / "audit.log").stat().st_mode & 0o777 == 0o600
    assert (state / "issuer-corp-est-roots.pem").read_bytes() == server.ca.cert_pem  # from /cacerts
    assert list((state / "backups").iterdir())  # the replaced certificate, kept
