"""The chain verdict: one per presented chain, from the staged path search (see the package doc)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509
from cryptography.x509 import verification as xv

from camscan.certinfo import cert_der, cert_sha256, is_self_issued, issuer_text
from camscan.model import AuditContext, Observation
from camscan.rules.chains import (
    AnchorIndex,
    Candidate,
    ChainProblem,
    aia_ca_issuer_urls,
    is_self_signed,
    presented_problems,
)
from camscan.rules.trust.anchors import (
    SITE,
    VERDICT_KEY,
    TrustConfig,
    config_of,
    public_index,
)
from camscan.rules.trust.fleet import unsent_root_bases
from camscan.rules.trust.paths import aia_results, search_paths, signature_cache
from camscan.rules.trust.policy import PolicyFailure, check_policy, subject_label

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
    # The certificates of `path` (anchor included when anchored), for profile rules that judge
    # every certificate of the path a client builds, roots included (CA/B Forum BR 7.1.2).
    path_certs: tuple[x509.Certificate, ...] = field(default=(), compare=False, repr=False)

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
    cache: dict[tuple[bytes, ...], ChainVerdict] = ctx.cache.setdefault(VERDICT_KEY, {})
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


def _compute(
    chain: Sequence[x509.Certificate],
    cfg: TrustConfig,
    anchors: AnchorIndex,
    store: xv.Store,
    ctx: AuditContext,
    extra: Sequence[Candidate] = (),
) -> ChainVerdict:
    sigs = signature_cache(ctx)
    leaf = chain[0]
    search, material = search_paths(chain, cfg, anchors, ctx, extra)
    problems = presented_problems(chain, search, anchors.certs, sigs)
    top = search.path[-1].cert

    # Certificates on the path the device did not send. A self-signed top of an unanchored
    # path is the untrusted root (clients never need a root sent), not a missing intermediate.
    intermediates_on_path = search.path[1:] if search.anchored else search.path[1:-1]
    if not search.anchored and not is_self_signed(top, sigs):
        intermediates_on_path = search.path[1:]
    missing = [
        MissingIntermediate(
            issuer_of=subject_label(search.path[i].cert),
            subject=subject_label(cand.cert),
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
                "subject": subject_label(top),
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
                    f"{subject_label(top)} names itself as its issuer, but its signature does not "
                    "verify with its own key",
                    (subject_label(top),),
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
                # Not a missing intermediate but a root the device never sends (Sunell HTTPS FAQ: the
                # firmware's built-in CA). Inferred from names and the fleet: say so and why.
                built_in = any(b["basis"] in {"vendor_pattern", "fleet"} for b in bases)
                untrusted_root = {
                    "subject": issuer_text(top),
                    "sha256": None,  # camscan has not seen the certificate
                    "self_signed_leaf": False,
                    "sent_by_device": False,
                    "found_in": None,
                    "inferred": True,
                    "inferred_as": "built_in_ca" if built_in else "root",
                    "issuer_of": subject_label(top),
                    "inference": bases,
                    "aia_urls": list(urls),
                    "aia_errors": list(errors),
                }
            else:
                missing.append(
                    MissingIntermediate(
                        issuer_of=subject_label(top),
                        subject=issuer_text(top) or "(empty issuer)",
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
        policy_failures, policy_checked = check_policy(
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
        path=tuple(subject_label(c.cert) for c in search.path),
        path_sources=tuple(c.source for c in search.path),
        anchor=subject_label(anchor) if anchor is not None else None,
        anchor_source=cfg.anchor_source(anchor) if anchor is not None else None,
        missing=tuple(missing),
        untrusted_root=untrusted_root,
        problems=tuple(problems),
        policy_failures=tuple(policy_failures),
        policy_checked=policy_checked,
        path_certs=tuple(c.cert for c in search.path),
    )


