"""`camscan rules`: list every rule with its id, severity and title (`--json` for tools)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap

DESCRIPTION = "List every rule camscan applies: id, default severity, title and citation."
EPILOG = "Run `camscan explain ID` for one rule's full documentation."


def configure(parser: argparse.ArgumentParser) -> None:
    from camscan.rules.options import PROFILES

    parser.add_argument("--json", action="store_true", help="print the rules as a JSON array")
    parser.add_argument("--profile", choices=PROFILES, default="device",
                        help="the rules a profile judges with (webpki adds the CS6xx BR checks)")


def rule_entries(profile: str = "device") -> list[dict[str, str]]:
    from camscan.rules.registry import rules_for

    return [
        {
            "id": r.id,
            "severity": r.severity.value,
            "title": r.title,
            "citation": r.citation,
            "rationale": r.rationale,
            "remediation": r.remediation,
            "scope": "fleet" if r.check_fleet is not None else "endpoint",
            "profile": r.profile or "device",
        }
        for r in rules_for(profile)
    ]


def run(args: argparse.Namespace) -> int:
    entries = rule_entries(args.profile)
    if args.json:
        sys.stdout.write(json.dumps(entries, indent=2) + "\n")
        return 0
    sys.stdout.write(render_table(entries, shutil.get_terminal_size().columns))
    return 0


def render_table(entries: list[dict[str, str]], columns: int) -> str:
    """One line per rule when it fits in `columns`; else the citation goes on the next line,
    under the title, and long titles and citations wrap (COLUMNS, or 80 when piped)."""
    title_width = max((len(e["title"]) for e in entries), default=0)
    citation_width = max((len(e["citation"]) for e in entries), default=0)
    lead = f"{'':<6} {'':<8} "
    if len(lead) + title_width + 2 + citation_width <= columns:
        lines = [f"{'ID':<6} {'SEVERITY':<8} {'TITLE':<{title_width}}  CITATION"]
        lines += [
            f"{e['id']:<6} {e['severity']:<8} {e['title']:<{title_width}}  {e['citation']}"
            for e in entries
        ]
        return "\n".join(lines) + "\n"
    # At least 20 columns of text, even on a terminal narrower than the lead: wrapped, not lost.
    text_width = max(columns - len(lead), 20)
    lines = [f"{'ID':<6} {'SEVERITY':<8} TITLE / citation"]
    for e in entries:
        title = textwrap.wrap(e["title"], text_width, break_on_hyphens=False) or [""]
        lines.append(f"{e['id']:<6} {e['severity']:<8} {title[0]}")
        lines += [lead + more for more in title[1:]]
        lines += [lead + part for part in textwrap.wrap(e["citation"], text_width, break_on_hyphens=False)]
    return "\n".join(lines) + "\n"
