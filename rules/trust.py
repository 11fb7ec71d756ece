"""Trust anchors, path building and the chain verdict: one verdict per presented chain.

How trust is decided (the README's "how trust is decided" says the same for users):

1. Anchors: the Mozilla roots (certifi) plus every `--ca-bundle FILE`; with `--trust site`, the
   bundles alone (the public verdict is then computed too, and reported as information).
2. Path building, in order: the chain as the device presented it; then with the intermediates
   of `--intermediates FILE`; then with the local cache of intermediates; then with the
   certificates fetched from the AIA caIssuers URL (see `prefetch`, never with `--offline`).
   The first stage that reaches an anchor tells where a missing intermediate was found.
3. Policy: the path is checked with cryptography's x509.verification (RFC 5280 + CA/B Forum
   profile, the audit clock injected), against a name the leaf itself carries. The peer's
   name is judged by the name rules (CS105-CS108), so a name mismatch never hides a missing
   intermediate or an untrusted root (sslyze's first-error-only flaw).
4. Verdict: trusted; missing intermediate (found in AIA / file / cache, or nowhere); untrusted
   root (a self-signed certificate no anchor vouches for: a device's built-in CA, a
   self-signed leaf); broken chain (a signature that does not verify, wrong order, unrelated
   certificates); or another path validation failure. Each is reported by its own rule.
5. An issuer that is not sent and found nowhere is either a missing intermediate or a root
   the device never sends (seed 001: the firmware's built-in CA signs the leaf directly and
   the device sends only the leaf). camscan cannot see that certificate, so it infers a root
   (CS202, `inferred: true`) when at least one of these holds, and says which:
   - vendor_pattern: the issuer's name is a known firmware built-in CA (rules/vendor_pki.py);
   - fleet: the same issuer (name and authority key id) signs the leaves of at least
     FLEET_MIN_DEVICES devices (distinct addresses) in this scan, no certificate presented
     anywhere in the scan bears its name, and none of those leaves has an AIA caIssuers URL
     (a per-model firmware CA; a CA that hands out intermediates also publishes them, and at
     least one device of a site usually sends its intermediate);
   - root_name: the issuer's CN calls it a root ("Product Root CA", "... Root CA") and the
     certificate it signed has no AIA caIssuers URL (a root is never sent: RFC 8446 4.4.2
     lets servers omit it, so its absence is normal, while an AIA URL would say the issuer
     is meant to be fetched, as intermediates are).
   Otherwise it stays "missing intermediate, found nowhere" (CS201). An AIA URL never turns
   into an inference except through the vendor table: x509-limbo's incomplete chains keep CS201.

Rules stay pure: the only I/O (AIA over HTTP, the cache directory) happens in `prefetch`,
before evaluation, and in TrustConfig's lazy file loading. `prefetch` also indexes the scan's
leaf issuers (`index_fleet`, no I/O), the fleet context a per-chain verdict cannot see.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509 import verification as xv

from camscan.certinfo import cert_der, cert_sha256, is_self_issued
from camscan.errors import UsageError
from camscan.model import AuditContext, Endpoint, Observation
from camscan.rules.chains import (
    AnchorIndex,
    Candidate,
    ChainProblem,
    PathSearch,
    SignatureCache,
    aia_ca_issuer_urls,
    build_path,
    identity,
    is_self_signed,
    presented_problems,
)
from camscan.rules.vendor_pki import built_in_ca_named, says_root

PUBLIC = "public"
SITE = "site"
TRUST_MODES = (PUBLIC, SITE)

_VERDICT_KEY = "camscan.rules.trust.verdict"
_PUBLIC_VERDICT_KEY = "camscan.rules.trust.public_verdict"
_AIA_KEY = "camscan.rules.trust.aia"
_SIGS_KEY = "camscan.rules.trust.signatures"
_FLEET_KEY = "camscan.rules.trust.fleet"

# Devices (distinct addresses) whose leaves one unsent, unfetchable issuer must sign before
# camscan infers a per-model firmware CA from the fleet alone. Two devices with leaf-only
# uploads from a private intermediate are plausible; three of one issuer, with no device of
# the scan ever sending it and no AIA URL anywhere, is the firmware pattern of seed 001.
FLEET_MIN_DEVICES = 3
FLEET_LISTED = 5  # addresses named in the evidence

AIA_TIMEOUT = 3.0  # seconds per fetch: a dead AIA server must not stall an audit
AIA_MAX_BYTES = 256 * 1024  # an intermediate is ~1-2 KB; a PKCS#7 bundle a few KB
AIA_ROUNDS = 3  # fetched intermediates may themselves point at their issuer's AIA
AIA_CONCURRENCY = 8
CACHE_MAX_FILES = 2000


# ---------------------------------------------------------------- loading certificates


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """PEM (one or many), DER, or PKCS#7 (DER or PEM). Raises ValueError if none is found."""
    from cryptography.hazmat.primitives.serialization import pkcs7

    stripped = data.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        if b"-----BEGIN PKCS7-----" in data or b"-----BEGIN CMS-----" in data:
            return list(pkcs7.load_pem_pkcs7_certificates(data))
        if b"-----BEGIN CERTIFICATE-----" in data or b"-----BEGIN X509 CERTIFICATE-----" in data:
            return list(x509.load_pem_x509_certificates(data))
        raise ValueError("PEM data without a CERTIFICATE block")
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    try:
        certs = list(pkcs7.load_der_pkcs7_certificates(data))
    except Exception as exc:
        raise ValueError("neither PEM, DER nor PKCS#7 certificates") from exc
    if not certs:
        raise ValueError("a PKCS#7 structure without certificates")
    return certs


