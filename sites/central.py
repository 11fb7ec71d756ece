"""The central side: each site's sweep to its queue, in shards across its workers; wait with a bound.

For every site: find the workers serving its queue (a broadcast, answered within
`discover_timeout`), split the site's targets into one shard per worker (the `--shard I/N`
partition) unless `shards` says otherwise, send them, and poll. A shard ends when its result
came back and was accepted, when the worker refused it, or when it was given up:

- a shard whose worker stops answering pings while it holds the shard (killed, machine gone) is
  sent again, at most `retries` times, and another worker of the site takes it;
- a result that is not a JSON report of this camscan, of the shard asked for, with endpoints
  inside the site's targets only, is refused (the site is partial or down, never fed bad data);
- whatever is still out at the deadline is revoked and reported.

Nothing here judges: the caller judges every site's observations together (fleet rules).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from camscan.errors import CamscanError, UsageError
from camscan.model import SITE_COMPLETE, Endpoint, Observation, ProbeFailure, ScanResult, SiteStatus
from camscan.sites.broker import TASK_NAME, make_app, redact
from camscan.sites.site_config import SitesConfig, SiteSection

if TYPE_CHECKING:
    from celery import Celery

    from camscan.reports.json_load import LoadedReport

POLL_SECONDS = 0.25
PING_SECONDS = 1.5
LOST_AFTER = 3  # pings in a row a shard's worker missed before the shard counts as lost


@dataclass
class _Shard:
    site: SiteSection
    shard: str | None
    task_id: str = ""
    attempts: int = 0
    worker: str | None = None
    missed: int = 0
    report: LoadedReport | None = None
    problem: str | None = None  # set when the shard is given up

    @property
    def done(self) -> bool:
        return self.report is not None or self.problem is not None


@dataclass(frozen=True)
class SitesOutcome:
    scan: ScanResult
    statuses: tuple[SiteStatus, ...]
    endpoint_sites: dict[Endpoint, str] = field(default_factory=dict)

    @property
    def missing(self) -> tuple[SiteStatus, ...]:
        return tuple(s for s in self.statuses if not s.complete)


def _request(site: SiteSection, shard: str | None) -> dict[str, Any]:
    return {
        "site": site.name,
        "targets": list(site.targets),
        "ports": site.ports,
        "exclude": list(site.exclude),
        "shard": shard,
        "allow_large": site.allow_large,
    }


def _broker_error(exc: BaseException) -> CamscanError:
    return CamscanError(f"the broker is unreachable: {redact(str(exc)) or type(exc).__name__}")


def check_broker(app: Celery) -> None:
    """CamscanError (exit 3) at once when the broker or result backend cannot be reached."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0.2, interval_step=0.2, timeout=5)
        app.backend.get_task_meta("camscan-connection-check")
    except Exception as exc:
        raise _broker_error(exc) from None


def _workers_by_queue(app: Celery, timeout: float) -> dict[str, list[str]]:
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    by_queue: dict[str, list[str]] = {}
    for worker, queues in replies.items():
        for queue in queues or ():
            if isinstance(queue, dict) and isinstance(queue.get("name"), str):
                by_queue.setdefault(queue["name"], []).append(str(worker))
    return by_queue


def _alive(app: Celery) -> set[str]:
    replies = app.control.ping(timeout=1.0) or []
    return {name for reply in replies if isinstance(reply, dict) for name in reply}


