"""`[report] plan = true`: validated like every config key; the audit adds the fix plan to its HTML
report, its summary and its notifications (the webhook JSON carries the count), over the real
lab; and it never applies anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
from cryptography.hazmat.primitives import hashes

from camscan.cli import main
from camscan.config import WebhookConfig, parse_config
from camscan.errors import UsageError
from camscan.lab import DeviceSpec, Fleet, LabSettings
from camscan.reports.notify import Notification, send_webhook
from tests.audit.conftest import Hook
from tests.audit.test_notify import _note
from tests.support.lab_thread import lab_audit_config, lab_in_thread, random_block
from tests.support.tls_servers import unused_port

BLOCK = random_block(99)
_NET = BLOCK.rsplit(".", 1)[0]
FIRST, LAST = f"{_NET}.1", f"{_NET}.20"


def _config(tmp_path: Path, report: dict[str, object]) -> object:
    return parse_config({"scan": {"targets": ["127.0.0.1"]}, "report": report}, tmp_path / "c.toml")


def test_report_section_is_validated(tmp_path: Path) -> None:
    assert not _config(tmp_path, {}).report.plan  # type: ignore[attr-defined]
    (tmp_path / "ca").mkdir()
    cfg = _config(tmp_path, {"plan": True, "ca": "ca"})
    assert cfg.report.plan and cfg.report.ca == (tmp_path / "ca").resolve()  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match=r"\[report\] plna: unknown key \(did you mean 'plan'\?\)"):
        _config(tmp_path, {"plna": True})
    with pytest.raises(UsageError, match=r"\[report\] plan: expected true or false"):
        _config(tmp_path, {"plan": "yes"})
    with pytest.raises(UsageError, match=r"\[report\] ca: .*not a directory"):
        _config(tmp_path, {"plan": True, "ca": "missing"})


async def test_webhook_and_email_body_carry_the_plan_count(tmp_path: Path, hook: Hook) -> None:
    base = _note(tmp_path)
    note = Notification(base.run, base.diff, plan={"devices": 3, "automatic": 2})
    config = WebhookConfig(url=hook.url, timeout=5, retries=1, backoff=0.05)
    with trio.fail_after(30):
        assert await send_webhook(config, note) == 1
    (request,) = hook.requests
    assert json.loads(request["body"])["plan"] == {"devices": 3, "automatic": 2}
    assert "Fix plan: 3 devices to fix, 2 with steps `camscan fix --apply` can carry out" in note.body()
    assert "plan" not in base.payload() and "Fix plan" not in base.body()


def test_audit_with_plan_reports_it_and_changes_no_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hook: Hook
) -> None:
    port = unused_port(FIRST)
    fleet = Fleet(
        LabSettings(block=BLOCK, https_port=port, http_port=None, reboot_downtime=0.0),
        (DeviceSpec("hikvision", "expired", name="expired"), DeviceSpec("axis", "healthy", name="ok")),
    )
    with lab_in_thread(fleet) as (lab, token):
        config = lab_audit_config(tmp_path, lab, port, FIRST, LAST)
        text = config.read_text()
        webhook = f'\n[notify.webhook]\nurl = "{hook.url}"\nretries = 1\n'
        config.write_text(text + 'html = "report.html"\n\n[report]\nplan = true\n' + webhook)
        expired = lab.device("expired")

        def fingerprint() -> bytes:
            served = trio.from_thread.run_sync(expired.served, trio_token=token)
            return served.leaf.fingerprint(hashes.SHA256())

        before, boots = fingerprint(), expired.boot_count
        capsys.readouterr()
        assert main(["audit", "--config", str(config)]) == 0
        assert fingerprint() == before and expired.boot_count == boots
        out = capsys.readouterr().out
        assert "fix plan: 1 device to fix, 1 with automatic steps (dry run: the audit changes nothing)" in out
        html = (tmp_path / "report.html").read_text()
        section = html[html.index('<section id="fixes">'):]
        assert section.count('<section class="device">') == 1 and f"{expired.ip}:{port}" in section
        assert "CS120" in section and "reissue" in section
        # The first run changed everything (new endpoints): the webhook carries the plan's count.
        (request,) = hook.requests
        assert json.loads(request["body"])["plan"] == {"devices": 1, "automatic": 1}

        config.write_text(text + 'html = "report.html"\n\n[report]\nplan = false\n')
        assert main(["audit", "--config", str(config)]) == 0
        assert '<section id="fixes">' not in (tmp_path / "report.html").read_text()
        assert "fix plan:" not in capsys.readouterr().out


async def test_webhook_and_email_body_say_what_was_renewed_and_what_failed(
    tmp_path: Path, hook: Hook
) -> None:
    base = _note(tmp_path)
    renewals = (
        {"endpoint": "127.0.0.5:443", "status": "fixed", "reason": "applied: reissue, superseded 1f revoked"},
        {"endpoint": "127.0.0.6:443", "status": "failed", "reason": "issuer unreachable: corp-est\x1b[31m"},
    )
    note = Notification(base.run, base.diff, renewals=renewals)
    config = WebhookConfig(url=hook.url, timeout=5, retries=1, backoff=0.05)
    with trio.fail_after(30):
        assert await send_webhook(config, note) == 1
    (request,) = hook.requests
    assert json.loads(request["body"])["renewals"] == [dict(r) for r in renewals]
    body = note.body()
    assert "Renewals:\n  renewed: 127.0.0.5:443: applied: reissue, superseded 1f revoked" in body
    assert "renewal FAILED: 127.0.0.6:443: issuer unreachable: corp-est" in body
    assert "\x1b" not in body  # text from a server, sanitized for a mail body
    assert "renewals" not in base.payload() and "Renewals" not in base.body()