@dataclass(frozen=True)
class Bundle:
    """Certificates read from one file the user named."""

    path: str
    certs: tuple[x509.Certificate, ...]


def load_bundle(path: str | os.PathLike[str], *, option: str = "--ca-bundle") -> Bundle:
    """Read a PEM or DER bundle; an unreadable or empty file is a one-line UsageError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise UsageError(f"{option} {path}: the file is empty")
    try:
        certs = parse_certificates(data)
    except ValueError as exc:
        raise UsageError(f"{option} {path}: no certificate found ({exc})") from exc
    return Bundle(str(path), tuple(certs))


@functools.cache
def public_anchors() -> tuple[x509.Certificate, ...]:
    """The Mozilla root program's anchors as shipped by certifi."""
    import certifi
    from cryptography.utils import CryptographyDeprecationWarning

    with open(certifi.where(), "rb") as handle, warnings.catch_warnings():
        # One Mozilla root has a non-positive serial; cryptography warns, and a library
        # warning about the user's trust store is noise they cannot act on.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return tuple(x509.load_pem_x509_certificates(handle.read()))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "camscan" / "intermediates"


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TrustConfig:
    """What the audit trusts and where it may look for missing intermediates."""

    mode: str = PUBLIC
    site_bundles: tuple[Bundle, ...] = ()
    intermediates: tuple[Bundle, ...] = ()
    offline: bool = False
    cache_dir: Path | None = None  # None: no cache (neither read nor written)
    aia_timeout: float = AIA_TIMEOUT
    aia_max_bytes: int = AIA_MAX_BYTES

    def __post_init__(self) -> None:
        if self.mode not in TRUST_MODES:
            raise UsageError(f"--trust {self.mode!r}: expected one of {', '.join(TRUST_MODES)}")
        if self.mode == SITE and not any(b.certs for b in self.site_bundles):
            raise UsageError("--trust site needs at least one --ca-bundle FILE (the site's CA)")

    @cached_property
    def site_anchors(self) -> tuple[x509.Certificate, ...]:
        return tuple(c for b in self.site_bundles for c in b.certs)

    @cached_property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        if self.mode == SITE:
            return self.site_anchors
        return public_anchors() + self.site_anchors

    @cached_property
    def store(self) -> xv.Store:
        return xv.Store(list(self.anchors))

    @cached_property
    def anchor_index(self) -> AnchorIndex:
        return AnchorIndex(self.anchors)

    @cached_property
    def public_store(self) -> xv.Store:
        return _public_store()

    def anchor_source(self, cert: x509.Certificate) -> str:
        wanted = identity(cert)
        for bundle in self.site_bundles:
            if any(identity(c) == wanted for c in bundle.certs):
                return f"--ca-bundle {bundle.path}"
        return "Mozilla root store (certifi)"

    @cached_property
    def file_intermediates(self) -> tuple[Candidate, ...]:
        return tuple(
            Candidate(c, "intermediates-file", b.path) for b in self.intermediates for c in b.certs
        )

    @cached_property
    def cached_intermediates(self) -> tuple[Candidate, ...]:
        """Intermediates fetched by earlier runs (DER files named by their SHA-256)."""
        if self.cache_dir is None or not self.cache_dir.is_dir():
            return ()
        found: list[Candidate] = []
        for entry in sorted(self.cache_dir.glob("*.der"))[:CACHE_MAX_FILES]:
            try:
                cert = x509.load_der_x509_certificate(entry.read_bytes())
            except (OSError, ValueError):
                continue  # a corrupt cache entry is not the user's problem
            found.append(Candidate(cert, "cache", str(entry)))
        return tuple(found)


@functools.cache
def public_index() -> AnchorIndex:
    return AnchorIndex(public_anchors())


