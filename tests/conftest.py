"""Shared pytest configuration. Fixtures specific to an area live in that area's test modules."""


def pytest_terminal_summary(terminalreporter: object) -> None:
    """How many SOAP messages were checked against the official ONVIF schemas this run."""
    from tests.support.soapcheck import TALLY

    if TALLY.bodies or TALLY.answers:
        write = terminalreporter.write_line
        write(f"ONVIF schema check: {TALLY.bodies} bodies sent by the drivers and {TALLY.answers} lab "
              f"answers validated; {TALLY.vendor_only} Axis aweb messages (no published schema) "
              "checked as SOAP 1.2 envelopes only")
