"""AIA prefetch, the I/O edge: caIssuers URLs fetched before evaluation, into a local cache."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cryptography import x509

from camscan.certinfo import cert_der, cert_sha256
from camscan.model import AuditContext, Observation
from camscan.rules.chains import (
    aia_ca_issuer_urls,
    is_self_signed,
)
from camscan.rules.trust.anchors import (
    AIA_CONCURRENCY,
    AIA_ROUNDS,
    TrustConfig,
    config_of,
    parse_certificates,
)
from camscan.rules.trust.fleet import index_fleet
from camscan.rules.trust.paths import AIAFetch, aia_results, search_paths, signature_cache

# ---------------------------------------------------------------- AIA prefetch (the I/O edge)



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
    sigs = signature_cache(ctx)
    limiter = trio.CapacityLimiter(AIA_CONCURRENCY)

    async def fetch(url: str) -> None:
        async with limiter:
            results[url] = await fetch_aia(url, cfg)

    for _ in range(AIA_ROUNDS):
        wanted: set[str] = set()
        for chain in chains.values():
            search, _material = search_paths(chain, cfg, cfg.anchor_index, ctx)
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
