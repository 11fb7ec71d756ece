"""Notifications against real servers on loopback: an HTTP server for the webhook, aiosmtpd for
e-mail (plain, and STARTTLS + AUTH with the password from the environment)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
import trio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from camscan import pki
from camscan.certinfo import cert_pem
from camscan.config import EmailConfig, WebhookConfig
from camscan.model import Severity
from camscan.reports.diff import diff_runs
from camscan.reports.history import HistoryStore
from camscan.reports.notify import Notification, NotifyError, notify, send_email, send_webhook
from tests.audit.builders import T0, Cam, audit_of, leaf_for
from tests.audit.conftest import Hook
from tests.support.tls_servers import unused_port


def _note(tmp_path: Path, *, changed: bool = True) -> Notification:
    leaf = leaf_for("127.0.0.5")
    before = [Cam("127.0.0.5", leaf)]
    after = [
        Cam(
            "127.0.0.8" if changed else "127.0.0.5",
            leaf,
            findings=[("CS404", Severity.ERROR, "names 127.0.0.5 <b>old</b>")] if changed else [],
        )
    ]
    with HistoryStore(tmp_path / "h.sqlite") as store:
        a = store.record_run(audit_of(before))
        b = store.record_run(audit_of(after, when=T0 + dt.timedelta(days=1)))
        return Notification(store.run(b), diff_runs(store.snapshot(a), store.snapshot(b)))


async def test_webhook_posts_the_changes(tmp_path: Path, hook: Hook) -> None:
    note = _note(tmp_path)
    config = WebhookConfig(url=hook.url, timeout=5, retries=3, backoff=0.05, headers={"X-Token": "t0k"})
    with trio.fail_after(30):
        attempts = await send_webhook(config, note)
    assert attempts == 1
    (request,) = hook.requests
    assert request["path"] == "/hooks/camscan"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Token"] == "t0k"
    payload = json.loads(request["body"])
    assert payload["event"] == "camscan.audit.changed"
    assert payload["run"]["id"] == 2
    assert payload["summary"] == "1 new finding, 1 device moved"
    (move,) = payload["changes"]["moves"]
    assert (move["old_address"], move["new_address"]) == ("127.0.0.5", "127.0.0.8")
    assert payload["changes"]["new_findings"][0]["message"] == "names 127.0.0.5 <b>old</b>"


async def test_webhook_retries_are_bounded(tmp_path: Path, hook: Hook) -> None:
    note = _note(tmp_path)
    hook.statuses = [503, 500, 200]
    config = WebhookConfig(url=hook.url, timeout=5, retries=3, backoff=0.05)
    with trio.fail_after(30):
        assert await send_webhook(config, note) == 3
    hook.requests.clear()
    hook.statuses = [500] * 10
    with trio.fail_after(30), pytest.raises(NotifyError, match=r"failed after 2 attempt\(s\): HTTP 500"):
        await send_webhook(WebhookConfig(url=hook.url, timeout=5, retries=2, backoff=0.05), note)
    assert len(hook.requests) == 2


async def test_webhook_does_not_retry_a_client_error(tmp_path: Path, hook: Hook) -> None:
    hook.statuses = [404]
    config = WebhookConfig(url=hook.url + "?token=secret", timeout=5, retries=3, backoff=0.05)
    with trio.fail_after(30), pytest.raises(NotifyError) as info:
        await send_webhook(config, _note(tmp_path))
    assert len(hook.requests) == 1
    assert "HTTP 404" in str(info.value) and "secret" not in str(info.value)


async def test_webhook_to_a_silent_server_times_out(tmp_path: Path) -> None:
    import socket

    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.72", 0))
        listener.listen(8)
        url = f"http://127.0.0.72:{listener.getsockname()[1]}/"
        config = WebhookConfig(url=url, timeout=0.5, retries=2, backoff=0.05)
        with trio.fail_after(30), pytest.raises(NotifyError, match="after 2 attempt"):
            await send_webhook(config, _note(tmp_path))


async def test_nothing_is_sent_when_nothing_changed(tmp_path: Path, hook: Hook) -> None:
    note = _note(tmp_path, changed=False)
    assert note.diff.empty
    with trio.fail_after(30):
        errors = await notify(note, WebhookConfig(url=hook.url, backoff=0.05), None)
    assert errors == [] and hook.requests == []


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        ok = data.login == b"camscan" and data.password == b"pa55-from-env"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535


def _start_smtp(inbox: Inbox, **kwargs: Any) -> tuple[Controller, int]:
    port = unused_port("127.0.0.1")
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port


async def test_email_is_sent_with_the_diff(tmp_path: Path) -> None:
    inbox = Inbox()
    controller, port = _start_smtp(inbox)
    try:
        config = EmailConfig(
            host="127.0.0.1",
            port=port,
            sender="camscan@example.net",
            to=("ops@example.net", "sec@example.net"),
            timeout=10,
        )
        with trio.fail_after(30):
            await send_email(config, _note(tmp_path))
    finally:
        controller.stop()
    ((sender, rcpt, raw),) = inbox.messages
    assert sender == "camscan@example.net" and rcpt == ["ops@example.net", "sec@example.net"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "[camscan] run 2: 1 new finding, 1 device moved"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "127.0.0.5 -> 127.0.0.8" in text and "CS404" in text
    (attachment,) = list(message.iter_attachments())
    assert json.loads(attachment.get_content())["changes"]["counts"]["moves"] == 1


async def test_email_starttls_and_login_with_password_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = pki.make_ca("camscan test SMTP CA")
    leaf = pki.make_leaf(ca, common_name="smtp test", ips=["127.0.0.1"])
    (tmp_path / "ca.pem").write_text(cert_pem(ca.cert))
    (tmp_path / "leaf.pem").write_text(cert_pem(leaf.cert))
    (tmp_path / "key.pem").write_bytes(pki.key_to_pem(leaf.key))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    inbox = Inbox()
    controller, port = _start_smtp(
        inbox,
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=inbox.authenticate,
        auth_require_tls=True,
    )
    monkeypatch.setenv("CAMSCAN_TEST_SMTP_PASSWORD", "pa55-from-env")
    try:
        config = EmailConfig(
            host="127.0.0.1",
            port=port,
            sender="camscan@example.net",
            to=("ops@example.net",),
            starttls=True,
            ca_file=tmp_path / "ca.pem",
            username="camscan",
            password_env="CAMSCAN_TEST_SMTP_PASSWORD",
            timeout=10,
        )
        with trio.fail_after(30):
            await send_email(config, _note(tmp_path))
        # a wrong password: the error names the server, never the password
        monkeypatch.setenv("CAMSCAN_TEST_SMTP_PASSWORD", "wrong-pa55")
        with trio.fail_after(30), pytest.raises(NotifyError, match="authentication failed") as info:
            await send_email(config, _note(tmp_path))
        assert "wrong-pa55" not in str(info.value)
    finally:
        controller.stop()
    assert inbox.logins[0] == (b"camscan", b"pa55-from-env")
    ((_, _, raw),) = inbox.messages
    assert b"pa55" not in raw


async def test_email_refuses_an_untrusted_starttls_certificate(tmp_path: Path) -> None:
    leaf = pki.make_leaf(None, common_name="self-signed smtp", ips=["127.0.0.1"])
    (tmp_path / "leaf.pem").write_text(cert_pem(leaf.cert))
    (tmp_path / "key.pem").write_bytes(pki.key_to_pem(leaf.key))
    other_ca = pki.make_ca("some other CA")
    (tmp_path / "ca.pem").write_text(cert_pem(other_ca.cert))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    inbox = Inbox()
    controller, port = _start_smtp(inbox, tls_context=server_ctx, require_starttls=True)
    try:
        config = EmailConfig(
            host="127.0.0.1",
            port=port,
            sender="a@example.net",
            to=("b@example.net",),
            starttls=True,
            ca_file=tmp_path / "ca.pem",
            timeout=10,
        )
        with trio.fail_after(30), pytest.raises(NotifyError, match="CERTIFICATE_VERIFY_FAILED"):
            await send_email(config, _note(tmp_path))
    finally:
        controller.stop()
    assert inbox.messages == []


async def test_notify_reports_each_failed_channel(tmp_path: Path) -> None:
    dead = unused_port("127.0.0.1")
    with trio.fail_after(30):
        errors = await notify(
            _note(tmp_path),
            WebhookConfig(url=f"http://127.0.0.1:{dead}/", timeout=2, retries=1, backoff=0),
            EmailConfig(host="127.0.0.1", port=dead, sender="a@example.net", to=("b@example.net",),
                        timeout=2),
        )
    assert len(errors) == 2
    assert errors[0].startswith("webhook http://127.0.0.1:") and errors[1].startswith("SMTP 127.0.0.1:")
