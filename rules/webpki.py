"""Shared by the WebPKI profile rules (CS6xx): the certificates a client's path holds.

The Baseline Requirements speak of every certificate of the path (root, intermediates, leaf),
so these rules judge the path the trust verdict built, the root included when one was found,
and fall back to the presented chain when no path was built.
"""

from __future__ import annotations

from cryptography import x509

from camscan.certinfo import is_self_issued
from camscan.model import AuditContext, Observation
from camscan.rules.profile_helpers import extension, presented
from camscan.rules.trust import chain_verdict

WEBPKI = "webpki"
BR = "CA/Browser Forum Baseline Requirements 2.1"


def path_certificates(obs: Observation, ctx: AuditContext) -> tuple[x509.Certificate, ...]:
    verdict = chain_verdict(obs, ctx)
    return verdict.path_certs or presented(obs)


def leaf_san(obs: Observation) -> tuple[list[str], list[str]]:
    """The leaf's dNSName and iPAddress SAN values (empty when it sent nothing or has no SAN)."""
    chain = presented(obs)
    san = extension(chain[0], x509.SubjectAlternativeName) if chain else None
    if san is None:
        return [], []
    value = san.value
    return value.get_values_for_type(x509.DNSName), [
        str(ip) for ip in value.get_values_for_type(x509.IPAddress)
    ]


def role(index: int, cert: x509.Certificate, length: int) -> str:
    """ "leaf", "intermediate" or "root" (the last certificate when it is self-issued)."""
    if index == 0:
        return "leaf"
    if index == length - 1 and is_self_issued(cert):  # names it cannot decode too
        return "root"
    return "intermediate"
