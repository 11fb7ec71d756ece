#!/usr/bin/env bash
# mypy cannot follow setuptools' package-dir mapping (camscan.scanner lives in scanner/), so
# type-check a link tree that has the installed shape: camscan/, camscan/scanner/, ...
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree" && mkdir -p "$tree/camscan"
# mypy skips symbolic links when it walks a package, so copy (errors name build/typecheck paths:
# strip that prefix to find the source file).
cp -r src/camscan/. "$tree/camscan/"
for sub in scanner rules reports lab remediate sites; do cp -r "$sub" "$tree/camscan/$sub"; done
find "$tree" -name __pycache__ -prune -exec rm -rf {} +
MYPYPATH="$tree" exec .venv/bin/mypy "$@" -p camscan
