"""``--tls-scan`` against personas whose SSL contexts allow only some versions and suites.

What this OpenSSL (3.0) can offer decides what can be tested: RC4, 3DES and EXPORT are
compiled out, so they come back untested (None), never refused; SSLv2/v3 likewise.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from smtpprobe.probe import probe
from smtpprobe.report import ProbeOptions, Session, TlsMode
from tests.ports import ServerAddress
from tests.tls_servers import Built, build_certificate, server_context, tls_persona  # noqa: F401

Start = Callable[..., Awaitable[ServerAddress]]
V = ssl.TLSVersion
SCAN_STEPS = frozenset({"ehlo", "starttls", "quit"})


async def scan(server: ServerAddress, tls: TlsMode = TlsMode.STARTTLS) -> Session:
    options = ProbeOptions(port=server.port, tls=tls, deadline=20.0, insecure=True,
                           tls_scan=True, steps=SCAN_STEPS)
    return (await probe(server.host, options=options)).session


@pytest.fixture(scope="module")
def leaf() -> Built:
    # RSA key without keyUsage: RSA key exchange (kRSA, AES128-SHA) needs keyEncipherment,
    # which trustme's leaves (EC by default) do not allow.
    return build_certificate("localhost", rsa_bits=2048)


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_old_protocols_allowed_are_found(
    tls_persona: Start, leaf: Built, tmp_path: Path, tls: str
) -> None:
    context = server_context(leaf, tmp_path, minimum=V.TLSv1, maximum=V.TLSv1_2,
                             ciphers="ALL:@SECLEVEL=0")
    mode = TlsMode.STARTTLS if tls == "starttls" else TlsMode.IMPLICIT
    session = await scan(await tls_persona(context, tls=tls), mode)
    result = session.tls_scan
    assert result is not None, session.error
    assert dict(result.protocols) == {"TLSv1": True, "TLSv1.1": True, "TLSv1.2": True,
                                      "TLSv1.3": False}
    assert {"SSLv2", "SSLv3"} <= set(result.untested)
    report_data = (await probe(
        "127.0.0.1", options=session.options)).finding("tls")
    assert report_data is not None and report_data.status.value == "warning"
    assert report_data.data["protocols"]["TLSv1"] is True


async def test_tls13_only_server(tls_persona: Start, leaf: Built,
                                 tmp_path: Path) -> None:
    context = server_context(leaf, tmp_path, minimum=V.TLSv1_3)
    result = (await scan(await tls_persona(context))).tls_scan
    assert result is not None
    assert dict(result.protocols) == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": False,
                                      "TLSv1.3": True}
    # Every TLS 1.2 class is refused: no suite at all, so no CBC-only nor weak suite.
    assert all(result.weak_ciphers[name] == "" for name in ("aNULL", "NULL", "CBC", "FS"))
    for name in ("RC4", "3DES", "EXPORT"):  # this OpenSSL cannot offer them
        assert result.weak_ciphers[name] is None and name in result.untested


async def test_anonymous_null_and_cbc_only_suites(tls_persona: Start, leaf: Built,
                                                  tmp_path: Path) -> None:
    ciphers = "aNULL:eNULL:AES128-SHA:@SECLEVEL=0"
    context = server_context(leaf, tmp_path, maximum=V.TLSv1_2, ciphers=ciphers)
    session = await scan(await tls_persona(context))
    result = session.tls_scan
    assert result is not None
    classes = result.weak_ciphers
    assert "ADH" in classes["aNULL"] or "AECDH" in classes["aNULL"]  # type: ignore[operator]
    assert "NULL" in classes["NULL"]  # type: ignore[operator]
    assert classes["CBC"] == "AES128-SHA" and classes["AEAD"] == ""
    assert classes["FS"] == ""  # only the anonymous suites are ephemeral
    report = await probe("127.0.0.1", options=session.options)
    finding = report.finding("tls")
    assert finding is not None and finding.status.value == "warning"
    assert "AES128-SHA" in finding.data["weak_ciphers"]
    assert classes["aNULL"] in finding.data["weak_ciphers"]


async def test_no_forward_secrecy(tls_persona: Start, leaf: Built,
                                  tmp_path: Path) -> None:
    context = server_context(leaf, tmp_path, maximum=V.TLSv1_2, ciphers="kRSA:!eNULL")
    session = await scan(await tls_persona(context))
    assert session.tls_scan is not None
    assert session.tls_scan.weak_ciphers["FS"] == ""
    assert session.tls_scan.weak_ciphers["kRSA"]
    finding = (await probe("127.0.0.1", options=session.options)).finding("tls")
    assert finding is not None and "forward secrecy" in finding.summary


async def test_good_server_is_ok(tls_persona: Start, leaf: Built,
                                 tmp_path: Path) -> None:
    context = server_context(leaf, tmp_path, minimum=V.TLSv1_2,
                             ciphers="ECDHE+AESGCM:ECDHE+CHACHA20")
    server = await tls_persona(context)
    options = ProbeOptions(port=server.port, tls=TlsMode.STARTTLS, deadline=20.0,
                           insecure=True, tls_scan=True, steps=SCAN_STEPS)
    report = await probe(server.host, options=options)
    finding = report.finding("tls")
    assert finding is not None
    assert finding.data["protocols"] == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True,
                                         "TLSv1.3": True}
    assert finding.data["weak_ciphers"] == []
    assert finding.data["scan"]["errors"] == []
