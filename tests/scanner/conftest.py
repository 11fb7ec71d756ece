"""Fixtures for the scanner tests: a small PKI, and a helper that starts servers on 127.x."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan import pki

WEAK = Path(__file__).resolve().parents[1] / "data" / "weak" / "tls-server"

# Each test server gets its own 127.x address so per-host limits and ordering are real.
_hosts = itertools.count(2)


@pytest.fixture
def next_host() -> Iterator[object]:
    def allocate() -> str:
        n = next(_hosts)
        return f"127.42.{(n // 250) % 250}.{n % 250 + 2}"

    yield allocate


@pytest.fixture(scope="session")
def root_ca() -> pki.Issued:
    return pki.make_ca("camscan test root")


@pytest.fixture(scope="session")
def intermediate_ca(root_ca: pki.Issued) -> pki.Issued:
    return pki.make_ca("camscan test intermediate", issuer=root_ca)