@functools.cache
def _public_store() -> xv.Store:
    return xv.Store(list(public_anchors()))


_DEFAULT_CONFIG: TrustConfig | None = None


def config_of(ctx: AuditContext) -> TrustConfig:
    """ctx.trust, or (for contexts built without options) public trust, offline, no cache."""
    global _DEFAULT_CONFIG
    if isinstance(ctx.trust, TrustConfig):
        return ctx.trust
    if _DEFAULT_CONFIG is None:
        _DEFAULT_CONFIG = TrustConfig(offline=True)
    return _DEFAULT_CONFIG


# ---------------------------------------------------------------- verdict


class ChainStatus(enum.StrEnum):
    TRUSTED = "trusted"
    MISSING_INTERMEDIATE = "missing_intermediate"
    UNTRUSTED_ROOT = "untrusted_root"
    BROKEN_CHAIN = "broken_chain"
    INVALID_PATH = "invalid_path"


@dataclass(frozen=True)
class MissingIntermediate:
    """An issuer the device should have sent, and where camscan found it (or did not)."""

    issuer_of: str  # subject of the certificate whose issuer was not sent
    subject: str  # subject of the missing intermediate (its expected name when not found)
    found_in: str | None  # "aia", "intermediates-file", "cache"; None: found nowhere
    where: str = ""  # the URL or file it came from
    sha256: str | None = None
    aia_urls: tuple[str, ...] = ()
    aia_errors: tuple[str, ...] = ()

    def evidence(self) -> dict[str, Any]:
        return {
            "issuer_of": self.issuer_of,
            "missing_subject": self.subject,
            "found_in": self.found_in,
            "where": self.where or None,
            "sha256": self.sha256,
            "aia_urls": list(self.aia_urls),
            "aia_errors": list(self.aia_errors),
        }


@dataclass(frozen=True)
class PolicyFailure:
    """A path exists but path validation rejects it, and why."""

    kind: str  # validity, weak_key, not_a_ca, path_length, key_usage, eku, name_constraints, ...
    error: str  # the verifier's own words
    certificates: tuple[str, ...] = ()
    # The rule that already reports this for a presented certificate (CS204 then stays quiet).
    covered_by: str | None = None


@dataclass(frozen=True)
class ChainVerdict:
    status: ChainStatus
    trust_mode: str
    anchored: bool
    path: tuple[str, ...]  # subjects, leaf first
    path_sources: tuple[str, ...]
    anchor: str | None = None
    anchor_source: str | None = None
    missing: tuple[MissingIntermediate, ...] = ()
    untrusted_root: dict[str, Any] | None = None
    problems: tuple[ChainProblem, ...] = ()
    policy_failures: tuple[PolicyFailure, ...] = ()
    policy_checked: bool = True
    public_status: str | None = None  # with --trust site: the Mozilla verdict, as information

    @property
    def trusted(self) -> bool:
        return self.status is ChainStatus.TRUSTED

    def summary(self) -> dict[str, Any]:
        """JSON-ready evidence shared by the chain rules."""
        data: dict[str, Any] = {
            "chain_status": self.status.value,
            "trust_mode": self.trust_mode,
            "path": list(self.path),
            "path_sources": list(self.path_sources),
            "anchor": self.anchor,
            "anchor_source": self.anchor_source,
        }
        if self.public_status is not None:
            data["public_trust_status"] = self.public_status
        if not self.policy_checked:
            data["policy_checked"] = False
        return data


def chain_verdict(obs: Observation, ctx: AuditContext) -> ChainVerdict:
    """The verdict on `obs`'s presented chain, computed once per chain and cached in ctx.cache.

    Name-agnostic: the same chain on two endpoints gets one verdict.
    """
    cfg = config_of(ctx)
    cache: dict[tuple[bytes, ...], ChainVerdict] = ctx.cache.setdefault(_VERDICT_KEY, {})
    found = cache.get(obs.chain_der)
    if found is not None:
        return found
    verdict = _compute(obs.chain, cfg, cfg.anchor_index, cfg.store, ctx)
    if cfg.mode == SITE:
        # The site's own CAs are known material: without them a private chain would read as
        # "missing intermediate" against the public roots instead of "untrusted root".
        site = [Candidate(c, "site-bundle") for c in cfg.site_anchors]
        public = _compute(obs.chain, cfg, public_index(), cfg.public_store, ctx, site)
        verdict = _replace_public(verdict, public.status.value)
    cache[obs.chain_der] = verdict
    return verdict


def _replace_public(verdict: ChainVerdict, status: str) -> ChainVerdict:
    return replace(verdict, public_status=status)


