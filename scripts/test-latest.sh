#!/usr/bin/env bash
# The test suite against the newest release of every dependency pyproject.toml allows, in a venv of
# its own (.venv-latest): what a user who runs `pip install camscan` today gets. A failure here is
# an upstream release that will break users: fix camscan, then ./scripts/lock.sh --upgrade.
# (The README's test command, ./scripts/test.sh, installs the locked versions instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-latest
.venv-latest/bin/python -m pip install -q --upgrade pip
.venv-latest/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e '.[test]'
.venv-latest/bin/python -m pip list --format=freeze > build/latest-versions.txt 2>/dev/null || true
.venv-latest/bin/python -m pytest -q -p no:cacheprovider "$@"
