"""`camscan explain ID`: print one rule's documentation (what, why, how to fix)."""

from __future__ import annotations

import argparse
import inspect
import sys

DESCRIPTION = "Print a rule's documentation: what it checks, why it matters, how to fix it."
EPILOG = "example:\n  camscan explain CS105"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule_id", metavar="ID", help="a rule id such as CS105 (see `camscan rules`)")


def run(args: argparse.Namespace) -> int:
    from camscan.errors import UsageError
    from camscan.rules.registry import all_rules, get_rule

    rule = get_rule(args.rule_id)
    if rule is None:
        known = ", ".join(r.id for r in all_rules())
        raise UsageError(f"no rule {args.rule_id!r} (known: {known})")
    doc = inspect.cleandoc(rule.doc)
    out = sys.stdout
    out.write(f"{rule.id} [{rule.severity.value}] {rule.title}\n\n")
    out.write(doc.rstrip() + "\n\n")
    out.write(f"Citation: {rule.citation}\n")
    out.write(f"Rationale: {rule.rationale}\n")
    out.write(f"Remediation: {rule.remediation}\n")
    from camscan.rules.sources import cited_in

    for title in cited_in(rule.doc, rule.citation, rule.rationale, rule.remediation):
        out.write(f"Source: {title}\n")
    return 0
