"""``--tls-scan`` against personas whose SSL contexts allow only some versions and suites.

OpenSSL 3.0 cannot offer RC4, 3DES, EXPORT or SSLv3: those are asked for with a
hand-built ClientHello, and a scripted legacy server (it answers with a ServerHello
choosing DES-CBC3-SHA) shows that an acceptance is seen. SSLv2 is never tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from smtpprobe import tls_scan
from smtpprobe.clienthello import client_hello, record_complete, server_choice
from smtpprobe.kb import load
from smtpprobe.probe import probe
from smtpprobe.report import Finding, ProbeOptions, Session, TlsMode, TlsScan
from smtpprobe.tls_scan import ScanTarget
from smtpprobe.views.findings import summary_text
from tests.ports import ServerAddress
from tests.tls_servers import (  # noqa: F401 - tls_persona is a fixture
    Built,
    build_certificate,
    scripted_starttls,
    server_context,
    serving,
    tls_persona,
)

Start = Callable[..., Awaitable[ServerAddress]]
V = ssl.TLSVersion
SCAN_STEPS = frozenset({"starttls", "quit"})


async def scan_directly(server: ServerAddress) -> TlsScan:
    """`tls_scan.scan` over STARTTLS, 4 connections at a time, a generous deadline."""
    target = ScanTarget(server.host, server.port, implicit=False, sni=None)
    deadline = asyncio.get_running_loop().time() + 60.0
    return await tls_scan.scan(target, deadline=deadline, concurrency=4)


def reasons(finding: Finding) -> set[str]:
    """The defects noted on the tls finding."""
    return {note.reason for note in finding.notes}


async def scan(server: ServerAddress, tls: TlsMode = TlsMode.STARTTLS) -> Session:
    options = ProbeOptions(
        port=server.port, tls=tls, deadline=20.0, insecure=True, tls_scan=True, steps=SCAN_STEPS
    )
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
    context = server_context(
        leaf, tmp_path, minimum=V.TLSv1, maximum=V.TLSv1_2, ciphers="ALL:@SECLEVEL=0"
    )
    mode = TlsMode.STARTTLS if tls == "starttls" else TlsMode.IMPLICIT
    session = await scan(await tls_persona(context, tls=tls), mode)
    result = session.tls_scan
    assert result is not None, session.error
    assert dict(result.protocols) == {
        "SSLv3": False,
        "TLSv1": True,
        "TLSv1.1": True,
        "TLSv1.2": True,
        "TLSv1.3": False,
    }
    assert "SSLv2" in result.untested
    report_data = (await probe("127.0.0.1", options=session.options)).finding("tls")
    assert report_data is not None and report_data.status.value == "warning"
    assert report_data.data["protocols"]["TLSv1"] is True


@pytest.mark.slow
async def test_tls13_only_server(tls_persona: Start, leaf: Built, tmp_path: Path) -> None:
    context = server_context(leaf, tmp_path, minimum=V.TLSv1_3)
    result = (await scan(await tls_persona(context))).tls_scan
    assert result is not None
    assert dict(result.protocols) == {
        "SSLv3": False,
        "TLSv1": False,
        "TLSv1.1": False,
        "TLSv1.2": False,
        "TLSv1.3": True,
    }
    # Every TLS 1.2 class is refused: no suite at all, so no CBC-only nor weak suite.
    assert all(result.weak_ciphers[name] == "" for name in ("aNULL", "NULL", "CBC", "FS"))
    for name in ("RC4", "3DES", "EXPORT"):  # asked for with a hand-built ClientHello
        assert result.weak_ciphers[name] == "" and name not in result.untested


async def test_anonymous_null_and_cbc_only_suites(
    tls_persona: Start, leaf: Built, tmp_path: Path
) -> None:
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
    # Python's default client offers none of these suites: the probe's own STARTTLS
    # handshake fails (CRITICAL, TLS was asked for); the scan says what the server has.
    assert finding is not None and finding.reason == "handshake-failed"
    assert {"weak-ciphers", "no-forward-secrecy"} <= reasons(finding)
    assert "AES128-SHA" in finding.data["weak_ciphers"]
    assert classes["aNULL"] in finding.data["weak_ciphers"]


async def test_no_forward_secrecy(tls_persona: Start, leaf: Built, tmp_path: Path) -> None:
    context = server_context(leaf, tmp_path, maximum=V.TLSv1_2, ciphers="kRSA:!eNULL")
    session = await scan(await tls_persona(context))
    assert session.tls_scan is not None
    assert session.tls_scan.weak_ciphers["FS"] == ""
    assert session.tls_scan.weak_ciphers["kRSA"]
    finding = (await probe("127.0.0.1", options=session.options)).finding("tls")
    assert finding is not None and "no-forward-secrecy" in reasons(finding)
    assert "forward secrecy" in summary_text(finding, load("en"))


async def test_good_server_is_ok(tls_persona: Start, leaf: Built, tmp_path: Path) -> None:
    context = server_context(
        leaf, tmp_path, minimum=V.TLSv1_2, ciphers="ECDHE+AESGCM:ECDHE+CHACHA20"
    )
    server = await tls_persona(context)
    options = ProbeOptions(
        port=server.port,
        tls=TlsMode.STARTTLS,
        deadline=20.0,
        insecure=True,
        tls_scan=True,
        steps=SCAN_STEPS,
    )
    report = await probe(server.host, options=options)
    finding = report.finding("tls")
    assert finding is not None
    assert finding.data["protocols"] == {
        "SSLv3": False,
        "TLSv1": False,
        "TLSv1.1": False,
        "TLSv1.2": True,
        "TLSv1.3": True,
    }
    assert finding.data["weak_ciphers"] == []
    assert finding.data["scan"]["errors"] == []


def _server_hello(version: int, suite: int) -> bytes:
    body = version.to_bytes(2, "big") + bytes(32) + b"\x00" + suite.to_bytes(2, "big") + b"\x00"
    handshake = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake


def test_client_hello_offers_exactly_the_suites_and_the_sni() -> None:
    hello = client_hello([0x000A, 0xC012], sni="mx.example.org")
    assert hello[0] == 0x16 and record_complete(hello)
    assert b"\x00\x06\x00\x0a\xc0\x12\x00\xff" in hello  # the two suites and the SCSV
    assert b"mx.example.org" in hello
    assert server_choice(_server_hello(0x0303, 0x000A)) == (0x0303, 0x000A)
    assert server_choice(b"\x15\x03\x03\x00\x02\x02\x28") is None  # handshake_failure
    assert server_choice(b"\x16\x03") is None and server_choice(b"") is None


@pytest.fixture
async def legacy_server() -> AsyncIterator[ServerAddress]:
    """A scripted server from before OpenSSL 3: STARTTLS, then a ServerHello choosing
    DES-CBC3-SHA when it is offered (TLS 1.0), an SSLv3 ServerHello to an SSLv3 hello,
    and a handshake_failure alert to anything else."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The scanner hangs up as soon as it has read the answer: nothing to report.
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await scripted_starttls(reader, writer, "legacy.test")
            head = await reader.readexactly(5)
            hello = await reader.readexactly(int.from_bytes(head[3:5], "big"))
            if head[1:3] == b"\x03\x00":
                writer.write(_server_hello(0x0300, 0x002F))
            elif b"\x00\x0a" in hello[38:]:  # DES-CBC3-SHA among the suites offered
                writer.write(_server_hello(0x0301, 0x000A))
            else:
                writer.write(b"\x15\x03\x01\x00\x02\x02\x28")
            await writer.drain()
        writer.close()

    async with serving(serve) as address:
        yield address


