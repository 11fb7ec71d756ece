"""The JSON report records which optional probes the sweep ran, as the flags set them."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from camscan.cli import main

SCHEMA = json.loads(files("camscan.schemas").joinpath("report-v1.schema.json").read_text())


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], {"http_facts": True, "http_timeout": 3.0, "legacy_probe": True, "ws_discovery": True}),
        (["--no-http", "--no-legacy-probe", "--no-ws-discovery"],
         {"http_facts": False, "http_timeout": None, "legacy_probe": False, "ws_discovery": False}),
    ],
)
def test_parameters_say_which_probes_ran(
    tmp_path: Path, flags: list[str], expected: dict[str, object]
) -> None:
    report = tmp_path / "scan.json"
    # Port 9 on loopback is refused: nothing but the parameters matters here.
    assert main(["127.0.0.1", "-p", "9", "-q", "--offline", "--json", str(report), *flags]) == 0
    document = json.loads(report.read_text())
    jsonschema.validate(document, SCHEMA)
    assert {key: document["parameters"][key] for key in expected} == expected
