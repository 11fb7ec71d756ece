"""Structural chain analysis: who signed whom, independent of policy.

cryptography's verifier answers "is there a valid path?" with one error string; an auditor needs
to know *why* there is none: the device did not send an intermediate, the chain ends at a root no
anchor vouches for, or the chain is broken (wrong order, unrelated certificates, a signature that
does not verify). This module answers those questions with names and signatures only, so the
answer never depends on which error the verifier happened to hit first.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from camscan.certinfo import (
    cert_der,
    cert_sha256,
    dsa_tolerated,
    is_dsa,
    issuer_der,
    public_key,
    signature_verifies,
    spki_der,
    subject_der,
    subject_text,
)

MAX_DEPTH = 8  # longest path we try to build (leaf included); real device chains have 2-4


@dataclass(frozen=True)
class Candidate:
    """A certificate available for path building, and where it came from."""

    cert: x509.Certificate
    source: str  # "presented", "intermediates-file", "cache", "aia", "anchor"
    where: str = ""  # file path or URL, for the evidence

    @property
    def sha256(self) -> str:
        return cert_sha256(self.cert)


@functools.lru_cache(maxsize=16384)
def identity(cert: x509.Certificate) -> tuple[bytes, bytes]:
    """Subject and key: a re-issued root with the same name and key is the same anchor."""
    return (subject_der(cert), spki_der(cert))


@dataclass
class SignatureCache:
    """verify_directly_issued_by results, memoised (a fleet repeats the same pairs)."""

    results: dict[tuple[bytes, bytes], str] = field(default_factory=dict)

    def check(self, child: x509.Certificate, parent: x509.Certificate) -> str:
        """"ok", "name" (parent's subject is not child's issuer), "signature" (does not verify),
        or "unsupported" (a key or algorithm we cannot verify with)."""
        key = (cert_der(child), cert_der(parent))
        found = self.results.get(key)
        if found is not None:
            return found
        try:
            names_differ = child.issuer != parent.subject
        except ValueError:  # a name cryptography cannot decode: compare what the DER says
            names_differ = issuer_der(child) != subject_der(parent)
        if names_differ:
            result = "name"
        else:
            try:
                if is_dsa(parent):
                    with dsa_tolerated():
                        child.verify_directly_issued_by(parent)
                else:
                    child.verify_directly_issued_by(parent)
                result = "ok"
            except InvalidSignature:
                result = "signature"
            except Exception:
                # cryptography refuses SHA-1/MD5 signatures and some key types outright; old
                # device chains use exactly those, so check them with the any-hash verifier.
                try:
                    parent_key = public_key(parent)
                except Exception:
                    parent_key = None
                verified = parent_key is not None and signature_verifies(child, parent_key)
                result = "ok" if verified else "unsupported"
        self.results[key] = result
        return result


def is_self_signed(cert: x509.Certificate, sigs: SignatureCache) -> bool:
    return sigs.check(cert, cert) == "ok"


@dataclass(frozen=True)
class PathSearch:
    """The outcome of building a path from the leaf through the available material."""

    path: tuple[Candidate, ...]  # leaf first; ends at an anchor when `anchored`
    anchored: bool
    # Name matches whose signature does not verify: (child, would-be issuer).
    bad_signatures: tuple[tuple[Candidate, Candidate], ...] = ()


class AnchorIndex:
    """Trust anchors indexed by subject and identity, built once per store (Mozilla has ~150)."""

    def __init__(self, certs: Sequence[x509.Certificate]) -> None:
        self.certs = tuple(certs)
        self.ids = frozenset(identity(c) for c in self.certs)
        self.by_subject: dict[bytes, tuple[Candidate, ...]] = {}
        for cert in self.certs:
            key = subject_der(cert)
            self.by_subject[key] = (*self.by_subject.get(key, ()), Candidate(cert, "anchor"))


def build_path(
    leaf: x509.Certificate,
    material: Sequence[Candidate],
    anchors: AnchorIndex | Sequence[x509.Certificate],
    sigs: SignatureCache,
) -> PathSearch:
    """Depth-first search for a path from `leaf` to an anchor, preferring material in order.

    When no anchored path exists, the longest partial path is returned: its top certificate is
    either a self-signed root no anchor vouches for, or a certificate whose issuer is nowhere.
    """
    index = anchors if isinstance(anchors, AnchorIndex) else AnchorIndex(tuple(anchors))
    anchor_ids = index.ids
    by_subject: dict[bytes, list[Candidate]] = {}
    for cand in material:
        by_subject.setdefault(subject_der(cand.cert), []).append(cand)
    for key, cands in index.by_subject.items():
        by_subject.setdefault(key, []).extend(cands)

    best: list[tuple[Candidate, ...]] = [(Candidate(leaf, "presented"),)]
    bad: dict[tuple[bytes, bytes], tuple[Candidate, Candidate]] = {}

    def is_anchor(cert: x509.Certificate) -> bool:
        return identity(cert) in anchor_ids

    def search(path: tuple[Candidate, ...]) -> tuple[Candidate, ...] | None:
        current = path[-1].cert
        if is_anchor(current):
            return path
        if len(path) > len(best[0]):
            best[0] = path
        if len(path) >= MAX_DEPTH:
            return None
        seen = {identity(c.cert) for c in path}
        issuers = by_subject.get(issuer_der(current), [])
        # Anchors first among equals: a path that ends at once is the shortest explanation.
        for cand in sorted(issuers, key=lambda c: c.source != "anchor"):
            if identity(cand.cert) in seen:
                continue
            verdict = sigs.check(current, cand.cert)
            if verdict == "signature":
                bad[(cert_der(current), cert_der(cand.cert))] = (path[-1], cand)
                continue
            if verdict != "ok":
                continue
            found = search((*path, cand))
            if found is not None:
                return found
        return None

    found = search(best[0])
    if found is not None:
        return PathSearch(found, True, tuple(bad.values()))
    return PathSearch(best[0], False, tuple(bad.values()))


@dataclass(frozen=True)
class ChainProblem:
    """A defect of the presented chain itself (CS203)."""

    kind: str  # "bad_signature", "order", "unrelated", "duplicate"
    message: str
    certificates: tuple[str, ...]  # subjects (RFC 4514) of the certificates concerned


def presented_problems(
    presented: Sequence[x509.Certificate],
    search: PathSearch,
    anchors: Sequence[x509.Certificate],
    sigs: SignatureCache,
) -> list[ChainProblem]:
    """Order, unrelated and duplicate certificates, and signatures that do not verify."""
    problems: list[ChainProblem] = []
    ders = [cert_der(c) for c in presented]
    seen: set[bytes] = set()
    for cert, der in zip(presented, ders, strict=True):
        if der in seen:
            problems.append(
                ChainProblem("duplicate", f"the certificate {_subject(cert)} is sent more than once",
                             (_subject(cert),))
            )
        seen.add(der)

    if not search.anchored:
        # A name match whose signature fails is only "broken" when nothing else explains the
        # child: a complete path through another certificate makes the bad one merely unrelated.
        top = search.path[-1].cert
        for child, parent in search.bad_signatures:
            if cert_der(child.cert) == cert_der(top):
                problems.append(
                    ChainProblem(
                        "bad_signature",
                        f"the signature of {_subject(child.cert)} does not verify with the key of "
                        f"{_subject(parent.cert)} ({parent.source}), which bears its issuer's name",
                        (_subject(child.cert), _subject(parent.cert)),
                    )
                )

    on_path = {cert_der(c.cert) for c in search.path}
    # Certificates above the path's top are related too (a root sent after an intermediate
    # that is itself an anchor, as with a site that trusts its issuing CA directly).
    related = set(on_path)
    frontier = [search.path[-1].cert]
    pool = list(presented[1:])
    while frontier:
        below = frontier.pop()
        for cand in pool:
            der = cert_der(cand)
            if der not in related and sigs.check(below, cand) == "ok":
                related.add(der)
                frontier.append(cand)
    for cert in presented[1:]:
        if cert_der(cert) not in related:
            problems.append(
                ChainProblem(
                    "unrelated",
                    f"the device sends {_subject(cert)}, which is not part of the leaf's chain",
                    (_subject(cert),),
                )
            )

    # Order: the presented certificates that are on the path must follow it, each one
    # directly after the certificate it signed (RFC 5246 7.4.2; TLS 1.3 tolerates, many
    # embedded clients do not).
    path_presented = [c.cert for c in search.path[1:] if c.source == "presented"]
    if path_presented:
        positions = [ders.index(cert_der(c)) for c in path_presented]
        if positions != sorted(positions):
            problems.append(
                ChainProblem(
                    "order",
                    "the chain is not in order: each certificate should be followed by its issuer "
                    f"(sent: {', '.join(_subject(c) for c in presented)})",
                    tuple(_subject(c) for c in path_presented),
                )
            )
    return problems


def _subject(cert: x509.Certificate) -> str:
    text = subject_text(cert)
    return text or "(empty subject)"


def subjects(certs: Iterable[x509.Certificate]) -> list[str]:
    return [_subject(c) for c in certs]


def aia_ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    """caIssuers URLs (http/https only: an AIA URL is device-controlled)."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except Exception:
        return []
    urls: list[str] = []
    for desc in aia:
        if desc.access_method != x509.oid.AuthorityInformationAccessOID.CA_ISSUERS:
            continue
        if isinstance(desc.access_location, x509.UniformResourceIdentifier):
            url = desc.access_location.value
            if url.lower().startswith(("http://", "https://")):
                urls.append(url)
    return urls