def _signatures(ctx: AuditContext) -> SignatureCache:
    sigs = ctx.cache.get(_SIGS_KEY)
    if not isinstance(sigs, SignatureCache):
        sigs = ctx.cache[_SIGS_KEY] = SignatureCache()
    return sigs


def _stages(
    chain: Sequence[x509.Certificate],
    cfg: TrustConfig,
    ctx: AuditContext,
    extra: Sequence[Candidate] = (),
) -> list[list[Candidate]]:
    """Path-building material, in the order the issue prescribes."""
    presented = [Candidate(c, "presented") for c in chain[1:]] + list(extra)
    fetched = [
        Candidate(cert, "aia", url)
        for url, result in sorted(aia_results(ctx).items())
        for cert in result.certs
    ]
    return [presented, list(cfg.file_intermediates), list(cfg.cached_intermediates), fetched]


def _search(
    chain: Sequence[x509.Certificate],
    cfg: TrustConfig,
    anchors: AnchorIndex,
    ctx: AuditContext,
    extra: Sequence[Candidate] = (),
) -> tuple[PathSearch, list[Candidate]]:
    sigs = _signatures(ctx)
    material: list[Candidate] = []
    search: PathSearch | None = None
    for index, stage in enumerate(_stages(chain, cfg, ctx, extra)):
        if index > 0 and not stage:
            continue  # nothing new to try
        material = [*material, *stage]
        search = build_path(chain[0], material, anchors, sigs)
        if search.anchored:
            break
    assert search is not None
    return search, material


def _compute(
    chain: Sequence[x509.Certificate],
    cfg: TrustConfig,
    anchors: AnchorIndex,
    store: xv.Store,
    ctx: AuditContext,
    extra: Sequence[Candidate] = (),
) -> ChainVerdict:
    sigs = _signatures(ctx)
    leaf = chain[0]
    search, material = _search(chain, cfg, anchors, ctx, extra)
    problems = presented_problems(chain, search, anchors.certs, sigs)
    top = search.path[-1].cert

    # Certificates on the path the device did not send. A self-signed top of an unanchored
    # path is the untrusted root (clients never need a root sent), not a missing intermediate.
    intermediates_on_path = search.path[1:] if search.anchored else search.path[1:-1]
    if not search.anchored and not is_self_signed(top, sigs):
        intermediates_on_path = search.path[1:]
    missing = [
        MissingIntermediate(
            issuer_of=_subject(search.path[i].cert),
            subject=_subject(cand.cert),
            found_in=cand.source,
            where=cand.where,
            sha256=cand.sha256,
        )
        for i, cand in enumerate(intermediates_on_path)
        if cand.source not in ("presented", "anchor", "site-bundle")
    ]
    untrusted_root: dict[str, Any] | None = None
    if not search.anchored:
        if is_self_signed(top, sigs):
            untrusted_root = {
                "subject": _subject(top),
                "sha256": cert_sha256(top),
                "self_signed_leaf": len(search.path) == 1,
                "sent_by_device": search.path[-1].source == "presented",
                "found_in": search.path[-1].source,
                "inferred": False,
            }
        elif is_self_issued(top) and not any(b[0].cert == top for b in search.bad_signatures):
            problems.append(
                ChainProblem(
                    "bad_signature",
                    f"{_subject(top)} names itself as its issuer, but its signature does not "
                    "verify with its own key",
                    (_subject(top),),
                )
            )
        elif not any(p.kind == "bad_signature" for p in problems):
            urls = tuple(aia_ca_issuer_urls(top))
            results = aia_results(ctx)
            errors = tuple(
                f"{url}: {results[url].error}" for url in urls if url in results and results[url].error
            )
            if not urls:
                errors = ("the certificate has no AIA caIssuers URL",)
            elif cfg.offline:
                errors = (*errors, "not fetched: --offline")
            bases = unsent_root_bases(top, urls, ctx, leaf=len(search.path) == 1)
            if bases:
                # Not a missing intermediate but a root the device never sends (seed 001: the
                # firmware's built-in CA). Inferred from names and the fleet: say so and why.
                built_in = any(b["basis"] in {"vendor_pattern", "fleet"} for b in bases)
                untrusted_root = {
                    "subject": top.issuer.rfc4514_string(),
                    "sha256": None,  # camscan has not seen the certificate
                    "self_signed_leaf": False,
                    "sent_by_device": False,
                    "found_in": None,
                    "inferred": True,
                    "inferred_as": "built_in_ca" if built_in else "root",
                    "issuer_of": _subject(top),
                    "inference": bases,
                    "aia_urls": list(urls),
                    "aia_errors": list(errors),
                }
            else:
                missing.append(
                    MissingIntermediate(
                        issuer_of=_subject(top),
                        subject=top.issuer.rfc4514_string() or "(empty issuer)",
                        found_in=None,
                        aia_urls=urls,
                        aia_errors=errors,
                    )
                )

    policy_failures: list[PolicyFailure] = []
    policy_checked = True
    if search.anchored and len(search.path) == 1:
        # The leaf itself is an anchor (a device certificate the user exported and trusts):
        # trusted as pinned; the verifier cannot validate a path of one certificate.
        policy_checked = False
    elif search.anchored:
        intermediates = [c.cert for c in material]
        path_certs = [c.cert for c in search.path]
        presented_ders = {cert_der(c) for c in chain}
        policy_failures, policy_checked = _policy(
            leaf, intermediates, path_certs, presented_ders, store, ctx.now
        )

    if any(p.kind == "bad_signature" for p in problems):
        status = ChainStatus.BROKEN_CHAIN
    elif untrusted_root is not None:
        status = ChainStatus.UNTRUSTED_ROOT
    elif missing:
        status = ChainStatus.MISSING_INTERMEDIATE
    elif policy_failures:
        status = ChainStatus.INVALID_PATH
    else:
        status = ChainStatus.TRUSTED

    anchor = search.path[-1].cert if search.anchored else None
    return ChainVerdict(
        status=status,
        trust_mode=cfg.mode,
        anchored=search.anchored,
        path=tuple(_subject(c.cert) for c in search.path),
        path_sources=tuple(c.source for c in search.path),
        anchor=_subject(anchor) if anchor is not None else None,
        anchor_source=cfg.anchor_source(anchor) if anchor is not None else None,
        missing=tuple(missing),
        untrusted_root=untrusted_root,
        problems=tuple(problems),
        policy_failures=tuple(policy_failures),
        policy_checked=policy_checked,
    )


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


