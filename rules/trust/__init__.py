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
   the device never sends (Sunell HTTPS FAQ: the firmware's built-in CA signs the leaf directly and
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

from camscan.rules.trust.aia import fetch_aia, prefetch
from camscan.rules.trust.anchors import (
    AIA_CONCURRENCY,
    AIA_MAX_BYTES,
    AIA_ROUNDS,
    AIA_TIMEOUT,
    CACHE_MAX_FILES,
    PUBLIC,
    SITE,
    TRUST_MODES,
    Bundle,
    TrustConfig,
    config_of,
    default_cache_dir,
    load_bundle,
    parse_certificates,
    public_anchors,
    public_index,
)
from camscan.rules.trust.fleet import (
    FLEET_LISTED,
    FLEET_MIN_DEVICES,
    FleetIssuers,
    index_fleet,
    issuer_key,
    unsent_root_bases,
)
from camscan.rules.trust.paths import AIAFetch, aia_results
from camscan.rules.trust.policy import PolicyFailure, classify, self_subjects
from camscan.rules.trust.verdict import ChainStatus, ChainVerdict, MissingIntermediate, chain_verdict

__all__ = [
    "AIA_CONCURRENCY", "AIA_MAX_BYTES", "AIA_ROUNDS", "AIA_TIMEOUT", "CACHE_MAX_FILES", "FLEET_LISTED",
    "FLEET_MIN_DEVICES", "PUBLIC", "SITE", "TRUST_MODES", "AIAFetch", "Bundle", "ChainStatus",
    "ChainVerdict", "FleetIssuers", "MissingIntermediate", "PolicyFailure", "TrustConfig", "aia_results",
    "chain_verdict", "classify", "config_of", "default_cache_dir", "fetch_aia", "index_fleet",
    "issuer_key", "load_bundle", "parse_certificates", "prefetch", "public_anchors", "public_index",
    "self_subjects", "unsent_root_bases",
]
