"""Policy: the path checked with cryptography's x509.verification, errors classified into rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509 import verification as xv

from camscan.certinfo import cert_der, subject_text

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


def check_policy(
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
                    f"{subject_label(cert)} is {'expired' if expired else 'not yet valid'} at the audit time "
                    f"(valid {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to "
                    f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ})",
                    (subject_label(cert),),
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


@dataclass(frozen=True)
class PolicyFailure:
    """A path exists but path validation rejects it, and why."""

    kind: str  # validity, weak_key, not_a_ca, path_length, key_usage, eku, name_constraints, ...
    error: str  # the verifier's own words
    certificates: tuple[str, ...] = ()
    # The rule that already reports this for a presented certificate (CS204 then stays quiet).
    covered_by: str | None = None



def subject_label(cert: x509.Certificate) -> str:
    """The subject for a message: its RFC 4514 text, or a placeholder when it is empty."""
    return subject_text(cert) or "(empty subject)"
