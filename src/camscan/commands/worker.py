"""`camscan worker --config worker.toml`: serve one site's queue (Celery), scanning only its allow-list.

Kept light at import time (`camscan --help` builds this parser): Celery is imported in run().
"""

from __future__ import annotations

import argparse
import re

DESCRIPTION = """\
Serve one site's queue as a Celery worker: take the shards of the site's sweep that the central
`camscan audit` sends, sweep them with this site's own limits, and return the observations and
failures (the data of `--json`, no verdict: the central side judges the whole fleet).

The worker scans only inside its config's [worker] allow list: a request for anything else is
refused, whatever the central side asks. The broker URL (with its password) comes from the
config's [broker] url_file (mode 0600) or an environment variable (default CAMSCAN_BROKER_URL),
never from the command line. Needs the `sites` extra: pip install 'camscan[sites]'.
See docs/sites.md."""

EPILOG = """\
examples:
  CAMSCAN_BROKER_URL=redis://:PASSWORD@central.example:6379/0 camscan worker --config north.toml
  camscan worker --config /etc/camscan/worker.toml --check
  camscan cron --worker /etc/camscan/worker.toml        # a systemd unit for it

exit codes: 0 stopped cleanly, 2 bad config, 3 the broker is unreachable."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", required=True, metavar="FILE", help="the worker config (TOML)")
    parser.add_argument("--name", metavar="NAME",
                        help="the worker's node name; without it SITE-PID@HOSTNAME")
    parser.add_argument("--loglevel", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="Celery's log level (default: WARNING)")
    parser.add_argument("--check", action="store_true",
                        help="validate the config and reach the broker, then exit")


# Celery addresses workers by this name in pings and control replies; an empty or odd one would
# make the worker unreachable for the central side's checks.
_NODE_NAME = re.compile(r"[!-~]{1,200}")


def run(args: argparse.Namespace) -> int:
    from camscan.errors import UsageError
    from camscan.sites.worker_config import load_worker_config

    if args.name is not None and not _NODE_NAME.fullmatch(args.name):
        raise UsageError(f"--name {args.name!r}: a Celery node name is 1-200 characters, no spaces or "
                         "control characters (e.g. north-1@camhost)")
    config = load_worker_config(args.config)
    try:
        import celery  # noqa: F401
    except ImportError:
        raise UsageError("camscan worker needs Celery: pip install 'camscan[sites]'") from None
    from camscan.sites.broker import make_app, redact
    from camscan.sites.celery_worker import default_name, serve
    from camscan.sites.central import check_broker

    if args.check:
        check_broker(make_app(config.broker))
        print(f"worker config {config.path}: ok; site {config.site}, queue {config.queue}, "
              f"allow {', '.join(config.allow)}; broker {redact(config.broker.url())} reachable")
        return 0
    check_broker(make_app(config.broker))
    serve(config, name=args.name or default_name(config), loglevel=args.loglevel)
    return 0
