"""The history's side of a central audit across sites: site statuses per run, and the earlier runs
a site that was down is compared with (reports.site_diff). Mixed into reports.history.HistoryStore."""

from __future__ import annotations

import json
import sqlite3

from camscan.model import AuditResult
from camscan.reports.history_records import RunSnapshot


def sites_json(audit: AuditResult) -> str | None:
    if not audit.sites:
        return None
    from camscan.reports.json_report import site_entry

    return json.dumps([site_entry(status) for status in audit.sites], sort_keys=True)


class SiteHistory:
    _conn: sqlite3.Connection

    def snapshot(self, run_id: int) -> RunSnapshot:
        raise NotImplementedError

    def last_complete_snapshots(self, before: int) -> dict[str, RunSnapshot]:
        """For each site of the runs before `before`: its records in the newest such run where it
        was complete (what a site that is back after being down is compared with)."""
        chosen: dict[str, int] = {}
        for row in self._conn.execute(
            "SELECT id, sites FROM runs WHERE id < ? AND sites IS NOT NULL ORDER BY id DESC", (before,)
        ):
            for site in json.loads(row[1]):
                if site.get("state") == "complete":
                    chosen.setdefault(str(site.get("name")), row[0])
        snapshots: dict[int, RunSnapshot] = {}
        out: dict[str, RunSnapshot] = {}
        for name, run_id in chosen.items():
            if run_id not in snapshots:
                snapshots[run_id] = self.snapshot(run_id)
            whole = snapshots[run_id]
            out[name] = RunSnapshot(
                run=whole.run,
                endpoints=tuple(e for e in whole.endpoints if e.site == name),
                findings=tuple(f for f in whole.findings if f.site == name),
            )
        return out

    def last_whole_run(self, before: int) -> RunSnapshot | None:
        """The newest run before `before` in which every site was complete (None: there is none)."""
        for row in self._conn.execute(
            "SELECT id, sites FROM runs WHERE id < ? AND sites IS NOT NULL ORDER BY id DESC", (before,)
        ):
            if all(site.get("state") == "complete" for site in json.loads(row[1])):
                return self.snapshot(row[0])
        return None
