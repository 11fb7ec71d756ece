"""The site CA's settings (DIR/ca.json) and the name constraints `ca init` puts on it."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from camscan.errors import UsageError


def name_constraints(permit_ips: Sequence[str], permit_dns: Sequence[str]) -> x509.NameConstraints | None:
    """Permitted subtrees from --permit-ip CIDR and --permit-dns NAME (None when neither)."""
    trees: list[x509.GeneralName] = []
    for text in permit_ips:
        try:
            trees.append(x509.IPAddress(ipaddress.ip_network(text.strip(), strict=True)))
        except ValueError:
            raise UsageError(f"--permit-ip {text!r}: expected a network such as 192.0.2.0/24") from None
    from camscan.remediate.signcheck import dns_name_error

    for text in permit_dns:
        name = text.strip().rstrip(".").lower()
        problem = dns_name_error(name.removeprefix("."))
        if problem:
            raise UsageError(
                f"--permit-dns {text!r}: {problem}; expected a DNS name such as cameras.example.internal"
            )
        trees.append(x509.DNSName(name))
    return x509.NameConstraints(permitted_subtrees=trees, excluded_subtrees=None) if trees else None


@dataclass(frozen=True)
class Settings:
    two_level: bool = False
    crl_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"format": 1, "two_level": self.two_level, "crl_url": self.crl_url}


def read_settings(path: Path) -> Settings:
    if not path.exists():
        return Settings()  # a CA made before the settings file existed
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Settings(bool(data.get("two_level", False)), data.get("crl_url") or None)
    except (OSError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: unreadable CA settings ({type(exc).__name__})") from None


def check_crl_url(url: str | None) -> None:
    """An http(s) URL in ASCII with a host (RFC 5280 4.2.1.13: clients fetch CRLs over HTTP)."""
    if url is None:
        return
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not url.isascii() or " " in url:
        raise UsageError(f"--crl-url {url!r}: expected an http:// URL in ASCII (RFC 5280 4.2.1.13)")


def check_common_name(name: str) -> None:
    if not 1 <= len(name) <= 64:  # RFC 5280 upper bound ub-common-name
        raise UsageError(f"--name {name!r}: between 1 and 64 characters")
