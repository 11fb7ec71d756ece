"""The staged path search: presented chain, then --intermediates, the cache, AIA (see the package doc)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from camscan.model import AuditContext
from camscan.rules.chains import (
    AnchorIndex,
    Candidate,
    PathSearch,
    SignatureCache,
    build_path,
)
from camscan.rules.trust.anchors import AIA_KEY, SIGS_KEY, TrustConfig


@dataclass(frozen=True)
class AIAFetch:
    url: str
    certs: tuple[x509.Certificate, ...] = ()
    error: str | None = None


def aia_results(ctx: AuditContext) -> dict[str, AIAFetch]:
    results: dict[str, AIAFetch] = ctx.cache.setdefault(AIA_KEY, {})
    return results


def signature_cache(ctx: AuditContext) -> SignatureCache:
    sigs = ctx.cache.get(SIGS_KEY)
    if not isinstance(sigs, SignatureCache):
        sigs = ctx.cache[SIGS_KEY] = SignatureCache()
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



def search_paths(
    chain: Sequence[x509.Certificate],
    cfg: TrustConfig,
    anchors: AnchorIndex,
    ctx: AuditContext,
    extra: Sequence[Candidate] = (),
) -> tuple[PathSearch, list[Candidate]]:
    sigs = signature_cache(ctx)
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


