"""Headless Chromium for the HTML report tests and the README screenshot (no network at all)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def run_chromium(url: str, extra: Sequence[str], *, timeout: float = 90) -> str:
    """Run headless Chromium once on `url`; return stdout (the DOM with --dump-dom)."""
    browser = find_chromium()
    assert browser is not None
    with tempfile.TemporaryDirectory(prefix="camscan-chromium-") as profile:
        proc = subprocess.run(
            [
                browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--no-default-browser-check", "--mute-audio",
                # The report must need no network; make sure it could not use any.
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                f"--user-data-dir={profile}", *extra, url,
            ],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


def dump_dom(page: Path, fragment: str = "", *, budget_ms: int = 3000) -> str:
    """The DOM after the page's scripts ran (virtual time lets timers fire too)."""
    return run_chromium(
        page.resolve().as_uri() + fragment, [f"--virtual-time-budget={budget_ms}", "--dump-dom"]
    )


def screenshot(page: Path, out: Path, *, width: int = 1280, height: int = 1900) -> None:
    run_chromium(
        page.resolve().as_uri(),
        ["--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={out.resolve()}",
         "--virtual-time-budget=2000", "--force-device-scale-factor=1"],
    )


def print_pdf(page: Path, out: Path) -> None:
    run_chromium(page.resolve().as_uri(), ["--no-pdf-header-footer", f"--print-to-pdf={out.resolve()}"])
