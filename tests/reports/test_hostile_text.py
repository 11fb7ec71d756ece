"""Hostile device text through every output, from a real TLS server on loopback.

The certificates carry ESC, CR, LF, NUL, BEL, a right-to-left override (U+202E) and invalid
UTF-8 in the subject, the issuer and a dNSName; the HTTP Server header carries control
characters, U+202E and invalid UTF-8 too. cryptography will not write most of that, so the
certificates are built with placeholders of the same length and the bytes swapped in
(camscan.lab.der.substitute). Then `camscan scan` writes every report and each file is checked
byte by byte: no raw control, bidi or format character anywhere (the formats' own line breaks
aside), the device's text shown as visible escapes; JSON and JSON Lines give the exact text back.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import defusedxml.ElementTree as DET
import pytest
import trio
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from camscan import pki
from camscan.cli import main as cli_main
from camscan.config import EmailConfig
from camscan.lab.der import substitute
from camscan.model import AuditContext, Endpoint, ScanParameters
from camscan.pipeline import judge, run_scan
from camscan.reports import json_report
from camscan.reports.diff import diff_runs, render_text
from camscan.reports.history import HistoryStore, RunSnapshot
from camscan.reports.html_report import render_html
from camscan.reports.notify import Notification, build_email, webhook_body
from camscan.scanner.identity import DiscoveryFacts, merge
from camscan.scanner.sweep import SweepOptions
from camscan.termtext import needs_escape, sanitize, visible
from tests.reports.sample import build_audit
from tests.support.tls_servers import ServerSpec, serve, serve_in_thread

HOST = "127.61.0.1"
# What the device's certificates and HTTP header hold, byte for byte. The leaf CN is a
# UTF8String (valid UTF-8, controls and U+202E); the leaf O and the CA's CN are TeletexStrings
# holding UTF-8 with invalid bytes, as firmware writes them (OpenSSL, which the test server
# runs on, refuses to load a UTF8String with invalid bytes: test_certinfo_hostile covers that
# one without a server). cryptography refuses to decode either name: camscan reads the DER.
LEAF_CN = b"cam\x1b[31m\x07\r\n\x00\xe2\x80\xaegnp.exe end"
LEAF_O = b"Acme\x1b[8m\r\n\x00\x07\xe2\x80\xae \xff\xc3( Ltd"
CA_CN = b"CA\x1b[2J\x1b[H\r\n\x00\x07\xe2\x80\xaeAIC \xfe\xfe ok"
DNS = b"dns\x1b[8m\r\n\x00\x07\xe2\x80\xae\xff.example"
SERVER = b"web\x1b[31m\x07\x7f\xc2\x9b\xe2\x80\xae\xe2\x81\xa6\xffsrv"


def text(raw: bytes) -> str:
    """The string a reader of the JSON gets: UTF-8, invalid bytes as U+FFFD."""
    return raw.decode("utf-8", errors="replace")


def dn(raw: bytes) -> str:
    """The attribute as an RFC 4514 subject shows it (cryptography's spelling: NUL as \\00)."""
    return text(raw).replace("\x00", "\\00")


def _placeholder(letter: str, raw: bytes) -> str:
    return letter * len(raw)


def hostile_chain() -> tuple[list[x509.Certificate], pki.PrivateKey]:
    """[leaf, CA] carrying the bytes above, and the leaf's key."""
    teletex = _ASN1Type.T61String
    ca = pki.make_ca("", subject=x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, _placeholder("Q", CA_CN), _type=teletex),
    ]))
    leaf = pki.make_leaf(ca, ips=[HOST], dns=[_placeholder("x", DNS)], subject=x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _placeholder("Y", LEAF_O), _type=teletex),
        x509.NameAttribute(NameOID.COMMON_NAME, _placeholder("Z", LEAF_CN)),
    ]))
    ca_swap = {_placeholder("Q", CA_CN).encode(): CA_CN}
    leaf_swaps = {
        **ca_swap,  # the leaf's issuer name
        _placeholder("Y", LEAF_O).encode(): LEAF_O,
        _placeholder("Z", LEAF_CN).encode(): LEAF_CN,
        _placeholder("x", DNS).encode(): DNS,
    }
    return [substitute(leaf.cert, ca.key, leaf_swaps), substitute(ca.cert, ca.key, ca_swap)], leaf.key


