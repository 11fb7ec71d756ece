"""RFC 5280 5.3.1 revocation reason names, without importing cryptography (`camscan ca --help`
lists them and must stay light: tests/scanner/test_cli.py checks what --help imports).

certificateHold and removeFromCRL are left out: a hold that can be lifted needs more than an
inventory, and the CA/B Forum BRs forbid holds for server certificates.
"""

from __future__ import annotations

REASON_NAMES: tuple[str, ...] = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
)


def reason_key(name: str) -> str:
    """The comparison form: lowercase, "-" and "_" ignored ("key-compromise" == "keyCompromise")."""
    return name.strip().lower().replace("-", "").replace("_", "")
