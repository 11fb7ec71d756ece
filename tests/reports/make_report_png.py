"""Make docs/report.png: scan a lab fleet on loopback, judge it, render the HTML, screenshot it.

    .venv/bin/python -m tests.reports.make_report_png docs/report.png [--size 24] [--html out.html]

Everything stays on 127.x: the lab's simulated cameras, the sweep, and a Chromium without network.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import trio

from camscan.lab.fleet import default_fleet
from camscan.lab.runner import open_lab
from camscan.model import AuditResult, ScanParameters
from camscan.pipeline import judge, run_scan
from camscan.reports.html_report import render_html
from camscan.rules import options as rule_options
from camscan.scanner.sweep import SweepOptions
from tests.reports.browser import find_chromium, screenshot


async def scan_lab(size: int, workdir: Path) -> AuditResult:
    with trio.fail_after(120):
        async with open_lab(default_fleet(), size=size, reboot_downtime=0.1) as lab:
            bundles = lab.write_bundles(workdir)
            parser = argparse.ArgumentParser()
            rule_options.add_arguments(parser)
            args = parser.parse_args(["--ca-bundle", str(bundles["site"]), "--offline"])
            ctx = rule_options.context_from_args(args)
            endpoints = lab.endpoints()
            parameters = ScanParameters(
                targets=(f"{endpoints[0].address}-{endpoints[-1].address.rsplit('.', 1)[1]}",),
                ports=tuple(sorted({e.port for e in endpoints})),
            )
            scan = await run_scan(endpoints, SweepOptions(legacy_probe=True), parameters)
            return await judge(scan, ctx)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make_report_png")
    parser.add_argument("png", type=Path)
    parser.add_argument("--size", type=int, default=24)
    parser.add_argument("--html", type=Path, help="also keep the HTML report here")
    parser.add_argument("--height", type=int, default=1700)
    args = parser.parse_args(argv)
    if find_chromium() is None:
        print("headless Chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        audit = trio.run(scan_lab, args.size, Path(tmp))
        page = args.html or Path(tmp) / "report.html"
        page.write_text(render_html(audit, title="camscan certificate audit — lab site"), "utf-8")
        screenshot(page, args.png, width=1280, height=args.height)
    print(f"wrote {args.png} ({len(audit.scan.observations)} endpoints, {len(audit.findings)} findings)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
