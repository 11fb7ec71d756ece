#!/usr/bin/env bash
# Install everything the test suite needs, then run it: lint, types, the manual, tests.
# This is the README's test command and exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: libpcap for scapy, chromium for the HTML report test, systemd-analyze for the
# cron/systemd unit checks, iproute2 for the network-namespace tests, redis-server for the site
# worker tests (each test starts its own on loopback; the service is not used), pebble (the ACME
# test server) and openssl for the issuer tests, nftables (DROP vs REJECT firewalls) and
# util-linux (setpriv, an unprivileged scanner) for the discovery LAN tests. Installed only when
# missing and when we may (root).
need=()
for pkg in libpcap0.8 chromium iproute2 systemd redis-server pebble openssl nftables util-linux; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "note: not root; missing ${need[*]} (the tests that need them will skip)" >&2
  fi
fi

# Exactly the versions the suite was last run with (requirements/test.lock, hashes checked), so a
# release upstream cannot break this command; scripts/test-latest.sh tries the newest releases.
python3 -m venv .venv
.venv/bin/python -m pip install -q --require-hashes --no-deps -r requirements/test.lock
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .

.venv/bin/ruff check .
./scripts/typecheck.sh
# The manual (docs/, mkdocs.yml): strict, so a broken link or anchor, or a page left out of the
# nav, fails. Offline: no web fonts, no plugin that fetches.
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet -d build/site
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
