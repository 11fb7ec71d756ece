"""The diff of a central audit across sites: a site that is down hides nothing and invents nothing.

- A site that is down or partial in the new run: its records are left out of both runs, so
  its previous findings are not "resolved" and its endpoints not "vanished" (the summary and
  the `sites` section say the site is missing instead).
- A site that was down or partial in the old run and is back: its records are compared with
  the newest run where it was complete, so its findings are not all "new" again.
- Fleet findings (a key shared across sites, CS401/CS402/CS404) of the sites that were up
  depend on the devices of the site that was not: while a site is missing, such a finding
  that is gone is not "resolved"; once every site is back, one that was there in the newest
  run with every site complete is not "new".

Pure: RunSnapshots in, RunSnapshots out.
"""

from __future__ import annotations

from collections.abc import Mapping

from camscan.reports.history_records import FindingRecord, RunSnapshot


def _fleet_rules() -> frozenset[str]:
    from camscan.rules.registry import all_rules

    return frozenset(rule.id for rule in all_rules() if rule.check_fleet is not None)


def _without(snapshot: RunSnapshot, sites: set[str]) -> RunSnapshot:
    return RunSnapshot(
        run=snapshot.run,
        endpoints=tuple(e for e in snapshot.endpoints if e.site not in sites),
        findings=tuple(f for f in snapshot.findings if f.site not in sites),
    )


def _incomplete(snapshot: RunSnapshot) -> set[str]:
    if snapshot.run is None:
        return set()
    return {str(s.get("name")) for s in snapshot.run.sites if s.get("state") != "complete"}


def align_sites(
    old: RunSnapshot,
    new: RunSnapshot,
    last_complete: Mapping[str, RunSnapshot],
    whole: RunSnapshot | None = None,
) -> tuple[RunSnapshot, RunSnapshot]:
    """(old, new) to diff: see the module docstring. `last_complete` maps a site to its records
    in the newest run before `new` where it was complete (HistoryStore.last_complete_snapshots);
    `whole` is the newest run before `new` with every site complete (HistoryStore.last_whole_run)."""
    missing_now = _incomplete(new)
    back = _incomplete(old) - missing_now
    old = _without(old, missing_now | back)
    new = _without(new, missing_now)
    endpoints, findings = list(old.endpoints), list(old.findings)
    for site in sorted(back):
        earlier = last_complete.get(site)
        if earlier is not None:
            endpoints += earlier.endpoints
            findings += earlier.findings
    fleet = _fleet_rules()
    key = _key
    if missing_now:
        present = {key(f) for f in new.findings}
        findings = [f for f in findings if f.rule_id not in fleet or key(f) in present]
    if back and whole is not None:
        had = {key(f) for f in findings}
        findings += [
            f for f in whole.findings
            if f.rule_id in fleet and f.site not in back and key(f) not in had
        ]
    return RunSnapshot(run=old.run, endpoints=tuple(endpoints), findings=tuple(findings)), new


def _key(finding: FindingRecord) -> tuple[str, int, str, str]:
    e = finding.endpoint
    return (e.address, e.port, e.server_name or "", finding.rule_id)


def only_site(snapshot: RunSnapshot, site: str) -> RunSnapshot:
    """The records of one site (`camscan diff --site`)."""
    return RunSnapshot(
        run=snapshot.run,
        endpoints=tuple(e for e in snapshot.endpoints if e.site == site),
        findings=tuple(f for f in snapshot.findings if f.site == site),
    )