async def test_a_suite_openssl_cannot_offer_is_seen_accepted(
    legacy_server: ServerAddress,
) -> None:
    result = await scan_directly(legacy_server)
    assert result.weak_ciphers["3DES"] == "DES-CBC3-SHA"
    assert result.weak_ciphers["RC4"] == "" and result.weak_ciphers["EXPORT"] == ""
    assert result.protocols["SSLv3"] is True
    # Real handshakes against a server that only ever sends a ServerHello fail: refused.
    assert result.protocols["TLSv1.2"] is False and result.weak_ciphers["aNULL"] == ""
    assert result.errors == ()


@pytest.fixture
async def limited_server(leaf: Built, tmp_path: Path) -> AsyncIterator[ServerAddress]:
    """STARTTLS with Exim's ``smtp_accept_max_per_host = 2``: a third concurrent
    connection gets ``421`` and is closed."""
    context = server_context(leaf, tmp_path, minimum=V.TLSv1_2)
    active = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal active
        if active >= 2:
            writer.write(b"421 too many connections from your host\r\n")
            writer.close()
            return
        active += 1
        try:
            # A refused handshake or the scanner hanging up is the point of this server.
            with contextlib.suppress(ssl.SSLError, ConnectionError, asyncio.IncompleteReadError):
                await scripted_starttls(reader, writer, "limited.test")
                await writer.start_tls(context)
                await reader.read()
        finally:
            active -= 1
            writer.close()

    async with serving(serve) as address:
        yield address


