"""Audit config loading: the shipped example loads; every kind of mistake names its key and file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from camscan.cli import main
from camscan.config import load_config
from camscan.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "camscan.toml"
EMAIL = '[scan]\ntargets = ["127.0.0.1"]\n[notify.email]\nhost = "127.0.0.1"\nfrom = "a@b"\nto = ["c@d"]\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "camscan.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_the_shipped_example_loads() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.scan.targets[0] == "192.0.2.0/24"  # example, never contacted
    assert cfg.scan.ports == "cameras" and cfg.scan.exclude == ("192.0.2.1",)  # example, never contacted
    assert cfg.history_path == EXAMPLE.parent / "camscan-history.sqlite"
    assert cfg.lock_path == EXAMPLE.parent / "camscan-history.sqlite.lock"
    assert cfg.outputs["json"] == EXAMPLE.parent / "camscan-report.json"
    assert cfg.thresholds.fail_on == "error" and cfg.thresholds.expiry_warn_days == 30
    assert cfg.webhook is not None and cfg.webhook.retries == 3
    assert (
        cfg.email is not None
        and cfg.email.starttls
        and cfg.email.to
        == (
            "security@example.net",
            "video-team@example.net",
        )
    )
    assert cfg.email.password_file == Path("/etc/camscan/smtp-password")


def test_example_check_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--config", str(EXAMPLE), "--check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"config {EXAMPLE}: ok") and "notify:   webhook, e-mail" in out


def test_minimal_config_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "hosts.txt").write_text("127.0.0.5\n")
    (tmp_path / "out").mkdir()
    cfg = load_config(
        _write(
            tmp_path,
            """
            [scan]
            targets = ["127.0.0.1", "@hosts.txt"]
            ports = [443, 8443]
            [outputs]
            html = "out/report.html"
            json = "-"
            """,
        )
    )
    assert cfg.scan.targets == ("127.0.0.1", f"@{tmp_path / 'hosts.txt'}")
    assert cfg.scan.ports == "443,8443"
    assert cfg.outputs == {"html": tmp_path / "out" / "report.html", "json": "-"}
    assert cfg.history_path == tmp_path / "camscan-history.sqlite"
    assert cfg.webhook is None and cfg.email is None
    assert cfg.reports_argv() == ["--html", str(tmp_path / "out" / "report.html")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[scan]\ntargets = ["127.0.0.1"]\ntragets = []\n',
            "[scan] tragets: unknown key (did you mean 'targets'?)",
        ),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[outptus]\nhtml = "x"\n',
            "outptus: unknown key (did you mean 'outputs'?)",
        ),
        (
            '[scan]\ntargets = "127.0.0.1"\nconcurrency = "many"\n',
            "[scan] concurrency: expected an integer, got a string 'many'",
        ),
        ('[scan]\ntargets = ["127.0.0.1"]\nper_host = 0\n', "[scan] per_host: 0 is out of range"),
        (
            '[scan]\ntargets = ["127.0.0.1"]\nconnect_timeout = -1\n',
            "[scan] connect_timeout: -1 must be greater than 0",
        ),
        (
            '[scan]\ntargets = ["127.0.0.1"]\nlegacy_probe = "yes"\n',
            "[scan] legacy_probe: expected true or false",
        ),
        ("[scan]\ntargets = []\n", "[scan] targets: must not be empty"),
        ('[scan]\nports = "443"\n', "[scan] targets: missing (required)"),
        ('[trust]\nmode = "site"\n', "[scan]: missing"),
        ('[scan]\ntargets = ["127.0.0.1/33"]\n', "[scan] targets: "),
        ('[scan]\ntargets = ["127.0.0.1"]\nports = "http"\n', "[scan] ports: "),
        ('[scan]\ntargets = ["127.0.0.1"]\nports = [443, "8443"]\n', "[scan] ports: expected a port spec"),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[thresholds]\nfail_on = "critical"\n',
            "[thresholds] fail_on: 'critical' is not one of",
        ),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[thresholds]\nexpiry_warn_days = 1.5\n',
            "[thresholds] expiry_warn_days: expected an integer",
        ),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[trust]\nmode = "everyone"\n',
            "[trust] mode: 'everyone' is not one of public, site",
        ),
        ('[scan]\ntargets = ["127.0.0.1"]\n[trust]\nca_bundles = ["nope.pem"]\n', "[trust] ca_bundles: "),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[outputs]\nhtml = "missing-dir/r.html"\n',
            "[outputs] html: directory",
        ),
        ('[scan]\ntargets = ["127.0.0.1"]\n[outputs]\nhtml = "-"\n', "[outputs] html: only json and jsonl"),
        ('[scan]\ntargets = ["127.0.0.1"]\n[outputs]\npdf = "r.pdf"\n', "[outputs] pdf: unknown key"),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[outputs]\njson = "-"\njsonl = "-"\n',
            "[outputs] jsonl: only one output",
        ),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[history]\npath = "no/such/dir/h.sqlite"\n',
            "[history] path: directory",
        ),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[notify.webhook]\nurl = "ftp://x"\n',
            "[notify.webhook] url: 'ftp://x' is not an http",
        ),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[notify.webhook]\nretries = 2\n',
            "[notify.webhook] url: missing (required)",
        ),
        ('[scan]\ntargets = ["127.0.0.1"]\n[notify.sms]\nto = "x"\n', "[notify] sms: unknown key"),
        (
            EMAIL + 'password = "hunter2"\n',
            "[notify.email] password: passwords do not belong in the config file",
        ),
        (
            EMAIL + 'password_env = "X"\n',
            "[notify.email] username: missing (a password needs a username)",
        ),
        (
            '[scan]\ntargets = ["127.0.0.1"]\n[notify.email]\nhost = "127.0.0.1"\n'
            'from = "a@b"\nto = ["nobody"]\n',
            "[notify.email] to: 'nobody' is not an e-mail address",
        ),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    message = _error(tmp_path, text)
    assert expected in message
    assert "hunter2" not in message


def test_bad_target_names_the_value(tmp_path: Path) -> None:
    message = _error(tmp_path, '[scan]\ntargets = ["127.0.0.1", "127.0.0.300"]\n')
    assert "[scan] targets:" in message and "127.0.0.300" in message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    assert "invalid TOML" in _error(tmp_path, "[scan\ntargets = 1\n")
    with pytest.raises(UsageError, match="cannot read config"):
        load_config(tmp_path / "absent.toml")


def test_bad_config_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, '[scan]\ntargets = ["127.0.0.1"]\nconcurency = 5\n')
    assert main(["audit", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"camscan: error: {path}: [scan] concurency: unknown key (did you mean 'concurrency'?)\n"
    assert main(["cron", "--config", str(path)]) == 2


def test_smtp_password_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    base = EMAIL + 'username = "u"\n'
    from_file = load_config(_write(tmp_path, base + 'password_file = "smtp-password"\n'))
    assert from_file.email is not None and from_file.email.password() == "s3cret"
    from_env = load_config(_write(tmp_path, base + 'password_env = "CAMSCAN_TEST_SMTP"\n'))
    assert from_env.email is not None
    monkeypatch.delenv("CAMSCAN_TEST_SMTP", raising=False)
    with pytest.raises(UsageError, match="CAMSCAN_TEST_SMTP is not set"):
        from_env.email.password()
    monkeypatch.setenv("CAMSCAN_TEST_SMTP", "from-env")
    assert from_env.email.password() == "from-env"


def test_thresholds_profile_selects_the_rule_profile(tmp_path: Path) -> None:
    path = _write(tmp_path, '[scan]\ntargets = ["127.0.0.1"]\n\n[thresholds]\nprofile = "webpki"\n')
    assert load_config(path).rules_argv()[-2:] == ["--profile", "webpki"]
    assert "'strict' is not one of device, webpki" in _error(
        tmp_path, '[scan]\ntargets = ["127.0.0.1"]\n\n[thresholds]\nprofile = "strict"\n')
