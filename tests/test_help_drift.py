"""What --help says that code can contradict later: the defaults it names, the presets and counts
it quotes, the exit codes it lists, and the sources it cites. Each is read from the help text
and compared with the parser or the constant it describes, so changing one without the other
fails here instead of misleading a user."""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from camscan import errors
from camscan.cli import COMMANDS, EPILOG, build_parser
from camscan.config_model import DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS
from camscan.lab.fleet import default_fleet
from camscan.scanner.targets import PORT_PRESETS

Option = tuple[str, argparse.ArgumentParser, argparse.Action]

# Options whose parser default is None because the real default is decided later: where it is.
_lab = default_fleet().settings
LATER: dict[tuple[str, str], Callable[[], object]] = {
    ("lab", "block"): lambda: _lab.block,
    ("lab", "https_port"): lambda: _lab.https_port,
    ("lab", "http_port"): lambda: _lab.http_port,
    ("lab", "downtime"): lambda: _lab.reboot_downtime,
    ("history", "keep_runs"): lambda: DEFAULT_KEEP_RUNS,
    ("history", "keep_days"): lambda: DEFAULT_KEEP_DAYS,
}
# Defaults that are a behaviour, not a value (None in the parser): the words the help uses.
BEHAVIOUR = {
    "rate": "unlimited",
    "as_of": "now",
    "fleet": "the built-in fleet",
    "out": "a new temporary directory",  # demo's (lab's --out has a value)
    "log": "camscan-audit.log beside the history",
    "driver": "from what the scan learnt",
    "audit_log": "STATE/audit.log",
    "state": "the --ca directory",
    "move_to_site_ca": "trust the built-in CA on clients and reboot when the certificate is stale",
}


def _options() -> Iterator[Option]:
    def walk(name: str, parser: argparse.ArgumentParser) -> Iterator[Option]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    yield from walk(f"{name} {sub}", subparser)
            elif action.help and action.help != argparse.SUPPRESS:
                yield name, parser, action

    for command in COMMANDS:
        yield from walk(command, build_parser(command, f"camscan {command}"))


def _stated_default(action: argparse.Action) -> str | None:
    """The default the help text states, as written, or None when it states none."""
    text = " ".join(str(action.help).split())
    # "public: Mozilla roots (default); site: ..." and "refuse (default) or ..."
    chosen = re.search(r"(?:^|; )([\w-]+): [^;]*\(default(?: for the \w+)?\)", text) or re.search(
        r"([\w-]+) \(default\)", text
    )
    if chosen:
        return chosen.group(1)
    # "(default: the config's, else 1000)": the value camscan falls back to
    stated = re.search(r"(?:\(|; |, )default:? (?:the config's, else )?(\"[^\"]*\"|[^;,)]+)", text)
    return stated.group(1).strip().strip('"') if stated else None


def _same(stated: str, actual: object) -> bool:
    if isinstance(actual, bool):
        return stated == ("on" if actual else "off")
    if isinstance(actual, int | float):
        number = re.match(r"^-?\d+(?:\.\d+)?", stated)
        return number is not None and float(number.group(0)) == float(actual)
    return stated.removeprefix("./") == str(actual).removeprefix("./")


def _cases() -> list[Any]:
    seen: set[tuple[str, str]] = set()
    cases = []
    for name, parser, action in _options():
        stated = _stated_default(action)
        command = name.split()[0]
        if stated is None or (command, action.dest) in seen:
            continue
        seen.add((command, action.dest))
        cases.append(pytest.param(name, parser, action, stated, id=f"{name} --{action.dest}"))
    return cases


@pytest.mark.parametrize(("name", "parser", "action", "stated"), _cases())
def test_every_default_in_help_is_the_real_one(
    name: str, parser: argparse.ArgumentParser, action: argparse.Action, stated: str
) -> None:
    command = name.split()[0]
    actual = parser.get_default(action.dest)
    if actual is None and (command, action.dest) in LATER:
        actual = LATER[(command, action.dest)]()
    if actual is None or (isinstance(actual, bool) and action.dest in BEHAVIOUR):
        # Nothing in the parser to compare with: the help's words must be the recorded ones.
        assert stated == BEHAVIOUR.get(action.dest), f"{name}: {action.help!r}"
        return
    assert _same(stated, actual), (
        f"{name} {action.option_strings}: help says {stated!r}, the default is {actual!r}"
    )


def test_the_default_reader_finds_the_defaults_it_should() -> None:
    """The parser above is itself checked: options that state a default are all found."""
    found = {(n.split()[0], a.dest) for n, _, a, _ in (c.values for c in _cases())}
    for expected in [
        ("scan", "concurrency"),
        ("scan", "trust"),
        ("scan", "legacy_probe"),
        ("demo", "trust"),
        ("merge", "duplicates"),
        ("fix", "reboot_timeout"),
        ("lab", "out"),
        ("cron", "schedule"),
    ]:
        assert expected in found
    assert len(found) >= 30


def test_port_presets_in_help_are_the_presets() -> None:
    help_text = next(a.help for n, _, a in _options() if n == "scan" and a.dest == "ports")
    cameras = re.search(r"'cameras' \(([\d,]+)\)", str(help_text))
    vms = re.search(r"'vms' \(cameras \+ [^)]*?([\d,]+)\)", str(help_text))
    assert cameras and vms
    assert tuple(int(p) for p in cameras.group(1).split(",")) == PORT_PRESETS["cameras"]
    extra = tuple(int(p) for p in vms.group(1).split(","))
    assert PORT_PRESETS["vms"] == PORT_PRESETS["cameras"] + extra


def test_the_exit_code_table_is_the_codes() -> None:
    listed = dict(re.findall(r"^ +(\d+) +(\S.*)$", EPILOG.split("exit codes:")[1], re.M))
    assert {int(code) for code in listed} == {
        errors.EXIT_OK,
        errors.EXIT_FINDINGS,
        errors.EXIT_USAGE,
        errors.EXIT_RUNTIME,
        errors.EXIT_LOCKED,
        errors.EXIT_INTERRUPTED,
        errors.EXIT_BROKEN_PIPE,
    }


def test_the_demo_names_the_size_of_its_fleet() -> None:
    from camscan.commands import demo

    sizes = re.findall(r"(\d+)-device lab", demo.EPILOG)
    assert sizes and {int(s) for s in sizes} == {len(default_fleet().devices)}


def test_what_a_user_reads_cites_documents_by_title_not_by_seed_number() -> None:
    """Rule documentation, plans, option help and the lab's scenarios name the vendor guides
    they rest on by title (docs/sources.md lists them); "seed 001" meant nothing to a user."""
    from camscan.lab.scenarios import SCENARIOS
    from camscan.rules.registry import all_rules
    from camscan.rules.sources import SOURCES, cited_in

    texts = [str(a.help) for _, _, a in _options()]
    texts += [build_parser(c, f"camscan {c}").format_help() for c in COMMANDS]
    for rule in all_rules():
        texts += [rule.doc, rule.citation, rule.rationale, rule.remediation]
    texts += [s.description for s in SCENARIOS.values()]
    # The plans' steps are written in the planner's source (camscan fix prints them).
    from camscan.remediate import plan

    texts.append(inspect.getsource(plan))
    seed = re.compile(r"\bseeds? ?\d{3}\b", re.I)
    assert not [t for t in texts if seed.search(t)]
    # ... and every short name used is one `camscan explain` can expand.
    assert {title for t in texts for title in cited_in(t)} == set(SOURCES.values())
