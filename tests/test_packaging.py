"""The user's folders (scanner/, rules/, ...) must install as camscan.* sub-packages, never top level."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_maps_user_folders_into_the_camscan_package(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
        cwd=tmp_path,
    )
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
    ):
        assert expected in names, expected
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "camscan = camscan.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
