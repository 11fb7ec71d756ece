"""What the site CA checks before it signs: camscan's own rules on the would-be certificate.

The site CA is a root every client of the site trusts, so it signs nothing camscan would
flag on the result and nothing for a name that is not the device's. The request is checked
first (its signature, the hash it was signed with, a Common Name that is not one of the
device's names); then the certificate is built, and every registered rule judges it, through
the offline check (`camscan check`'s code path), once for each name clients will use:
each IP address and each DNS name. Any finding refuses it. The one exception is CS109 (a
lifetime above 398 days) when the operator asked for it with --force-days.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from camscan.errors import UsageError

# A CSR's signature proves possession of the key; MD5 and SHA-1 no longer prove it
# (RFC 6151, RFC 9155; chosen-prefix collisions on SHA-1: "SHA-1 is a Shambles", 2020).
WEAK_CSR_HASHES = (hashes.MD5, hashes.SHA1)
LONG_VALIDITY_RULE = "CS109"


class SigningRefused(UsageError):
    """The site CA will not sign: the request or the would-be certificate fails a check."""

    exit_code = 2


def normalise_name(value: str) -> str:
    """An IP in its canonical text, a DNS name lowercased without a trailing dot."""
    text = value.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.rstrip(".").lower()


_LDH_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def dns_name_error(name: str) -> str | None:
    """Why `name` is not a host name a certificate may carry (RFC 1123 LDH labels, A-labels
    for internationalised names, at most 253 characters), or None."""
    text = name.rstrip(".").lower()
    if not text:
        return "empty"
    if not text.isascii():
        return "not ASCII (write an internationalised name as its xn-- A-label)"
    if len(text) > 253 or not all(_LDH_LABEL.match(label) for label in text.split(".")):
        return "not a host name (letters, digits and hyphens in dot-separated labels)"
    return None


def device_names(ips: Sequence[str], dns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The device's addresses (canonical text) and DNS names (lowercase), each validated:
    a bad one is a one-line error naming it."""
    addresses = []
    for ip in ips:
        try:
            addresses.append(str(ipaddress.ip_address(ip.strip())))
        except ValueError:
            raise SigningRefused(f"--ip {ip!r}: not an IPv4 or IPv6 address") from None
    names = []
    for name in dns:
        problem = dns_name_error(name)
        if problem:
            raise SigningRefused(f"--dns {name!r}: {problem}")
        names.append(name.rstrip(".").lower())
    return list(dict.fromkeys(addresses)), list(dict.fromkeys(names))


def csr_common_names(csr: x509.CertificateSigningRequest) -> list[str]:
    return [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def check_request(csr: x509.CertificateSigningRequest) -> None:
    """The request itself: a signature that verifies, made with a hash that still proves it."""
    from cryptography.exceptions import UnsupportedAlgorithm

    # The hash first: the library may not verify a SHA-1 signature at all, and "does not
    # verify" would hide the actual reason.
    try:
        algorithm = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        raise SigningRefused("the CSR is signed with an algorithm camscan does not accept") from None
    if isinstance(algorithm, WEAK_CSR_HASHES):
        raise SigningRefused(
            f"the CSR is signed with {algorithm.name.upper()}, which no longer proves possession "
            "of the key: refusing to sign (have the device make a SHA-256 CSR, or use `ca issue`)"
        )
    if not csr.is_signature_valid:
        raise SigningRefused("the CSR's signature does not verify: it was altered or is not a CSR")


def foreign_common_names(csr: x509.CertificateSigningRequest, names: Iterable[str]) -> list[str]:
    """The CSR's Common Names that are not among the device's names."""
    own = {normalise_name(n) for n in names}
    return [cn for cn in csr_common_names(csr) if normalise_name(cn) not in own]


def rule_findings(
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    ips: Sequence[str],
    dns: Sequence[str],
    *,
    allow: frozenset[str] = frozenset(),
) -> list[str]:
    """"RULE: message" for every finding camscan's rules make on `chain` for any of the names,
    judged offline against the site CA alone (--trust site), as a device would present it."""
    from camscan import pki
    from camscan.model import AuditContext
    from camscan.rules.offline import check_chain
    from camscan.rules.trust.anchors import Bundle, TrustConfig

    config = TrustConfig(mode="site", site_bundles=(Bundle("the site CA", tuple(anchors)),), offline=True)
    now = pki.utcnow()
    seen: dict[str, None] = {}
    targets = [(ip, None) for ip in ips] + [(None, name) for name in dns]
    for ip, name in targets:
        result = check_chain(list(chain), AuditContext(now=now, trust=config), ip=ip, dns=name)
        for finding in result.findings:
            if finding.rule_id not in allow:
                seen[f"{finding.rule_id} {finding.message}"] = None
    return list(seen)


def vet_certificate(
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    ips: Sequence[str],
    dns: Sequence[str],
    *,
    force_days: bool = False,
) -> None:
    """Refuse (SigningRefused) a would-be certificate camscan's rules flag for any name."""
    allow = frozenset({LONG_VALIDITY_RULE}) if force_days else frozenset()
    problems = rule_findings(chain, anchors, ips, dns, allow=allow)
    if problems:
        more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
        raise SigningRefused(
            "refusing to sign: camscan's rules flag the result: " + "; ".join(problems[:2]) + more
        )
