#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml: exact versions with hashes, for every platform,
# so the README's install and test commands install what was tested, whatever PyPI releases next.
# Run it after changing a dependency in pyproject.toml, then run ./scripts/test.sh and commit both.
#   ./scripts/lock.sh            keep the locked versions that still satisfy pyproject.toml
#   ./scripts/lock.sh --upgrade  move every package to its newest release (then test!)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/uv ] || { python3 -m venv .venv && .venv/bin/python -m pip install -q "uv>=0.5"; }
common=(--universal --python-version 3.11 --generate-hashes --quiet "$@")
.venv/bin/uv pip compile "${common[@]}" --extra sites pyproject.toml requirements/build.in -o requirements/run.lock
.venv/bin/uv pip compile "${common[@]}" --extra test --extra sites pyproject.toml requirements/build.in -o requirements/test.lock
echo "wrote requirements/run.lock and requirements/test.lock"
