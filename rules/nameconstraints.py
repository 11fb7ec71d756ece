"""X.509 name constraints (RFC 5280 4.2.1.10) on iPAddress and dNSName entries: pure matching.

Shared by CS205 (a leaf outside its CA's constraints) and the site CA, which refuses to sign
such a leaf in the first place. Only the two name forms device certificates carry are
judged; a CA's constraints on other forms (e-mail, URI, directory names) are left to the
path validator (CS204).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


def constraints_of(cert: x509.Certificate) -> x509.NameConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None
    except (ValueError, TypeError):  # malformed (e.g. a 5-byte IPv4 subtree): CS204 reports it
        return None


def dns_within(name: str, subtree: str) -> bool:
    """RFC 5280 4.2.1.10: "example.com" holds example.com and every name below it; a
    leading dot (".example.com") only the names below it."""
    host = name.rstrip(".").lower()
    tree = subtree.rstrip(".").lower()
    if not tree:
        return True  # an empty dNSName constraint matches every name
    if tree.startswith("."):
        return host.endswith(tree)
    return host == tree or host.endswith("." + tree)


def ip_within(address: ipaddress.IPv4Address | ipaddress.IPv6Address, subtree: object) -> bool:
    return isinstance(subtree, Network) and address.version == subtree.version and address in subtree


def _matches(entry: x509.GeneralName, subtree: x509.GeneralName) -> bool | None:
    """None when `subtree` constrains another name form than `entry`'s."""
    if isinstance(entry, x509.DNSName) and isinstance(subtree, x509.DNSName):
        return dns_within(entry.value, subtree.value)
    if isinstance(entry, x509.IPAddress) and isinstance(subtree, x509.IPAddress):
        value = entry.value
        if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return ip_within(value, subtree.value)
        return False
    return None


@dataclass(frozen=True)
class Violation:
    name: str  # "IP:192.0.2.7" / "DNS:cam.example"
    reason: str  # "not permitted" / "excluded"


def violations(
    names: Iterable[x509.GeneralName], constraints: x509.NameConstraints
) -> list[Violation]:
    """The names `constraints` do not allow (RFC 5280 4.2.1.10: a name form with permitted
    subtrees must match one of them; no name may match an excluded subtree)."""
    permitted: Sequence[x509.GeneralName] = constraints.permitted_subtrees or ()
    excluded: Sequence[x509.GeneralName] = constraints.excluded_subtrees or ()
    found: list[Violation] = []
    for entry in names:
        if not isinstance(entry, x509.DNSName | x509.IPAddress):
            continue
        label = f"{'DNS' if isinstance(entry, x509.DNSName) else 'IP'}:{entry.value}"
        if any(_matches(entry, tree) for tree in excluded):
            found.append(Violation(label, "excluded"))
            continue
        same_form = [r for r in (_matches(entry, tree) for tree in permitted) if r is not None]
        if same_form and not any(same_form):
            found.append(Violation(label, "not permitted"))
    return found


def looks_like_host(common_name: str) -> bool:
    """Whether OpenSSL takes a Common Name for a host name (two or more LDH labels; an IPv4
    address in text such as "192.0.2.7" qualifies)."""
    labels = common_name.rstrip(".").split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def cn_violations(
    common_names: Iterable[str], names: Iterable[x509.GeneralName], constraints: x509.NameConstraints
) -> list[Violation]:
    """OpenSSL also checks a leaf's host-name-like Common Names against dNSName constraints
    when its SAN has no dNSName (x509_vfy.c check_name_constraints, NAME_CONSTRAINTS_check_CN):
    an IP-only leaf whose CN is its address fails under a CA that permits only DNS subtrees."""
    if any(isinstance(n, x509.DNSName) for n in names):
        return []
    found: list[Violation] = []
    for cn in common_names:
        if not looks_like_host(cn):
            continue
        entry = x509.DNSName(cn.rstrip(".").lower())
        for bad in violations([entry], constraints):
            found.append(Violation(f"CN:{cn}", bad.reason + " (OpenSSL checks a host-like CN as a DNS name)"))
    return found


def describe(constraints: x509.NameConstraints) -> dict[str, list[str]]:
    def text(trees: Sequence[x509.GeneralName] | None) -> list[str]:
        out = []
        for tree in trees or ():
            if isinstance(tree, x509.DNSName):
                out.append(f"DNS:{tree.value}")
            elif isinstance(tree, x509.IPAddress):
                out.append(f"IP:{tree.value}")
            else:
                out.append(f"{type(tree).__name__}:{tree.value}")
        return out

    return {
        "permitted": text(constraints.permitted_subtrees),
        "excluded": text(constraints.excluded_subtrees),
    }


def leaf_names(cert: x509.Certificate) -> list[x509.GeneralName]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except (x509.ExtensionNotFound, ValueError, TypeError):
        return []
