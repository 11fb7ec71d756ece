"""Shared by the issuer tests: a lab of expired and stale devices, `camscan fix --issuer`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from camscan.lab import DeviceSpec
from tests.remediate.test_apply_lab import PERSONALITIES, Run

CONDITIONS = ("expired", "stale-ip")


def fleet() -> list[DeviceSpec]:
    return [DeviceSpec(p, c, name=f"{p}-{c}") for p in PERSONALITIES for c in CONDITIONS]


def write_issuers(tmp: Path, text: str) -> Path:
    path = tmp / "issuers.toml"
    path.write_text(text)
    return path


def apply_with(run: Run, issuer: str, issuers: Path, *extra: str) -> int:
    return run.fix(
        "--apply", "--yes", "--user", "admin", "--reboot-timeout", "10",
        "--issuer", issuer, "--issuers", str(issuers), *extra,
    )


def outcome(run: Run, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = run.outcomes()[run.lab.device(name).ip]
    return entry


def assert_all_fixed_by(run: Run, issuer_subject: str) -> None:
    """Every device fixed, serving a certificate from the issuer, and a clean rescan."""
    outcomes = run.outcomes()
    for device in run.lab.devices:
        entry = outcomes[device.ip]
        assert entry["outcome"]["status"] == "fixed", (device.name, entry["outcome"])
        assert entry["outcome"]["remaining"] == [], (device.name, entry["outcome"])
        assert run.issuer(device) == issuer_subject, device.name
