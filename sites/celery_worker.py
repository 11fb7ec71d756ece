"""The Celery side of a site worker: register the sweep task on the app and serve one queue."""

from __future__ import annotations

import os
import socket
from typing import Any

from camscan.sites.broker import TASK_NAME, make_app, redact
from camscan.sites.worker_config import WorkerConfig


def default_name(config: WorkerConfig) -> str:
    return f"{config.site}-{os.getpid()}@{socket.gethostname()}"


def serve(config: WorkerConfig, *, name: str, loglevel: str = "WARNING") -> None:
    """Run the worker until it is stopped (SIGTERM: warm shutdown, the running shard finishes)."""
    from camscan.sites.job import run_job

    app = make_app(config.broker, name=f"camscan-worker-{config.site}")

    @app.task(name=TASK_NAME, bind=True)  # type: ignore[untyped-decorator]
    def sweep(self: Any, request: dict[str, Any]) -> dict[str, Any]:
        return run_job(config, request, worker=str(self.request.hostname or name))

    argv = [
        "worker",
        "--queues", config.queue,
        "--hostname", name,
        "--concurrency", str(config.processes),
        "--pool", "prefork",
        "--loglevel", loglevel,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    print(f"camscan worker {name}: site {config.site}, queue {config.queue}, allow "
          f"{', '.join(config.allow)}, broker {redact(config.broker.url())}", flush=True)
    app.worker_main(argv)
