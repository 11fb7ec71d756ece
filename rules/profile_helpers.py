"""Small pure helpers shared by the certificate-profile, expiry, protocol and fleet rules.

Nothing here raises on a strange certificate: an extension that does not parse reads as
absent, a signature that cannot be checked reads as "not verified".
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography import x509

from camscan import certinfo
from camscan.certinfo import is_self_signed
from camscan.model import Endpoint, Observation, canonical_mac

ExtensionT = TypeVar("ExtensionT", bound=x509.ExtensionType)

# How many other endpoints a fleet finding lists; the count is always given in full.
MAX_LISTED = 20


def iso(moment: dt.datetime) -> str:
    return certinfo.utc(moment)


def presented(obs: Observation) -> tuple[x509.Certificate, ...]:
    """The parsed chain as sent, leaf first; certificates that do not parse are left out."""
    try:
        return obs.chain
    except Exception:
        return tuple(c for c in map(_parse, obs.chain_der) if c is not None)


def _parse(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except Exception:
        return None


def leaf_of(obs: Observation) -> x509.Certificate | None:
    if not obs.chain_der:
        return None
    try:
        return obs.leaf
    except Exception:
        return _parse(obs.chain_der[0])


def role(index: int, cert: x509.Certificate) -> str:
    """'leaf' for position 0; 'root' for a self-signed certificate further up; else 'intermediate'."""
    if index == 0:
        return "leaf"
    return "root" if is_self_signed(cert) else "intermediate"


def cert_ref(index: int, cert: x509.Certificate, cert_role: str | None = None) -> dict[str, Any]:
    """Which certificate of the presented chain a violation is about (JSON-ready)."""
    return {
        "position": index,
        "role": cert_role or role(index, cert),
        "subject": certinfo.subject_text(cert),
        "issuer": certinfo.issuer_text(cert),
        "sha256": certinfo.cert_sha256(cert),
    }


def extension(cert: x509.Certificate, cls: type[ExtensionT]) -> x509.Extension[ExtensionT] | None:
    """The extension, or None when absent or unparseable (a parse error is another rule's finding)."""
    try:
        return cert.extensions.get_extension_for_class(cls)
    except Exception:
        return None


def ip_names(cert: x509.Certificate) -> list[str]:
    """Addresses a certificate names: iPAddress SANs, then CNs that parse as an IP (CN-only devices)."""
    found: list[str] = []
    candidates = certinfo.subject_alt_names(cert)["ip"] + certinfo.common_names(cert)
    for text in candidates:
        try:
            address = str(ipaddress.ip_address(text.strip()))
        except ValueError:
            continue
        if address not in found:
            found.append(address)
    return found


def same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


@dataclass
class _UnionFind:
    parent: dict[object, object]

    def find(self, item: object) -> object:
        self.parent.setdefault(item, item)
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:  # path compression keeps large fleets linear
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def device_of(observations: Sequence[Observation]) -> dict[Endpoint, object]:
    """Endpoint -> device token. Two endpoints are one device when they share an address
    (two ports), a MAC or a serial number: a camera on 443 and 8443 is not a "fleet"."""
    uf = _UnionFind({})
    for obs in observations:
        node = ("endpoint", obs.endpoint)
        uf.union(node, ("address", _norm_address(obs.endpoint.address)))
        if obs.identity.mac:
            uf.union(node, ("mac", canonical_mac(obs.identity.mac)))
        if obs.identity.serial:
            uf.union(node, ("serial", obs.identity.serial.strip().upper()))
    return {obs.endpoint: uf.find(("endpoint", obs.endpoint)) for obs in observations}


def _norm_address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def listed(endpoints: Sequence[Endpoint], exclude: Endpoint | None = None) -> list[str]:
    """Labels of `endpoints` (already sorted) other than `exclude`, capped at MAX_LISTED.

    Stops after MAX_LISTED entries: a factory key shared by thousands of cameras must not make
    the fleet rules quadratic.
    """
    others = (str(e) for e in endpoints if e != exclude)
    return list(itertools.islice(others, MAX_LISTED))


def groups_by(
    observations: Sequence[Observation], key_of: dict[Endpoint, str]
) -> Iterator[tuple[str, list[Observation], int]]:
    """Groups of observations sharing a key that span more than one device: (key, members, devices)."""
    devices = device_of(observations)
    members: dict[str, list[Observation]] = {}
    for obs in observations:
        key = key_of.get(obs.endpoint)
        if key is not None:
            members.setdefault(key, []).append(obs)
    for key in sorted(members):
        group = members[key]
        distinct = len({devices[o.endpoint] for o in group})
        if distinct > 1:
            yield key, sorted(group, key=lambda o: o.endpoint.sort_key), distinct
