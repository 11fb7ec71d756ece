"""Name matching for the name rules (CS105-CS108): RFC 6125 for host names, octets for IPs.

Kept apart from path validation on purpose: a name mismatch must never hide a missing
intermediate or an untrusted root, and the reverse (sslyze reports only the first error).
The Common Name is never used for matching (RFC 6125 6.4.4; CA/B Forum BRs 7.1.4.3): clients
that still fall back to it are exactly the ones the user cannot rely on.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from cryptography import x509

from camscan.model import Observation

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class SanView:
    """The leaf's subjectAltName, as the name rules need it."""

    present: bool
    dns: tuple[str, ...] = ()
    ips: tuple[IPAddress, ...] = ()
    other: tuple[str, ...] = field(default_factory=tuple)
    error: str | None = None  # set when the extension is present but does not parse

    def evidence(self) -> dict[str, object]:
        return {
            "san_dns_names": list(self.dns),
            "san_ip_addresses": [str(ip) for ip in self.ips],
        }


def san_view(cert: x509.Certificate) -> SanView:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return SanView(present=False)
    except Exception as exc:  # present but malformed: it exists, clients will refuse it
        return SanView(present=True, error=str(exc))
    dns: list[str] = []
    ips: list[IPAddress] = []
    other: list[str] = []
    for entry in ext.value:
        if isinstance(entry, x509.DNSName):
            dns.append(entry.value)
        elif isinstance(entry, x509.IPAddress) and isinstance(
            entry.value, ipaddress.IPv4Address | ipaddress.IPv6Address
        ):
            ips.append(entry.value)
        else:
            other.append(f"{type(entry).__name__}:{entry.value}")
    return SanView(True, tuple(dns), tuple(ips), tuple(other))


def target_of(obs: Observation) -> tuple[str, str]:
    """("dns", name) when the endpoint was reached by name, else ("ip", address)."""
    if obs.endpoint.server_name:
        return ("dns", obs.endpoint.server_name)
    return ("ip", obs.endpoint.address)


def ip_in_san(address: str, view: SanView) -> bool:
    """Octet comparison: 192.0.2.1 never equals ::ffff:192.0.2.1 (RFC 5280 4.2.1.6: 4 or 16 octets)."""
    wanted = ipaddress.ip_address(address).packed
    return any(ip.packed == wanted for ip in view.ips)


def ip_literal(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip().rstrip("."))
    except ValueError:
        return None


def _normalise(name: str) -> str | None:
    """Lower-case ASCII without the trailing dot; None for names that cannot match (non-ASCII)."""
    name = name.strip().rstrip(".")
    if not name or not name.isascii():
        return None
    return name.lower()


def dns_name_matches(host: str, pattern: str) -> bool:
    """RFC 6125 6.4: exact match, or a wildcard that is the whole left-most label.

    No partial wildcards ("ba*.example.com"), no wildcard beyond the left-most label, one label
    only ("*.example.com" does not match "a.b.example.com"), never "*.tld", never for an IP.
    """
    h = _normalise(host)
    p = _normalise(pattern)
    if h is None or p is None or ip_literal(h) is not None:
        return False
    if "*" not in p:
        return h == p
    labels = p.split(".")
    if labels[0] != "*" or any("*" in label for label in labels[1:]) or len(labels) < 3:
        return False
    host_labels = h.split(".")
    if len(host_labels) != len(labels) or not host_labels[0]:
        return False
    return host_labels[1:] == labels[1:]


def dns_in_san(host: str, view: SanView) -> str | None:
    """The dNSName SAN that matches `host`, or None."""
    return next((d for d in view.dns if dns_name_matches(host, d)), None)


def ips_written_as_dns(view: SanView) -> list[str]:
    return [d for d in view.dns if ip_literal(d) is not None]