class Dispatcher:
    def __init__(self, config: SitesConfig, *, log: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.log = log or (lambda _line: None)
        self.app = make_app(config.broker, name="camscan-central")

    def run(self) -> SitesOutcome:
        app, dispatch = self.app, self.config.dispatch
        check_broker(app)
        started = time.monotonic()
        try:
            workers = _workers_by_queue(app, dispatch.discover_timeout)
        except Exception as exc:
            raise _broker_error(exc) from None
        shards: list[_Shard] = []
        no_worker: dict[str, str] = {}
        for site in self.config.sites:
            serving = workers.get(site.queue, [])
            if not serving:
                no_worker[site.name] = f"no worker serves queue {site.queue}"
                self.log(f"site {site.name}: {no_worker[site.name]}")
                continue
            count = site.shards or len(serving)
            names = [None] if count == 1 else [f"{i}/{count}" for i in range(1, count + 1)]
            for name in names:
                shards.append(self._send(_Shard(site, name)))
            self.log(f"site {site.name}: {count} shard{'s' if count != 1 else ''} to {len(serving)} "
                     f"worker{'s' if len(serving) != 1 else ''} on queue {site.queue}")
        self._wait(shards, started)
        return self._outcome(shards, no_worker)

    def _send(self, shard: _Shard) -> _Shard:
        try:
            request = _request(shard.site, shard.shard)
            result = self.app.send_task(TASK_NAME, args=[request], queue=shard.site.queue)
        except Exception as exc:
            raise _broker_error(exc) from None
        shard.task_id, shard.attempts, shard.worker, shard.missed = result.id, shard.attempts + 1, None, 0
        return shard

    def _retry_or_give_up(self, shard: _Shard, why: str) -> None:
        label = f"site {shard.site.name} shard {shard.shard or '1/1'}"
        if shard.attempts <= self.config.dispatch.retries:
            self.log(f"{label}: {why}; sending it again")
            self._forget(shard.task_id)
            self._send(shard)
        else:
            shard.problem = f"{why} (after {shard.attempts} attempts)"

    def _deadline(self, shard: _Shard, started: float) -> float:
        timeout = shard.site.timeout if shard.site.timeout is not None else self.config.dispatch.timeout
        return started + timeout

    def _wait(self, shards: Sequence[_Shard], started: float) -> None:
        from celery.result import AsyncResult

        next_ping = time.monotonic() + PING_SECONDS
        while True:
            pending = [s for s in shards if not s.done]
            if not pending:
                return
            now = time.monotonic()
            for shard in pending:
                if now >= self._deadline(shard, started):
                    timeout = self._deadline(shard, started) - started
                    shard.problem = f"timed out after {timeout:g} s" + (
                        f" (worker {shard.worker} still sweeping)" if shard.worker else " (still queued)"
                    )
                    self.app.control.revoke(shard.task_id)
                    continue
                try:
                    result = AsyncResult(shard.task_id, app=self.app)
                    state = result.state
                    if state == "SUCCESS":
                        self._accept(shard, result.result)
                        self._forget(shard.task_id)
                    elif state == "FAILURE":
                        self._retry_or_give_up(shard, f"the worker failed: {_one_line(result.result)}")
                    elif state == "STARTED" and isinstance(result.info, dict):
                        shard.worker = str(result.info.get("hostname") or shard.worker or "")
                except CamscanError:
                    raise
                except Exception as exc:
                    for other in pending:
                        if not other.done:
                            other.problem = str(_broker_error(exc))
                    return
            if time.monotonic() >= next_ping:
                self._check_workers([s for s in shards if not s.done and s.worker])
                next_ping = time.monotonic() + PING_SECONDS
            time.sleep(POLL_SECONDS)

    def _check_workers(self, holding: Sequence[_Shard]) -> None:
        if not holding:
            return
        try:
            alive = _alive(self.app)
        except Exception:
            return  # the poll loop reports a broker that is gone
        for shard in holding:
            if shard.worker in alive:
                shard.missed = 0
                continue
            shard.missed += 1
            if shard.missed >= LOST_AFTER:
                self._retry_or_give_up(shard, f"worker {shard.worker} stopped answering mid-shard")

    def _forget(self, task_id: str) -> None:
        from celery.result import AsyncResult

        with contextlib.suppress(Exception):  # it expires anyway (result_expires)
            AsyncResult(task_id, app=self.app).forget()

    def _accept(self, shard: _Shard, answer: object) -> None:
        """Take a worker's answer, or give the shard up with the reason it was refused."""
        from camscan.reports.json_load import parse_report

        label = f"site {shard.site.name} shard {shard.shard or '1/1'}"
        if not isinstance(answer, dict):
            shard.problem = "result refused: not a camscan site answer"
            return
        if answer.get("site") != shard.site.name or answer.get("shard") != shard.shard:
            shard.problem = "result refused: the answer is for another site or shard"
            return
        worker = answer.get("worker")
        shard.worker = worker[:200] if isinstance(worker, str) else shard.worker
        refused = answer.get("refused")
        if refused is not None:
            shard.problem = f"refused by worker {shard.worker}: {_one_line(refused)}"
            return
        text = answer.get("report")
        if not isinstance(text, str):
            shard.problem = "result refused: no report in the answer"
            return
        try:
            report = parse_report(label, text)
        except UsageError as exc:
            shard.problem = f"result refused: {_one_line(exc)}"
            return
        why = self._check_report(shard, report)
        if why is not None:
            shard.problem = f"result refused: {why}"
            return
        shard.report = report

    @staticmethod
    def _check_report(shard: _Shard, report: LoadedReport) -> str | None:
        from camscan import __version__
        from camscan.scanner.targets import parse_ports
        from camscan.sites.allow import AllowList

        if report.tool_version != __version__:
            return f"worker runs camscan {report.tool_version}, this is {__version__}"
        if report.shard != shard.shard:
            return f"the report is of shard {report.shard}, not {shard.shard}"
        if report.audit.findings:
            return "a site report holds findings (workers return observations only)"
        site = AllowList(shard.site.targets, parse_ports(shard.site.ports))
        scan = report.audit.scan
        items: tuple[Observation | ProbeFailure, ...] = (*scan.observations, *scan.failures)
        for item in items:
            e = item.endpoint
            if not site.allows(e.address, e.port, e.server_name):
                return f"{e} is not among the site's targets"
        return None

    def _outcome(self, shards: Sequence[_Shard], no_worker: dict[str, str]) -> SitesOutcome:
        statuses: list[SiteStatus] = []
        reports: list[LoadedReport] = []
        sites_of: dict[Endpoint, str] = {}
        for site in self.config.sites:
            own = [s for s in shards if s.site is site]
            done = [s for s in own if s.report is not None]
            endpoints = 0
            for s in done:
                assert s.report is not None
                reports.append(s.report)
                scan = s.report.audit.scan
                endpoints += len(scan.observations) + len(scan.failures)
                items: tuple[Observation | ProbeFailure, ...] = (*scan.observations, *scan.failures)
                for item in items:
                    sites_of[item.endpoint] = site.name
            problems = list(dict.fromkeys(s.problem for s in own if s.problem))
            if site.name in no_worker:
                problems = [no_worker[site.name]]
            state = SITE_COMPLETE if own and len(done) == len(own) else ("partial" if done else "down")
            statuses.append(SiteStatus(
                name=site.name, queue=site.queue, state=state, shards=len(own), shards_done=len(done),
                endpoints=endpoints, detail="; ".join(problems),
                workers=tuple(sorted({s.worker for s in done if s.worker})),
            ))
        return SitesOutcome(_combined(reports, self.config), tuple(statuses), sites_of)


def _combined(reports: Sequence[LoadedReport], config: SitesConfig) -> ScanResult:
    """Every shard's scan as one (an endpoint at two sites is refused: sites must not overlap)."""
    import datetime as dt
    from dataclasses import replace

    from camscan.model import ScanParameters
    from camscan.reports.merge import combine

    targets = tuple(t for site in config.sites for t in site.targets)
    if not reports:
        now = dt.datetime.now(dt.UTC)
        return ScanResult(ScanParameters(targets=targets, ports=()), now, now, (), ())
    try:
        scan = combine(reports)
    except UsageError as exc:
        # Shards of one site never overlap (the --shard partition): two sites' targets do.
        first = str(exc).split(" (overlapping")[0]
        raise UsageError(f"{first}: two sites returned the same endpoint; sites must not overlap") from None
    return replace(scan, parameters=replace(scan.parameters, targets=targets))


def _one_line(value: object) -> str:
    from camscan.termtext import sanitize

    text = redact(str(value))
    return sanitize(" ".join(text.split()))[:300]
