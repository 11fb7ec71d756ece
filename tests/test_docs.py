"""The manual (docs/, README.md) against the code: statements that drift fail here.

Each test reads what a page states (the command list, the options of a command, the defaults
quoted in option and config tables, the report schema versions, the rule tables) and compares
it with what the program defines, so changing the code without the manual, or the manual
without the code, fails the suite. The strict MkDocs build (scripts/test.sh) catches broken
links and pages missing from the nav; these catch wrong facts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from camscan.cli import COMMANDS, build_parser
from camscan.config_model import EmailConfig, ScanSection, WebhookConfig
from camscan.errors import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE
from camscan.lab import default_fleet
from camscan.model import SCHEMA_VERSION
from camscan.remediate.render import FIX_SCHEMA_VERSION
from camscan.rules.registry import all_rules

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _page(relative: str) -> str:
    return (DOCS / relative).read_text(encoding="utf-8")


def _all_pages() -> Iterator[tuple[Path, str]]:
    for path in sorted(DOCS.rglob("*.md")):
        yield path, path.read_text(encoding="utf-8")
    yield ROOT / "README.md", (ROOT / "README.md").read_text(encoding="utf-8")


def _table_rows(text: str) -> Iterator[tuple[list[str], list[str]]]:
    """(header, cells) for every body row of every Markdown table, outside code blocks."""
    header: list[str] | None = None
    fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        if fence or not line.startswith("|"):
            header = None
            continue
        # A `\|` inside a cell is text, not a column separator.
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if header is None:
            header = [c.lower() for c in cells]
        elif not set(line) <= set("|-: "):
            yield header, cells


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every user-facing option of a command, subcommands (`camscan ca init`...) included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)
        elif (
            action.option_strings
            and action.help != argparse.SUPPRESS
            and not {"-h", "--help", "--version"} & set(action.option_strings)
        ):
            yield action


def _mentions(text: str, option: str) -> bool:
    return re.search(re.escape(option) + r"(?![\w-])", text) is not None


# --- the command list ---------------------------------------------------------------------


def test_command_table_lists_exactly_the_cli_commands() -> None:
    listed = [
        re.fullmatch(r"\[`camscan (\w+)`\]\((\w+)\.md\)", cells[0])
        for header, cells in _table_rows(_page("commands/index.md"))
        if header[0] == "command"
    ]
    assert all(listed), "every row of the command table is [`camscan NAME`](NAME.md)"
    names = [m.group(1) for m in listed if m]
    assert names == list(COMMANDS), "docs/commands/index.md lists the commands of cli.COMMANDS, in order"
    assert all(m.group(1) == m.group(2) for m in listed if m)


def test_every_command_has_its_page_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert (DOCS / "commands" / f"{name}.md").is_file(), name
        assert f"commands/{name}.md" in nav, f"mkdocs.yml nav lacks commands/{name}.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"(docs/commands/{name}.md)" in readme, f"the README's manual links lack {name}"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_is_documented_on_its_command_page(command: str) -> None:
    page = _page(f"commands/{command}.md")
    undocumented = [
        action.option_strings[-1]
        for action in _actions(build_parser(command, f"camscan {command}"))
        if not any(_mentions(page, option) for option in action.option_strings)
    ]
    assert not undocumented, f"docs/commands/{command}.md does not mention {undocumented}"


# --- defaults -----------------------------------------------------------------------------

# Options whose parser default is None because the value comes from the fleet file.
_LAB = default_fleet().settings
_RESOLVED_DEFAULTS: dict[tuple[str, str], object] = {
    ("lab", "--block"): _LAB.block,
    ("lab", "--downtime"): _LAB.reboot_downtime,
}


def _same(quoted: str, default: object) -> bool:
    quoted = quoted.strip("`\"' ")
    if isinstance(default, bool):
        return quoted.lower() in (("on", "true") if default else ("off", "false"))
    if isinstance(default, int | float):
        try:
            return float(quoted) == float(default)
        except ValueError:
            return False
    return quoted.rstrip("/").removeprefix("./") == str(default)


def _quoted_defaults() -> Iterator[tuple[str, str, str, object]]:
    """(command, option, default the page quotes, default the code has) from option tables."""
    for command in COMMANDS:
        actions = {o: a for a in _actions(build_parser(command, "camscan")) for o in a.option_strings}
        for header, cells in _table_rows(_page(f"commands/{command}.md")):
            options = re.findall(r"`(--[\w-]+)", cells[0])
            owners = {id(actions[o]) for o in options if o in actions}
            if not options or len(owners) != 1 or any(o not in actions for o in options):
                continue
            action = actions[options[0]]
            if "default" in header:
                quoted = cells[header.index("default")]
            else:
                match = re.search(r"\(default:? `?([^\s,;)`]+)", " ".join(cells))
                if match is None:
                    continue
                quoted = match.group(1)
            code = _RESOLVED_DEFAULTS.get((command, options[0]), action.default)
            # Empty, "unlimited", "from the scan"...: words, not values; only values are compared.
            if quoted and re.fullmatch(r"[\d.]+|on|off|[\w./-]*[/.][\w./-]*", quoted) and code is not None:
                yield command, options[0], quoted, code


def test_defaults_quoted_in_option_tables_are_the_parsers() -> None:
    checked = list(_quoted_defaults())
    wrong = [(c, o, q, d) for c, o, q, d in checked if not _same(q, d)]
    assert not wrong, f"docs quote defaults the code does not have: {wrong}"
    # The check must have something to check: the scan, lab and fix tables quote defaults.
    assert {("scan", "--concurrency"), ("fix", "--parallel"), ("lab", "--block")} <= {
        (c, o) for c, o, _, _ in checked
    }


def test_config_defaults_in_the_audit_page_are_the_config_models() -> None:
    sections = {"`[scan]`": ScanSection, "`[notify.webhook]`": WebhookConfig, "`[notify.email]`": EmailConfig}
    checked = 0
    for _, cells in _table_rows(_page("commands/audit.md")):
        model = sections.get(cells[0])
        if model is None:
            continue
        fields = {f.name: f.default for f in dataclasses.fields(model)}
        for key, quoted in re.findall(r"`(\w+)` \(([^)]*)\)", cells[1]):
            value = quoted.split(";")[0].split(" ")[0].strip('"')
            default = fields.get(key, dataclasses.MISSING)
            if default is dataclasses.MISSING or default is None or not re.fullmatch(r"[\w.\[\]-]+", value):
                continue
            if isinstance(default, tuple | dict) or (isinstance(default, str) and not quoted.startswith('"')):
                continue
            value = value.lower() if isinstance(default, bool) else value
            assert _same(value, default), (cells[0], key, quoted)
            checked += 1
    assert checked >= 15, checked


# --- versions, rules, exit codes ------------------------------------------------------------


def test_report_schema_version_quoted_everywhere_is_the_codes() -> None:
    schema_file = resources.files("camscan.schemas").joinpath("report-v1.schema.json")
    schema = json.loads(schema_file.read_text("utf-8"))
    assert re.fullmatch(schema["properties"]["schema_version"]["pattern"], SCHEMA_VERSION)
    quoted = []
    for path, text in _all_pages():
        for version in re.findall(r"schema_version[`\"]?\s*:?\s*\"(\d+\.\d+)\"", text):
            quoted.append((path.name, version))
        for version in re.findall(r"schema_version` \"(\d+\.\d+)\"", text):
            quoted.append((path.name, version))
    assert len(quoted) >= 5, quoted
    assert all(v == SCHEMA_VERSION for _, v in quoted), quoted
    json_page = _page("reports/json.md")
    assert f'`"{SCHEMA_VERSION}"`' in json_page
    assert f'`"{FIX_SCHEMA_VERSION}"`' in _page("reports/fix-json.md")


def test_rule_tables_list_exactly_the_registered_rules() -> None:
    rules = {r.id: r for r in all_rules()}
    documented = {}
    for header, cells in _table_rows(_page("rules.md")):
        if header[:2] == ["id", "severity"]:
            documented[cells[0]] = cells[1]
    assert set(documented) == set(rules), set(documented) ^ set(rules)
    for rule_id, severity in documented.items():
        assert severity.split()[0] == rules[rule_id].severity.value, (rule_id, severity)
    words = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
    webpki = [r for r in rules.values() if r.profile == "webpki"]
    assert f"get {words[len(webpki)]}\nmore rules" in _page("rules.md") or (
        f"get {words[len(webpki)]} more rules" in _page("rules.md")
    )


def test_exit_code_table_is_the_codes() -> None:
    rows = _table_rows(_page("commands/index.md"))
    codes = [int(cells[0]) for header, cells in rows if header[0] == "code"]
    assert codes == [EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_RUNTIME, EXIT_LOCKED, EXIT_INTERRUPTED]


def test_no_internal_seed_numbers_in_what_a_user_reads() -> None:
    """The vendor guides are cited by title (docs/sources.md), in the manual and in every rule's
    text (`camscan explain`, the SARIF help, `camscan rules --json`)."""
    for path, text in _all_pages():
        assert not re.search(r"seed 00\d", text), f"{path.name} cites a seed number, not a title"
    for rule in all_rules():
        text = " ".join((rule.doc, rule.citation, rule.rationale, rule.remediation, rule.title))
        assert not re.search(r"seed 00\d", text), f"{rule.id} cites a seed number, not a title"
