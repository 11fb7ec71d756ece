"""The one environment variable PKCS#12 passwords come from, everywhere: CAMSCAN_P12_PASSWORD.

`camscan ca issue --format p12` once read CAMSCAN_P12_PASSPHRASE while `camscan check` read
CAMSCAN_P12_PASSWORD. The old name still works, anywhere, with a warning, until it is removed.
"""

from __future__ import annotations

import os
import sys

P12_ENV = "CAMSCAN_P12_PASSWORD"
DEPRECATED_P12_ENV = "CAMSCAN_P12_PASSPHRASE"


def p12_password() -> str | None:
    """$CAMSCAN_P12_PASSWORD, else the deprecated $CAMSCAN_P12_PASSPHRASE (with a warning)."""
    value = os.environ.get(P12_ENV)
    if value is not None:
        return value
    value = os.environ.get(DEPRECATED_P12_ENV)
    if value is not None:
        print(
            f"camscan: warning: {DEPRECATED_P12_ENV} is deprecated; set {P12_ENV} instead",
            file=sys.stderr,
        )
    return value
