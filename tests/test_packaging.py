"""The user's folders (scanner/, rules/, ...) must install as camscan.* sub-packages, never top level."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_maps_user_folders_into_the_camscan_package(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    # setuptools warns when a data folder is not declared as a package: keep the build quiet.
    assert "would be ignored" not in build.stdout + build.stderr
    (wheel,) = tmp_path.glob("camscan-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/", 1)[0] for n in names if not n.startswith("camscan-")}
    assert top_level == {"camscan"}, top_level
    for expected in (
        "camscan/cli.py",
        "camscan/model.py",
        "camscan/scanner/__init__.py",
        "camscan/rules/registry.py",
        "camscan/reports/__init__.py",
        "camscan/lab/__init__.py",
        "camscan/py.typed",
        "camscan/schemas/report-v1.schema.json",
        "camscan/reports/templates/report.html.j2",
        "camscan/lab/fleets/default.toml",
        "camscan/rules/trust/verdict.py",
        "camscan/remediate/plan.py",
        "camscan/remediate/drivers/onvif.py",
        "camscan/schemas/fix-v1.schema.json",
        "camscan/sites/central.py",
    ):
        assert expected in names, expected
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "camscan = camscan.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