def strings(value: object) -> Iterator[str]:
    """Every string in a parsed JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def only_layout_breaks(content: str, allowed: str = "\n") -> list[str]:
    """Every character of the policy in `content` but the format's own line breaks."""
    return sorted({repr(ch) for ch in content if needs_escape(ch) and ch not in allowed})


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, int]]:
    chain, key = hostile_chain()
    out = tmp_path_factory.mktemp("hostile")
    spec = ServerSpec(chain=chain, key=key, http_headers=[(b"Server", SERVER)])
    with serve_in_thread([(spec, HOST)]) as [(host, port)], pytest.MonkeyPatch.context() as mp:
        capture = io.StringIO()
        mp.setattr("sys.stdout", capture)
        code = cli_main([
            "scan", f"{host}:{port}", "--no-legacy-probe", "--handshake-timeout", "3",
            "--json", str(out / "r.json"), "--jsonl", str(out / "r.jsonl"),
            "--html", str(out / "r.html"), "--csv", str(out / "r.csv"),
            "--junit", str(out / "r.xml"), "--prometheus", str(out / "r.prom"),
            "--sarif", str(out / "r.sarif"),
        ])
    yield out, capture.getvalue(), code


def _endpoint(document: dict[str, object]) -> dict[str, object]:
    (endpoint,) = document["endpoints"]  # type: ignore[misc]
    return endpoint  # type: ignore[no-any-return]


def test_json_keeps_the_exact_text_without_a_raw_control_byte(scanned: tuple[Path, str, int]) -> None:
    out, _, code = scanned
    assert code == 0
    content = (out / "r.json").read_text("utf-8")
    assert only_layout_breaks(content) == []
    endpoint = _endpoint(json.loads(content))
    leaf, ca = endpoint["chain"]  # type: ignore[misc]
    # Exactly what the device sent (invalid UTF-8 as U+FFFD), nothing escaped away.
    assert leaf["common_names"] == [text(LEAF_CN)]
    assert leaf["subject_alt_names"]["dns"] == [text(DNS)]
    assert leaf["subject_alt_names"]["ip"] == [HOST]
    assert leaf["subject"] == f"CN={dn(LEAF_CN)},O={dn(LEAF_O)}"
    assert leaf["issuer"] == ca["subject"] == f"CN={dn(CA_CN)}"
    assert ca["common_names"] == [text(CA_CN)]
    assert endpoint["http"]["server"] == text(SERVER)  # type: ignore[index]
    cs105 = next(f for f in endpoint["findings"] if f["rule_id"] == "CS105")  # type: ignore[attr-defined]
    assert cs105["message"].startswith("the certificate's SAN does not parse")  # not "no IP entry"
    # The chain still builds through names cryptography cannot decode: no rule crashed.
    assert "CS000" not in {f["rule_id"] for f in endpoint["findings"]}  # type: ignore[attr-defined]
    assert "CS201" not in {f["rule_id"] for f in endpoint["findings"]}  # type: ignore[attr-defined]


def test_jsonl_keeps_the_exact_text_without_a_raw_control_byte(scanned: tuple[Path, str, int]) -> None:
    out, _, _ = scanned
    content = (out / "r.jsonl").read_text("utf-8")
    assert only_layout_breaks(content) == []
    line = json.loads(content.splitlines()[0])
    assert line["chain"][0]["common_names"] == [text(LEAF_CN)]
    assert line["http"]["server"] == text(SERVER)


def test_html_shows_visible_escapes(scanned: tuple[Path, str, int]) -> None:
    out, _, _ = scanned
    content = (out / "r.html").read_text("utf-8")
    assert only_layout_breaks(content) == []
    for raw in (LEAF_CN, LEAF_O, CA_CN):
        assert visible(dn(raw)) in content, raw
    for raw in (DNS, SERVER):
        assert visible(text(raw)) in content, raw
    assert "\\x1b[31m\\x07\\x0d\\x0a\\00\\u202egnp.exe" in content


def test_csv_cells_show_visible_escapes(scanned: tuple[Path, str, int]) -> None:
    out, _, _ = scanned
    content = (out / "r.csv").read_bytes().decode("utf-8")
    assert only_layout_breaks(content.replace("\r\n", "")) == []  # CRLF ends rows, nothing else
    rows = list(csv.DictReader(io.StringIO(content, newline="")))
    assert rows and all(not needs_escape(value) for row in rows for value in row.values())
    assert visible(dn(LEAF_CN)) in rows[0]["subject"]
    assert visible(dn(CA_CN)) in rows[0]["issuer"]