# ---------------------------------------------------------------- unsent roots (inference)


@dataclass
class _IssuerGroup:
    endpoints: dict[str, Endpoint]  # address -> one endpoint there (two ports: one device)
    leaves_with_aia: int = 0


@dataclass(frozen=True)
class FleetIssuers:
    """The scan's leaf issuers: which devices each one signs for, and every name the scan sent."""

    groups: dict[tuple[bytes, bytes], _IssuerGroup]
    sent_subjects: frozenset[bytes]


def issuer_key(cert: x509.Certificate) -> tuple[bytes, bytes]:
    """The issuer's name and (when present) key id: two CAs that share a name are two CAs."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        key_id = aki.key_identifier or b""
    except Exception:
        key_id = b""  # absent or malformed: group by name alone
    return (cert.issuer.public_bytes(), key_id)


def index_fleet(observations: Sequence[Observation], ctx: AuditContext) -> FleetIssuers:
    """Index the leaf issuers of a whole scan into ctx.cache (pure; run before evaluation).

    A chain verdict is computed per chain and sees one observation; whether an unsent issuer
    signs leaves all over the fleet is only visible here. Verdicts cached before (by a --jsonl
    stream judging endpoints as they complete) were made without this context: dropped, so the
    audit recomputes them (the stream reports the difference as late/withdrawn findings).
    """
    groups: dict[tuple[bytes, bytes], _IssuerGroup] = {}
    sent: set[bytes] = set()
    for obs in observations:
        if not obs.chain_der:
            continue
        try:
            chain = obs.chain
        except ValueError:
            continue  # an unparseable chain is a rule's finding (CS000), not fleet context
        sent.update(c.subject.public_bytes() for c in chain)
        leaf = chain[0]
        if is_self_issued(leaf) or not len(leaf.issuer):
            continue
        group = groups.setdefault(issuer_key(leaf), _IssuerGroup({}))
        group.endpoints.setdefault(obs.endpoint.address, obs.endpoint)
        if aia_ca_issuer_urls(leaf):
            group.leaves_with_aia += 1
    fleet = FleetIssuers(groups, frozenset(sent))
    ctx.cache[_FLEET_KEY] = fleet
    ctx.cache.pop(_VERDICT_KEY, None)
    return fleet


def unsent_root_bases(
    cert: x509.Certificate, aia_urls: Sequence[str], ctx: AuditContext, *, leaf: bool
) -> list[dict[str, Any]]:
    """Why `cert`'s issuer, not sent and found nowhere, is taken for a root (empty: it is not).

    `leaf`: `cert` is the presented leaf (the fleet index knows leaf issuers only). The rules
    and their reasons are in the module docstring, point 5.
    """
    issuer = cert.issuer
    if not len(issuer):
        return []  # nothing to reason about: the path failure is about the empty name itself
    bases: list[dict[str, Any]] = []
    entry = built_in_ca_named(issuer)
    if entry is not None:
        bases.append(
            {"basis": "vendor_pattern", "pattern": entry.id, "vendor": entry.vendor, "source": entry.source}
        )
    fleet = ctx.cache.get(_FLEET_KEY)
    if leaf and isinstance(fleet, FleetIssuers):
        group = fleet.groups.get(issuer_key(cert))
        if (
            group is not None
            and len(group.endpoints) >= FLEET_MIN_DEVICES
            and group.leaves_with_aia == 0
            and issuer.public_bytes() not in fleet.sent_subjects
        ):
            ordered = sorted(group.endpoints.values(), key=lambda e: e.sort_key)
            bases.append(
                {
                    "basis": "fleet",
                    "devices": len(ordered),
                    "addresses": [e.address for e in ordered[:FLEET_LISTED]],
                    "min_devices": FLEET_MIN_DEVICES,
                }
            )
    common_name = says_root(issuer)
    if common_name is not None and not aia_urls:
        bases.append({"basis": "root_name", "common_name": common_name})
    return bases


# ---------------------------------------------------------------- policy (cryptography)


def self_subjects(leaf: x509.Certificate) -> list[xv.Subject]:
    """Names the leaf itself carries, to run the verifier name-agnostically."""
    import ipaddress

    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:
        return []
    subjects: list[xv.Subject] = []
    for entry in san:
        if isinstance(entry, x509.IPAddress) and isinstance(
            entry.value, ipaddress.IPv4Address | ipaddress.IPv6Address
        ):
            subjects.append(x509.IPAddress(entry.value))
        elif isinstance(entry, x509.DNSName) and entry.value:
            value = entry.value
            if value.startswith("*."):
                value = "camscan-wildcard" + value[1:]
            try:
                subjects.append(x509.DNSName(value))
            except ValueError:
                continue  # not an A-label: the name rules judge it, the path check skips it
    return subjects[:4]


def _verify(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    store: xv.Store,
    when: dt.datetime,
) -> tuple[bool, str | None]:
    """(ok, error). (False, None) means no name of the leaf was usable as a verifier subject."""
    for subject in self_subjects(leaf):
        try:
            verifier = xv.PolicyBuilder().store(store).time(when).build_server_verifier(subject)
            verifier.verify(leaf, intermediates)
            return True, None
        except xv.VerificationError as exc:
            error = str(exc)
            if "no matching subjectaltname" in error.lower():
                continue  # that name was not usable as a subject; try the next
            return False, error
        except (ValueError, TypeError):
            continue  # a name the verifier refuses to take as a subject (e.g. "ba*.example")
    return False, None


def _essence(error: str) -> str:
    """The verifier's message without the "(encountered processing <Certificate(...)>)" tail,
    whose subject text (device-controlled) must not steer the classification."""
    cut = error.find("(encountered processing")
    return error[:cut].strip() if cut >= 0 else error


def classify(error: str) -> str:
    """A stable kind for a verifier error string (the string itself goes in the evidence)."""
    text = _essence(error).lower()
    rules = (
        ("validity", ("not valid at validation time", "expired", "not yet valid")),
        ("path_length", ("path length", "pathlen")),
        ("name_constraints", ("name constraint",)),
        ("eku", ("extendedkeyusage", "extended key usage", "required eku", "2.5.29.37")),
        ("key_usage", ("keyusage", "key usage", "keycertsign", "2.5.29.15")),
        ("not_a_ca", ("basicconstraints", "basic constraints", "2.5.29.19")),
        ("weak_key", ("rsa key", "modulus", "curve", "public key algorithm", "key is too weak")),
        ("san", ("subjectaltname", "2.5.29.17")),
        ("not_v3", ("x509v3", "x509 v3")),
        ("key_identifier", ("2.5.29.35", "2.5.29.14", "keyidentifier")),
        ("signature", ("signature",)),
        ("serial", ("serial",)),
        ("extension", ("extension",)),
        ("name", ("issuer", "subject")),
    )
    for kind, needles in rules:
        if any(n in text for n in needles):
            return kind
    return "other"


def _neutral_time(certs: Iterable[x509.Certificate]) -> dt.datetime | None:
    """A moment at which every certificate is valid, if one exists."""
    certs = list(certs)
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    return start if start <= end else None


def _covered(rule_id: str) -> str | None:
    """`rule_id` if that rule is registered (then it reports the presented certificate itself)."""
    from camscan.rules.registry import get_rule

    return rule_id if get_rule(rule_id) is not None else None


def _policy(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    path: list[x509.Certificate],
    presented: set[bytes],
    store: xv.Store,
    now: dt.datetime,
) -> tuple[list[PolicyFailure], bool]:
    """Path validation failures on a structurally complete path, and whether it could run.

    The verifier insists on a subjectAltName it can match; a CN-only leaf (CS106) or one whose
    names it refuses can only be vouched for structurally (policy_checked False).
    """
    ok, error = _verify(leaf, intermediates, store, now)
    if ok:
        return [], True
    if error is None:
        return [], False
    failures: list[PolicyFailure] = []
    # Validity is judged per certificate, so that an expired leaf (CS120/CS122, presented-chain
    # rules) is not reported twice, while an expired anchor or fetched intermediate is.
    for cert in path:
        if cert.not_valid_after_utc < now or cert.not_valid_before_utc > now:
            expired = cert.not_valid_after_utc < now
            rule_id = "CS120" if expired else "CS122"
            reporter = _covered(rule_id) if cert_der(cert) in presented else None
            failures.append(
                PolicyFailure(
                    "validity",
                    f"{_subject(cert)} is {'expired' if expired else 'not yet valid'} at the audit time "
                    f"(valid {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to "
                    f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ})",
                    (_subject(cert),),
                    reporter,
                )
            )
    other_error: str | None = error
    if failures:
        # Re-run at a moment when every certificate is valid: what fails then is not validity.
        neutral = _neutral_time(path)
        if neutral is not None:
            ok_then, other_error = _verify(leaf, intermediates, store, neutral)
            if ok_then:
                other_error = None
        else:
            other_error = None
    if other_error is None:
        return failures, True
    kind = classify(other_error)
    if kind == "validity":
        if not failures:
            failures.append(PolicyFailure("validity", other_error))
        return failures, True
    covered: str | None = None
    if kind == "signature" and "signature does not match" in other_error.lower():
        # Every signature on the structural path verified (with cryptography's own primitives),
        # so the verifier's path builder is at odds with RFC 5280 here (x509-limbo
        # pathlen::self-issued-certs-pathlen: self-issued key-rollover certificates).
        kind = "verifier_disagreement"
    elif kind == "signature":
        kind = "signature_algorithm"
        covered = _covered("CS102") if _weak_hashes_all_presented(path, presented) else None
    elif kind == "weak_key" and _weak_keys_all_presented(path, presented):
        covered = _covered("CS101")
    elif kind == "eku" and cert_der(leaf) in presented and not _leaf_allows_server_auth(leaf):
        covered = _covered("CS104")
    elif kind == "not_v3" and cert_der(leaf) in presented and leaf.version != x509.Version.v3:
        covered = _covered("CS110")
    failures.append(PolicyFailure(kind, other_error, (), covered))
    return failures, True


def _leaf_allows_server_auth(leaf: x509.Certificate) -> bool:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        usages = list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return True
    except Exception:
        return False
    return bool({ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(usages))


def _weak_hashes_all_presented(path: list[x509.Certificate], presented: set[bytes]) -> bool:
    from camscan.certinfo import signature_hash_name

    # The anchor's own signature is never relied on (RFC 5280 6.1: the anchor is trusted as is).
    weak = [c for c in path[:-1] if signature_hash_name(c) in {"sha1", "md5", "unknown"}]
    return bool(weak) and all(cert_der(c) in presented for c in weak)


def _weak_keys_all_presented(path: list[x509.Certificate], presented: set[bytes]) -> bool:
    from camscan.certinfo import key_description

    weak = []
    for cert in path:
        key_type, bits = key_description(cert)
        if (key_type == "RSA" and (bits or 0) < 2048) or (key_type == "EC" and (bits or 0) < 256):
            weak.append(cert)
        elif key_type in {"DSA", "unknown"}:
            weak.append(cert)
    return bool(weak) and all(cert_der(c) in presented for c in weak)


# ---------------------------------------------------------------- AIA prefetch (the I/O edge)


@dataclass(frozen=True)
class AIAFetch:
    url: str
    certs: tuple[x509.Certificate, ...] = ()
    error: str | None = None


def aia_results(ctx: AuditContext) -> dict[str, AIAFetch]:
    results: dict[str, AIAFetch] = ctx.cache.setdefault(_AIA_KEY, {})
    return results


async def prefetch(observations: Sequence[Observation], ctx: AuditContext) -> None:
    """Index the fleet's leaf issuers, then fetch the AIA caIssuers certificates of chains that
    do not reach an anchor otherwise.

    Runs before evaluation so the rules stay pure. The fetches are skipped with --offline (the
    fleet index never does I/O, so it always runs). Each fetch is bounded in time and size;
    fetched CA certificates are stored in the cache directory.
    """
    index_fleet(observations, ctx)
    cfg = config_of(ctx)
    if cfg.offline or not observations:
        return
    import trio

    chains: dict[tuple[bytes, ...], Sequence[x509.Certificate]] = {}
    for obs in observations:
        if obs.chain_der and obs.chain_der not in chains:
            try:
                chains[obs.chain_der] = obs.chain
            except ValueError:
                continue  # an unparseable chain is a rule's finding (CS000), not a fetch
    results = aia_results(ctx)
    sigs = _signatures(ctx)
    limiter = trio.CapacityLimiter(AIA_CONCURRENCY)

    async def fetch(url: str) -> None:
        async with limiter:
            results[url] = await fetch_aia(url, cfg)

    for _ in range(AIA_ROUNDS):
        wanted: set[str] = set()
        for chain in chains.values():
            search, _material = _search(chain, cfg, cfg.anchor_index, ctx)
            if search.anchored:
                continue
            top = search.path[-1].cert
            if is_self_signed(top, sigs):
                continue
            wanted.update(u for u in aia_ca_issuer_urls(top)[:2] if u not in results)
        if not wanted:
            return
        async with trio.open_nursery() as nursery:
            for url in sorted(wanted):
                nursery.start_soon(fetch, url)


class _FetchError(Exception):
    pass


async def fetch_aia(url: str, cfg: TrustConfig) -> AIAFetch:
    """GET one caIssuers URL, bounded in time (the whole exchange) and in size."""
    import trio

    body = b""
    error: str | None = None
    with trio.move_on_after(cfg.aia_timeout) as scope:
        try:
            body = await _http_get(url, cfg.aia_max_bytes, redirects=3)
        except _FetchError as exc:
            error = str(exc)
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc.strerror or exc}"
    if scope.cancelled_caught:
        return AIAFetch(url, error=f"timed out after {cfg.aia_timeout:g} s")
    if error is not None:
        return AIAFetch(url, error=error)
    try:
        certs = tuple(parse_certificates(body))
    except ValueError as exc:
        return AIAFetch(url, error=f"not a certificate: {exc}")
    _store_in_cache(certs, cfg)
    return AIAFetch(url, certs)


async def _http_get(url: str, max_bytes: int, *, redirects: int) -> bytes:
    """A minimal HTTP/1.1 GET with h11 over trio.

    h11 rather than httpx: stopping a streamed httpx download early (an oversized answer)
    leaves its async generators to the garbage collector under trio; here the size and time
    bounds are exact. Only http:// is fetched: RFC 5280 4.2.2.1 has caIssuers served over
    HTTP (fetching it over TLS would need the very chain being completed).
    """
    import urllib.parse

    import h11
    import trio

    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise _FetchError("only http:// caIssuers URLs are fetched (RFC 5280 4.2.2.1)")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        port = parts.port or 80
    except ValueError:
        raise _FetchError("bad port in URL") from None
    conn = h11.Connection(h11.CLIENT)
    status = 0
    location: str | None = None
    body = bytearray()
    stream = await trio.open_tcp_stream(parts.hostname, port)
    async with stream:
        request = h11.Request(
            method="GET",
            target=target,
            headers=[
                ("Host", parts.netloc),
                ("User-Agent", "camscan (AIA caIssuers fetch)"),
                ("Accept", "application/pkix-cert, application/pkcs7-mime, */*"),
                ("Connection", "close"),
            ],
        )
        await stream.send_all((conn.send(request) or b"") + (conn.send(h11.EndOfMessage()) or b""))
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    for name, value in event.headers:
                        if name == b"content-length" and int(value) > max_bytes:
                            raise _FetchError(f"response larger than {max_bytes} bytes")
                        if name == b"location":
                            location = value.decode("latin-1")
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > max_bytes:
                        raise _FetchError(f"response larger than {max_bytes} bytes")
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
        except h11.RemoteProtocolError as exc:
            raise _FetchError(f"not HTTP: {exc}") from None
    if status in {301, 302, 303, 307, 308} and location and redirects > 0:
        return await _http_get(urllib.parse.urljoin(url, location), max_bytes, redirects=redirects - 1)
    if status != 200:
        raise _FetchError(f"HTTP status {status}")
    return bytes(body)


def _store_in_cache(certs: Iterable[x509.Certificate], cfg: TrustConfig) -> None:
    if cfg.cache_dir is None:
        return
    from camscan.atomic import write_bytes_atomic

    try:
        cfg.cache_dir.mkdir(parents=True, exist_ok=True)
        for cert in certs:
            try:
                is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            except Exception:
                is_ca = False
            if is_ca:  # only CA certificates are path-building material worth keeping
                write_bytes_atomic(cfg.cache_dir / f"{cert_sha256(cert)}.der", cert_der(cert))
    except OSError:
        return  # a read-only cache must not fail the audit
