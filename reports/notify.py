"""Notifications after an audit that changed something: a webhook (JSON POST) and e-mail (SMTP).

Callers send only when the diff is non-empty. Both channels are bounded: the webhook has a
per-attempt timeout and a fixed number of attempts with exponential backoff; SMTP has a socket
timeout. The SMTP password is read at send time from the environment or a file, and never
appears in a message, a log line or an error.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
import trio

from camscan import __version__
from camscan.config import EmailConfig, WebhookConfig
from camscan.model import SCHEMA_VERSION
from camscan.reports.diff import RunDiff, render_text
from camscan.reports.history_records import RunRecord
from camscan.termtext import json_safe, sanitize

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class NotifyError(Exception):
    """A notification could not be delivered (the message says why, without secrets)."""


@dataclass(frozen=True)
class Notification:
    run: RunRecord
    diff: RunDiff
    # With [report] plan = true: how many devices have a fix plan ("devices") and how many of
    # those `camscan fix --apply` could fix through the device API ("automatic").
    plan: Mapping[str, int] | None = None
    # With [fix] renew = true: one entry per renewal tried ({"endpoint", "status", "reason"}).
    renewals: tuple[Mapping[str, str], ...] | None = None

    def payload(self) -> dict[str, Any]:
        payload = self._payload()
        if self.plan is not None:
            payload["plan"] = dict(self.plan)
        if self.renewals is not None:
            payload["renewals"] = [dict(r) for r in self.renewals]
        return payload

    def _payload(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "event": "camscan.audit.changed",
            "camscan_version": __version__,
            "summary": self.diff.summary(),
            "run": self.run.to_dict(),
            "changes": self.diff.to_dict(),
        }

    def subject(self, prefix: str) -> str:
        # Header injection: the summary is built from counts only, but sanitize anyway.
        return sanitize(f"{prefix} run {self.run.id}: {self.diff.summary()}".strip(), max_len=200)

    def body(self) -> str:
        r = self.run
        head = (
            f"camscan audit run {r.id} finished {r.to_dict()['finished_at']}: "
            f"{r.observations} endpoints answered, {r.findings} findings "
            f"({r.by_severity.get('error', 0)} errors, {r.by_severity.get('warning', 0)} warnings, "
            f"{r.by_severity.get('notice', 0)} notices)\n\n"
        )
        return head + render_text(self.diff) + self._plan_text() + self._renewal_text()

    def _renewal_text(self) -> str:
        if not self.renewals:
            return ""
        words = {"fixed": "renewed", "failed": "renewal FAILED", "skipped": "not renewed"}
        lines = [
            f"  {words.get(r['status'], r['status'])}: {r['endpoint']}: {sanitize(r['reason'], max_len=300)}"
            for r in self.renewals
        ]
        return "\nRenewals:\n" + "\n".join(lines) + "\n"

    def _plan_text(self) -> str:
        if self.plan is None:
            return ""
        devices, automatic = self.plan.get("devices", 0), self.plan.get("automatic", 0)
        if not devices:
            return "\nFix plan: no device needs a fix.\n"
        return (
            f"\nFix plan: {devices} device{'s' if devices != 1 else ''} to fix, {automatic} with steps "
            "`camscan fix --apply` can carry out (the HTML report's \"How to fix\" section; the audit "
            "changed nothing).\n"
        )


def webhook_body(note: Notification) -> bytes:
    """The payload as sent: device text exact, control and bidi characters as JSON escapes."""
    return json_safe(json.dumps(note.payload(), sort_keys=True)).encode("utf-8")


async def send_webhook(config: WebhookConfig, note: Notification) -> int:
    """POST the JSON payload; return the attempts used. NotifyError after the last failed attempt."""
    body = webhook_body(note)
    headers = {"Content-Type": "application/json", "User-Agent": f"camscan/{__version__}"}
    headers.update(config.headers)
    delay = config.backoff
    last = "no attempt made"
    async with httpx.AsyncClient(timeout=config.timeout, follow_redirects=False) as client:
        for attempt in range(1, config.retries + 1):
            try:
                with trio.fail_after(config.timeout * 2):  # a trickling server can't hold us past this
                    response = await client.post(config.url, content=body, headers=headers)
            except (httpx.HTTPError, trio.TooSlowError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if 200 <= response.status_code < 300:
                    return attempt
                last = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    break
            if attempt < config.retries:
                await trio.sleep(delay)
                delay *= 2
    raise NotifyError(f"webhook {_redact_url(config.url)} failed after {attempt} attempt(s): {last}")


def _redact_url(url: str) -> str:
    """Drop userinfo and query (tokens often live there) from a URL before it is shown."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


def build_email(config: EmailConfig, note: Notification) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = note.subject(config.subject_prefix)
    message["From"] = config.sender
    message["To"] = ", ".join(config.to)
    message["X-Camscan-Run"] = str(note.run.id)
    message.set_content(note.body())
    message.add_attachment(
        json_safe(json.dumps(note.payload(), indent=2, sort_keys=True)).encode("utf-8"),
        maintype="application",
        subtype="json",
        filename=f"camscan-run-{note.run.id}-changes.json",
    )
    return message


def _send_email_blocking(config: EmailConfig, message: EmailMessage, password: str | None) -> None:
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            if config.starttls:
                context = ssl.create_default_context(
                    cafile=str(config.ca_file) if config.ca_file is not None else None
                )
                smtp.starttls(context=context)
            if config.username is not None and password is not None:
                smtp.login(config.username, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        # The server's reply, never our password.
        raise NotifyError(
            f"SMTP {config.host}:{config.port}: authentication failed ({exc.smtp_code})"
        ) from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise NotifyError(f"SMTP {config.host}:{config.port}: {type(exc).__name__}: {exc}") from None


async def send_email(config: EmailConfig, note: Notification) -> None:
    password = config.password()
    message = build_email(config, note)
    await trio.to_thread.run_sync(_send_email_blocking, config, message, password)


async def notify(note: Notification, webhook: WebhookConfig | None, email: EmailConfig | None) -> list[str]:
    """Send on every configured channel, each independently; return one error line per failure."""
    errors: list[str] = []
    if note.diff.empty:
        return errors
    if webhook is not None:
        try:
            await send_webhook(webhook, note)
        except NotifyError as exc:
            errors.append(str(exc))
    if email is not None:
        try:
            await send_email(email, note)
        except NotifyError as exc:
            errors.append(str(exc))
        except Exception as exc:  # UsageError for a missing password env var, for instance
            errors.append(f"e-mail: {exc}")
    return errors
