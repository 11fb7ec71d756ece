"""The documents the rules, the plans and the lab cite by short name, with their full titles and
where to read them. `camscan explain` prints the ones a rule names; docs/sources.md lists them."""

from __future__ import annotations

# short name (as cited in rule texts, plans and help) -> full title and address
SOURCES: dict[str, str] = {
    "Sunell HTTPS FAQ": "Sunell Security, FAQ: HTTPS certificates (Solution 1 \"Use self-signed CA "
    "certificate built-in firmware\", Solution 2 \"Use self-signed CA certificate\", Solution 3 \"Use "
    "public CA certificate\", Q1-Q5), https://www.sunellsecurity.com/faq/",
    "OpenMV TLS guide": "OpenMV documentation, 15.3.4 \"CA-signed (publicly trusted) certificates\", "
    "https://docs.openmv.io/openmvcam/tutorial/production/tls/ca-signed.html",
    "Milestone": "Milestone Systems, XProtect VMS certificates guide, \"Introduction to certificates\", "
    "https://doc.milestonesys.com/",
}


def cited_in(*texts: str) -> list[str]:
    """The full titles of the sources named in `texts`, in SOURCES order."""
    joined = " ".join(texts)
    return [title for short, title in SOURCES.items() if short in joined]
