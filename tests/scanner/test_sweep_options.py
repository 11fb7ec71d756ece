"""camscan.scanner.options: one sweep built the same way from `camscan scan` flags, from an audit
config's [scan] section, and for the demo (which has no sweep flags of its own); and the trust
choices rules.options spells out so that `camscan --help` stays light."""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
from pathlib import Path

import pytest

from camscan.cli import build_parser
from camscan.config import ScanSection, load_config
from camscan.errors import UsageError
from camscan.rules import options as rule_options
from camscan.rules import trust
from camscan.scanner.options import (
    TARGET_SETTINGS,
    add_arguments,
    sweep_from_args,
    sweep_from_config,
    sweep_options,
)
from camscan.scanner.sweep import SweepOptions

SWEEP_FIELDS = {f.name for f in dataclasses.fields(SweepOptions)}


def _flag_dests() -> set[str]:
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    return set(vars(parser.parse_args([])))


def test_every_sweep_flag_names_a_sweep_field() -> None:
    # sweep_options reads settings by field name: a flag whose dest is not a field would be
    # parsed and then silently ignored.
    stray = _flag_dests() - SWEEP_FIELDS - set(TARGET_SETTINGS)
    assert not stray, f"flags with no SweepOptions field of that name: {sorted(stray)}"


# Set by camscan itself from another setting, or not worth a knob.
DERIVED_FIELDS = {"legacy_timeout", "resolve_timeout"}


def test_every_user_facing_sweep_field_has_a_flag_and_a_config_key() -> None:
    # The reverse direction: a new SweepOptions field nobody can set from the CLI or an audit
    # config is a feature that exists only in Python.
    config_keys = {f.name for f in dataclasses.fields(ScanSection)}
    assert SWEEP_FIELDS - DERIVED_FIELDS - _flag_dests() == set()
    assert SWEEP_FIELDS - DERIVED_FIELDS - config_keys == set()


def test_every_scan_config_key_names_a_sweep_field() -> None:
    stray = {f.name for f in dataclasses.fields(ScanSection)} - SWEEP_FIELDS - {*TARGET_SETTINGS, "targets"}
    assert not stray, f"[scan] keys with no SweepOptions field of that name: {sorted(stray)}"


def test_flags_and_config_give_the_same_sweep(tmp_path: Path) -> None:
    config = tmp_path / "camscan.toml"
    config.write_text(textwrap.dedent("""\
        [scan]
        targets = ["127.0.0.0/30", "127.0.1.9:8443"]
        ports = "443,8443"
        exclude = ["127.0.0.2"]
        concurrency = 17
        per_host = 3
        rate = 40.0
        connect_timeout = 1.5
        handshake_timeout = 2.5
        http_timeout = 0.5
        http_facts = false
        legacy_probe = false
        ws_discovery = false
        ws_discovery_timeout = 0.25
        """), encoding="utf-8")
    args = build_parser("scan", "camscan").parse_args([
        "127.0.0.0/30", "127.0.1.9:8443", "-p", "443,8443", "--exclude", "127.0.0.2",
        "--concurrency", "17", "--per-host", "3", "--rate", "40", "--connect-timeout", "1.5",
        "--handshake-timeout", "2.5", "--http-timeout", "0.5", "--no-http", "--no-legacy-probe",
        "--no-ws-discovery", "--ws-discovery-timeout", "0.25",
    ])
    from_flags = sweep_from_args(args)
    from_config = sweep_from_config(load_config(config).scan)
    assert from_flags.options == from_config.options
    assert from_flags.parameters == from_config.parameters
    assert list(from_flags.targets) == list(from_config.targets)
    options = from_flags.options
    assert (options.concurrency, options.per_host, options.rate) == (17, 3, 40.0)
    assert (options.http_facts, options.legacy_probe, options.http_timeout) == (False, False, 0.5)
    assert (options.ws_discovery, options.ws_discovery_timeout) == (False, 0.25)
    # A legacy hello's answer is awaited as long as a handshake, from either source.
    assert options.legacy_timeout == 2.5
    assert from_flags.parameters.excluded == ("127.0.0.2",)
    assert from_flags.parameters.ports == (443, 8443)


def test_a_command_without_sweep_flags_gets_the_scan_defaults() -> None:
    scan_defaults = sweep_from_args(build_parser("scan", "camscan").parse_args(["127.0.0.1"])).options
    demo = sweep_options(argparse.Namespace(legacy_probe=False, quiet=True), concurrency=64)
    assert demo == dataclasses.replace(scan_defaults, concurrency=64, legacy_probe=False)
    # The flag's default (on), not SweepOptions' own (off): the demo probes as the scan does.
    assert sweep_options(argparse.Namespace()).legacy_probe is True


def test_bad_settings_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--per-host"):
        sweep_options(argparse.Namespace(), per_host=0)
    args = build_parser("scan", "camscan").parse_args(["127.0.0.1", "-p", "70000"])
    with pytest.raises(UsageError, match="port 70000 is out of range"):
        sweep_from_args(args)


def test_trust_choices_match_the_trust_module() -> None:
    # rules.options spells the modes out so `camscan --help` need not import cryptography.
    assert rule_options.TRUST_MODES == trust.TRUST_MODES
    assert rule_options.PUBLIC == trust.PUBLIC
