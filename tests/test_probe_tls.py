"""STARTTLS and implicit TLS against personas with trustme certificates: verified or not,
and why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from smtpprobe.errors import ProbeTLSError, UsageError
from smtpprobe.probe import probe
from smtpprobe.report import ProbeOptions, Session, TlsMode
from tests.conftest import ServerAddress
from tests.worded import english

Start = Callable[..., Awaitable[ServerAddress]]


async def run(server: ServerAddress, tls: TlsMode, **options: object) -> Session:
    opts = ProbeOptions(port=server.port, tls=tls, deadline=5.0, **options)  # type: ignore[arg-type]
    return (await probe(server.host, options=opts)).session


@pytest.mark.parametrize("mode", [TlsMode.AUTO, TlsMode.STARTTLS])
async def test_starttls_upgrade_verifies_against_the_given_ca(
    smtp_server: Start, cafile: str, mode: TlsMode
) -> None:
    session = await run(await smtp_server("hidden", tls="starttls"), mode, cafile=cafile)
    assert session.complete, session.error
    tls = session.tls
    assert (
        tls is not None and tls.mode is TlsMode.STARTTLS and tls.verified and not tls.verify_error
    )
    assert tls.version in ("TLSv1.2", "TLSv1.3") and tls.cipher
    assert tls.handshake_elapsed is not None and tls.handshake_elapsed > 0
    cert = tls.certificate
    assert cert is not None and cert.subject == "localhost"
    assert cert.sans == ("localhost", "127.0.0.1")
    assert cert.days_left is not None and cert.days_left > 300
    assert "O=trustme" in cert.issuer
    phases = [e.phase for e in session.exchanges]
    assert phases[:4] == ["banner", "EHLO", "STARTTLS", "EHLO"]
    assert session.ehlo_before_tls is not None and "STARTTLS" in session.ehlo_before_tls.lines
    after = session.exchanges[3].reply
    assert after is not None and "STARTTLS" not in after.lines
    assert session.stray == b""


async def test_tls_none_never_sends_starttls(smtp_server: Start, cafile: str) -> None:
    session = await run(await smtp_server("hidden", tls="starttls"), TlsMode.NONE, cafile=cafile)
    assert all(e.command != b"STARTTLS" for e in session.exchanges)
    assert session.tls is None and session.ehlo_before_tls is None


async def test_auto_without_starttls_offered_stays_in_clear(
    smtp_server: Start, cafile: str
) -> None:
    session = await run(await smtp_server("hidden"), TlsMode.AUTO, cafile=cafile)
    assert session.complete and session.tls is None
    assert all(e.command != b"STARTTLS" for e in session.exchanges)


async def test_forced_starttls_refused_is_recorded_and_the_session_goes_on(
    smtp_server: Start, cafile: str
) -> None:
    session = await run(await smtp_server("hidden"), TlsMode.STARTTLS, cafile=cafile)
    starttls = next(e for e in session.exchanges if e.command == b"STARTTLS")
    assert str(starttls.reply) == "454 TLS not available"
    assert session.complete and session.tls is None


@pytest.mark.parametrize(
    ("cert", "reason"),
    [("expired", "certificate has expired"), ("wrong-name", "mismatch")],
)
async def test_bad_certificate_with_starttls_asked_fails_closed_with_the_facts(
    smtp_server: Start, cafile: str, cert: str, reason: str
) -> None:
    """--tls starttls without --insecure: stop, but say why and what the certificate is."""
    session = await run(
        await smtp_server("hidden", tls="starttls", cert=cert), TlsMode.STARTTLS, cafile=cafile
    )
    assert not session.complete
    assert isinstance(session.error, ProbeTLSError) and session.error.phase == "tls"
    assert reason in english(session.error)[0]
    assert [e.phase for e in session.exchanges] == ["banner", "EHLO", "STARTTLS"]
    tls = session.tls
    assert tls is not None and not tls.verified and reason in tls.verify_error
    assert tls.certificate is not None and tls.certificate.subject


@pytest.mark.parametrize(
    ("cert", "reason"),
    [("expired", "certificate has expired"), ("wrong-name", "mismatch")],
)
async def test_opportunistic_tls_goes_on_past_a_bad_certificate(
    smtp_server: Start, cafile: str, cert: str, reason: str
) -> None:
    """--tls auto (RFC 7435, as MTAs do on port 25): record the failure, keep probing."""
    session = await run(
        await smtp_server("disclosing", tls="starttls", cert=cert), TlsMode.AUTO, cafile=cafile
    )
    assert session.complete and session.error is None
    tls = session.tls
    assert tls is not None and not tls.verified and reason in tls.verify_error
    assert tls.certificate is not None
    assert "VRFY" in [e.phase for e in session.exchanges]


async def test_system_store_does_not_trust_a_private_ca(smtp_server: Start) -> None:
    """Verification is on by default, against the system store."""
    session = await run(await smtp_server("hidden", tls="starttls"), TlsMode.STARTTLS)
    assert isinstance(session.error, ProbeTLSError)
    assert "unable to get local issuer certificate" in english(session.error)[0]


@pytest.mark.parametrize(
    ("cert", "reason"),
    [("expired", "certificate has expired"), ("wrong-name", "mismatch")],
)
async def test_insecure_goes_on_and_says_why_the_certificate_did_not_verify(
    smtp_server: Start, cafile: str, cert: str, reason: str
) -> None:
    server = await smtp_server("disclosing", tls="starttls", cert=cert)
    session = await run(server, TlsMode.STARTTLS, cafile=cafile, insecure=True)
    assert session.complete and session.error is None
    tls = session.tls
    assert tls is not None and not tls.verified and reason in tls.verify_error
    assert tls.certificate is not None and tls.certificate.subject in ("localhost", "wrong.example")
    if cert == "expired":
        assert tls.certificate.days_left is not None and tls.certificate.days_left < 0
    phases = [e.phase for e in session.exchanges]
    assert phases.count("banner") == 1 and phases[:4] == ["banner", "EHLO", "STARTTLS", "EHLO"]
    assert "VRFY" in phases and phases[-1] == "QUIT"


async def test_insecure_with_a_valid_certificate_still_reports_it_verified(
    smtp_server: Start, cafile: str
) -> None:
    session = await run(
        await smtp_server("hidden", tls="starttls"), TlsMode.STARTTLS, cafile=cafile, insecure=True
    )
    assert session.tls is not None and session.tls.verified and session.tls.verify_error == ""


async def test_implicit_tls_handshakes_before_the_banner(smtp_server: Start, cafile: str) -> None:
    session = await run(
        await smtp_server("hidden", tls="implicit"), TlsMode.IMPLICIT, cafile=cafile
    )
    assert session.complete, session.error
    tls = session.tls
    assert tls is not None and tls.mode is TlsMode.IMPLICIT and tls.verified
    assert tls.certificate is not None and tls.certificate.subject == "localhost"
    assert session.exchanges[0].phase == "banner" and session.exchanges[0].reply is not None
    assert all(e.command != b"STARTTLS" for e in session.exchanges)


async def test_implicit_tls_with_a_bad_certificate_fails_in_the_tls_phase(
    smtp_server: Start, cafile: str
) -> None:
    server = await smtp_server("hidden", tls="implicit", cert="expired")
    session = await run(server, TlsMode.IMPLICIT, cafile=cafile)
    assert isinstance(session.error, ProbeTLSError) and session.error.phase == "tls"
    assert session.exchanges == ()
    insecure = await run(server, TlsMode.IMPLICIT, cafile=cafile, insecure=True)
    assert insecure.complete and insecure.tls is not None and not insecure.tls.verified


async def test_implicit_tls_against_a_plain_server_is_a_tls_error(smtp_server: Start) -> None:
    session = await run(await smtp_server("hidden"), TlsMode.IMPLICIT)
    assert isinstance(session.error, ProbeTLSError) and session.error.phase == "tls"
    assert not session.complete


async def test_plaintext_injected_after_220_is_discarded_and_kept_as_evidence(
    smtp_server: Start, cafile: str
) -> None:
    """RFC 3207 §4.2 / CVE-2011-0411: nothing sent before the handshake is read inside TLS."""
    session = await run(
        await smtp_server("stray-after-starttls", tls="starttls"), TlsMode.STARTTLS, cafile=cafile
    )
    assert session.complete, session.error
    assert session.stray == b"250 2.0.0 injected before the handshake\r\n"
    after_tls = session.exchanges[3]
    assert after_tls.command == b"EHLO smtpprobe.invalid"
    assert after_tls.reply is not None and after_tls.reply.lines[0] == "mx.test"


async def test_unreadable_cafile_is_a_usage_error(tmp_path: object) -> None:
    with pytest.raises(UsageError):
        await probe("127.0.0.1", options=ProbeOptions(port=1, cafile="/nonexistent/ca.pem"))
