"""Fixtures for the report-format tests: a lab-like audit built from real certificates."""

from __future__ import annotations

import pytest

from camscan.model import AuditResult
from tests.reports.sample import build_audit


@pytest.fixture(scope="session")
def audit() -> AuditResult:
    """The sample fleet, with a hostile certificate subject and HTTP Server header."""
    return build_audit(hostile=True)


@pytest.fixture(scope="session")
def clean_audit() -> AuditResult:
    return build_audit(hostile=False)
