"""`camscan rules`: list every rule with its id, severity and title (`--json` for tools)."""

from __future__ import annotations

import argparse
import json
import sys

DESCRIPTION = "List every rule camscan applies: id, default severity, title and citation."
EPILOG = "Run `camscan explain ID` for one rule's full documentation."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the rules as a JSON array")


def rule_entries() -> list[dict[str, str]]:
    from camscan.rules.registry import all_rules

    return [
        {
            "id": r.id,
            "severity": r.severity.value,
            "title": r.title,
            "citation": r.citation,
            "rationale": r.rationale,
            "remediation": r.remediation,
            "scope": "fleet" if r.check_fleet is not None else "endpoint",
        }
        for r in all_rules()
    ]


def run(args: argparse.Namespace) -> int:
    entries = rule_entries()
    if args.json:
        sys.stdout.write(json.dumps(entries, indent=2) + "\n")
        return 0
    width = max(len(e["title"]) for e in entries) if entries else 0
    sys.stdout.write(f"{'ID':<6} {'SEVERITY':<8} {'TITLE':<{width}}  CITATION\n")
    for e in entries:
        sys.stdout.write(f"{e['id']:<6} {e['severity']:<8} {e['title']:<{width}}  {e['citation']}\n")
    return 0
