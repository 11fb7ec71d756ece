"""Every SOAP body camscan's ONVIF and Axis drivers send in these tests, and every SOAP answer
the lab gives them, must validate against the official ONVIF schemas (tests/support/soapcheck.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import soapcheck


@pytest.fixture(autouse=True)
def soap_conformance(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    problems = soapcheck.install(monkeypatch, requests=True)
    yield
    assert problems == [], "SOAP messages that do not validate:\n" + "\n".join(problems[:20])