def test_junit_shows_visible_escapes(scanned: tuple[Path, str, int]) -> None:
    out, _, _ = scanned
    content = (out / "r.xml").read_text("utf-8")
    assert only_layout_breaks(content) == []
    root = DET.fromstring(content)
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert visible(dn(LEAF_CN)) in props["leaf.subject"]
    assert visible(dn(CA_CN)) in props["leaf.issuer"]


def test_prometheus_labels_show_visible_escapes(scanned: tuple[Path, str, int]) -> None:
    out, _, _ = scanned
    content = (out / "r.prom").read_text("utf-8")
    assert only_layout_breaks(content) == []
    subjects = {
        s.labels["depth"]: s.labels["subject"]
        for family in text_string_to_metric_families(content)
        for s in family.samples
        if s.name == "camscan_certificate_not_after_timestamp_seconds"
    }
    assert subjects["1"] == sanitize("CN=" + dn(CA_CN), max_len=200)
    assert visible(dn(LEAF_CN)) in subjects["0"]


def test_sarif_shows_visible_escapes(scanned: tuple[Path, str, int]) -> None:
    out, _, _ = scanned
    content = (out / "r.sarif").read_text("utf-8")
    assert only_layout_breaks(content) == []
    texts = list(strings(json.loads(content)))
    assert any(visible(dn(CA_CN)) in t for t in texts)  # CS202 names the untrusted root


def test_terminal_table_shows_visible_escapes(scanned: tuple[Path, str, int]) -> None:
    _, table, _ = scanned
    assert table and only_layout_breaks(table) == []
    assert "\\x1b[31m" in table  # the leaf subject, cut to the column but escaped


def test_identity_text_from_a_device_is_kept_exact_and_shown_escaped() -> None:
    # WS-Discovery scopes give vendor, model and serial; the identity keeps them as sent.
    sent = {"vendor": "Acme\u202e\x1b[2J", "model": "M\r\n\x00", "serial": "SN\x07\x7f"}
    identity = merge(neighbour_mac="00:40:8c:12:34:56", discovery=DiscoveryFacts(**sent))
    assert (identity.vendor, identity.model, identity.serial) == tuple(sent.values())
    audit = build_audit(hostile=False)
    first = dataclasses.replace(audit.scan.observations[0], identity=identity)
    scan = dataclasses.replace(audit.scan, observations=(first, *audit.scan.observations[1:]))
    audit = dataclasses.replace(audit, scan=scan)
    html = render_html(audit)
    assert only_layout_breaks(html) == []
    assert "Acme\\u202e\\x1b[2J" in html and "SN\\x07\\x7f" in html
    document = json_report.dumps(json_report.build_document(audit))
    assert only_layout_breaks(document) == []
    kept = [e["identity"] for e in json.loads(document)["endpoints"] if e.get("identity")]
    assert any({k: i.get(k) for k in sent} == sent for i in kept)


async def test_diff_text_and_notifications(tmp_path: Path) -> None:
    chain, key = hostile_chain()
    spec = ServerSpec(chain=chain, key=key, http_headers=[(b"Server", SERVER)])
    now = dt.datetime.now(dt.UTC)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            endpoint = Endpoint(*await nursery.start(serve, spec, HOST))
            scan = await run_scan(
                [endpoint],
                SweepOptions(connect_timeout=2, handshake_timeout=3, http_timeout=2),
                ScanParameters(targets=(HOST,), ports=(endpoint.port,)),
            )
            nursery.cancel_scope.cancel()
    audit = await judge(scan, AuditContext(now=now))
    with HistoryStore(tmp_path / "h.sqlite") as store:
        run = store.record_run(audit)
        snapshot = store.snapshot(run)
    diff = diff_runs(RunSnapshot(run=None), snapshot)
    assert snapshot.run is not None
    note = Notification(run=snapshot.run, diff=diff)
    body = render_text(diff)
    assert only_layout_breaks(body) == [] and "\\x1b[31m\\x07" in body
    assert only_layout_breaks(note.body()) == []
    webhook = webhook_body(note).decode("utf-8")
    assert only_layout_breaks(webhook) == []
    assert any(dn(LEAF_CN) in value for value in strings(json.loads(webhook)))  # exact inside
    message = build_email(EmailConfig(host="127.0.0.1", sender="a@b", to=("c@d",)), note)
    assert only_layout_breaks(str(message["Subject"])) == []
    for part in message.iter_parts():
        payload = part.get_content()
        content = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        assert only_layout_breaks(content) == []
