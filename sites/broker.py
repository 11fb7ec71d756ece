"""The Celery app both sides build: broker and result backend, JSON only, credentials never in argv.

The broker URL (`redis://:PASSWORD@host:6379/0`, `rediss://...` with TLS, or an `amqp://` URL
where Celery supports it) is read from a file (mode 0600 or stricter) or an environment
variable that the config names, never from the command line or the TOML itself. The result
backend is the same Redis unless `result_url_*` names another. Only JSON crosses the wire:
`accept_content = ["json"]` on both sides, so a pickled message is refused, not executed.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camscan.errors import UsageError

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "camscan.sites.sweep"
DEFAULT_URL_ENV = "CAMSCAN_BROKER_URL"
_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")
_CREDENTIALS = re.compile(r"(?<=://)[^@/\s]*@")


def redact(text: str) -> str:
    """`redis://:secret@host:6379/0` -> `redis://***@host:6379/0` (errors and logs name the host only)."""
    return _CREDENTIALS.sub("***@", text)


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker URL comes from (a file or an environment variable), and TLS files."""

    url_env: str = DEFAULT_URL_ENV
    url_file: Path | None = None
    result_url_env: str | None = None
    result_url_file: Path | None = None
    ca_file: Path | None = None  # TLS (rediss:// / amqps://): the CA that signed the broker's certificate
    cert_file: Path | None = None  # client certificate, when the broker asks for one
    key_file: Path | None = None
    where: str = "[broker]"  # for error messages: the file and table the settings came from

    def url(self) -> str:
        return _read_url(self.url_file, self.url_env, self.where, "url")

    def result_url(self) -> str:
        if self.result_url_file is None and self.result_url_env is None:
            return self.url()
        return _read_url(self.result_url_file, self.result_url_env or "", self.where, "result_url")


def _read_url(path: Path | None, env: str, where: str, key: str) -> str:
    if path is not None:
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"{where} {key}_file: cannot read {path}: {exc.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(
                f"{where} {key}_file: {path} is readable by others (it holds the broker password): "
                f"chmod 600 {path}"
            )
    else:
        value = os.environ.get(env)
        if not value:
            raise UsageError(
                f"{where}: the broker URL is not set (environment variable {env}, or {key}_file)"
            )
        text = value.strip()
    if not text.startswith(_SCHEMES):
        raise UsageError(f"{where} {key}: {redact(text)!r} is not a redis://, rediss:// or amqp:// URL")
    return text


def _tls_options(settings: BrokerSettings) -> dict[str, Any] | None:
    if settings.ca_file is None and settings.cert_file is None:
        return None
    import ssl

    options: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    if settings.ca_file is not None:
        options["ssl_ca_certs"] = str(settings.ca_file)
    if settings.cert_file is not None:
        options["ssl_certfile"] = str(settings.cert_file)
        options["ssl_keyfile"] = str(settings.key_file or settings.cert_file)
    return options


def make_app(settings: BrokerSettings, *, name: str = "camscan") -> Celery:
    """A Celery app on the settings' broker; the caller registers the task (worker) or sends it."""
    from celery import Celery

    broker = settings.url()
    backend = settings.result_url()
    app = Celery(name, broker=broker, backend=backend, set_as_current=False)
    tls = _tls_options(settings)
    app.conf.update(
        accept_content=["json"],
        result_accept_content=["json"],
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        # The central side sees which worker holds a shard (STARTED, with its host name), so a
        # shard whose worker died can be sent again; results expire after a day.
        task_track_started=True,
        result_expires=86_400,
        result_extended=True,
        # One shard at a time per worker process: a long sweep never keeps a second shard
        # waiting behind it while another worker of the site is idle.
        worker_prefetch_multiplier=1,
        # Acknowledged on receipt: a shard whose worker dies is re-sent by the central side
        # (once), not redelivered by the broker an hour later on top of that.
        task_acks_late=False,
        broker_connection_timeout=5,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=3,
        redis_socket_connect_timeout=5,
        redis_socket_timeout=30,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
    )
    if tls is not None:
        app.conf.broker_use_ssl = tls
        app.conf.redis_backend_use_ssl = tls
    return app