@pytest.mark.slow
async def test_a_rate_limiting_server_is_asked_again_politely(
    limited_server: ServerAddress,
) -> None:
    result = await scan_directly(limited_server)
    # Whatever was turned away at first was asked again alone and answered.
    assert result.errors == (), result.errors
    assert dict(result.protocols) == {
        "SSLv3": False,
        "TLSv1": False,
        "TLSv1.1": False,
        "TLSv1.2": True,
        "TLSv1.3": True,
    }
    assert result.weak_ciphers["AEAD"] and result.weak_ciphers["FS"]


async def test_a_failed_verification_keeps_the_chain(
    tls_persona: Start, leaf: Built, tmp_path: Path
) -> None:
    # A self-signed certificate (as DANE-EE servers have) and no --insecure: the probe
    # fails closed, yet the chain it was shown is recorded (DANE matches against it).
    server = await tls_persona(server_context(leaf, tmp_path))
    options = ProbeOptions(
        port=server.port, tls=TlsMode.STARTTLS, deadline=20.0, tls_scan=True, steps=SCAN_STEPS
    )
    report = await probe(server.host, options=options)
    assert report.session.error is not None and report.status.value == "critical"
    finding = report.finding("tls")
    assert finding is not None and finding.reason == "unverified"
    assert finding.data["certificate"]["self_signed"] is True
    assert finding.data["chain_problems"] == ["self-signed-leaf"]
    assert len(finding.data["chain"]) == 1 and "chain_source" not in finding.data


async def test_only_old_protocols_is_critical(
    tls_persona: Start, leaf: Built, tmp_path: Path
) -> None:
    context = server_context(
        leaf, tmp_path, minimum=V.TLSv1, maximum=V.TLSv1_1, ciphers="ALL:@SECLEVEL=0"
    )
    server = await tls_persona(context)
    options = ProbeOptions(
        port=server.port,
        tls=TlsMode.AUTO,
        deadline=20.0,
        insecure=True,
        tls_scan=True,
        steps=SCAN_STEPS,
    )
    report = await probe(server.host, options=options)
    # Python's default context will not speak TLS 1.1: the probe's own handshake fails,
    # the scan says why and still reads the certificate.
    assert report.session.tls is None
    finding = report.finding("tls")
    assert finding is not None and finding.status.value == "critical"
    assert finding.data["protocols"]["TLSv1.1"] is True
    assert "neither TLS 1.2 nor TLS 1.3" in summary_text(finding, load("en"))
    assert finding.data["chain_source"] == "scan"


async def test_weak_key_and_sha1_signature_warn(tls_persona: Start, tmp_path: Path) -> None:
    weak = build_certificate("localhost", rsa_bits=1024, sha1_label=True)
    server = await tls_persona(server_context(weak, tmp_path, ciphers="ALL:@SECLEVEL=0"))
    options = ProbeOptions(
        port=server.port,
        tls=TlsMode.STARTTLS,
        deadline=20.0,
        insecure=True,
        tls_scan=True,
        steps=SCAN_STEPS,
    )
    finding = (await probe(server.host, options=options)).finding("tls")
    assert finding is not None and finding.status.value == "warning"
    assert finding.data["certificate"]["key_bits"] == 1024
    assert finding.data["certificate"]["signature_algorithm"] == "sha1WithRSAEncryption"
    assert {"weak-key", "weak-signature"} <= reasons(finding)
    words = summary_text(finding, load("en"))
    assert "only 1024 bits" in words and "sha1WithRSAEncryption" in words
