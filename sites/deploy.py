"""A systemd service for a site worker (`camscan cron --worker FILE` prints it)."""

from __future__ import annotations

import sys
from pathlib import Path


def _quote(word: str) -> str:
    if word and all(c.isalnum() or c in "/._-+:@=," for c in word):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def worker_unit(config: Path, site: str) -> str:
    argv = (sys.executable, "-m", "camscan", "worker", "--config", str(config))
    exec_start = " ".join(_quote(w) for w in argv)
    return f"""\
[Unit]
Description=camscan site worker for site {site} ({config})
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
# Run as an unprivileged account that may read the config (and the broker URL file):
# User=camscan
ExecStart={exec_start}
# The broker URL, with its password, when the config reads it from the environment
# (CAMSCAN_BROKER_URL=redis://:PASSWORD@central.example:6379/0); mode 0600.
EnvironmentFile=-/etc/camscan/worker.env
# SIGTERM is Celery's warm shutdown: the shard in progress finishes first (a shard cut short
# is sent again by the central audit, once).
KillSignal=SIGTERM
TimeoutStopSec=600
Restart=on-failure
RestartSec=10
Nice=10
NoNewPrivileges=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
"""
