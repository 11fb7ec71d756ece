"""How long each report format takes to render, and how big it is, for a large fleet.

    .venv/bin/python -m bench.reports_render [--endpoints 5000]

The fleet is the report tests' lab-like sample (real certificates) repeated on 127.x
addresses, findings included; nothing is contacted. Pure rendering, no disk writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable

from camscan.model import AuditResult, Endpoint
from camscan.reports.csv_report import render_csv
from camscan.reports.html_report import render_html
from camscan.reports.json_report import build_document, dumps
from camscan.reports.jsonl_report import render_jsonl
from camscan.reports.junit_report import render_junit
from camscan.reports.prometheus_report import render_prometheus
from tests.reports.sample import build_audit


def fleet(size: int) -> AuditResult:
    base = build_audit(hostile=False)
    observations, failures, findings = [], [], []
    sources = [*base.scan.observations, *base.scan.failures]
    for index in range(size):
        source = sources[index % len(sources)]
        endpoint = Endpoint(f"127.{100 + index // 65025}.{index // 255 % 255}.{index % 255 + 1}", 443)
        moved = dataclasses.replace(source, endpoint=endpoint)
        (observations if hasattr(source, "chain_der") else failures).append(moved)
        findings += [dataclasses.replace(f, endpoint=endpoint) for f in base.findings_for(source.endpoint)]
    scan = dataclasses.replace(base.scan, observations=tuple(observations), failures=tuple(failures))
    return dataclasses.replace(base, scan=scan, findings=tuple(findings))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=5000)
    args = parser.parse_args()
    audit = fleet(args.endpoints)
    renderers: dict[str, Callable[[AuditResult], str | bytes]] = {
        "json": lambda a: dumps(build_document(a)),
        "jsonl": render_jsonl,
        "html": render_html,
        "csv": render_csv,
        "junit": render_junit,
        "prometheus": render_prometheus,
    }
    print(f"{args.endpoints} endpoints, {len(audit.findings)} findings")
    print(f"{'format':<11} {'seconds':>8} {'MiB':>7}")
    for name, render in renderers.items():
        start = time.perf_counter()
        output = render(audit)
        elapsed = time.perf_counter() - start
        size = len(output.encode() if isinstance(output, str) else output) / 2**20
        print(f"{name:<11} {elapsed:>8.2f} {size:>7.2f}")


if __name__ == "__main__":
    main()
