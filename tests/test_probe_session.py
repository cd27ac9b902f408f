"""The live probe against aiosmtpd personas of real MTAs: what is sent, what is recorded."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest

from smtpprobe.errors import SMTPProbeError
from smtpprobe.probe import probe
from smtpprobe.report import (
    STEPS,
    Exchange,
    ProbeEvent,
    ProbeEventKind,
    ProbeOptions,
    ProbeReport,
    Session,
    TlsMode,
)
from tests.conftest import ServerAddress
from tests.servers import PERSONAS

Start = Callable[..., Awaitable[ServerAddress]]
ALL_STEPS = frozenset(STEPS)


async def run(server: ServerAddress, **options: object) -> Session:
    opts = ProbeOptions(port=server.port, tls=TlsMode.NONE, deadline=5.0, **options)  # type: ignore[arg-type]
    report = await probe(server.host, options=opts)
    return report.session


def commands(session: Session) -> list[bytes]:
    return [e.command for e in session.exchanges]


def reply_of(session: Session, command: bytes) -> Exchange:
    return next(e for e in session.exchanges if e.command == command)


async def test_every_exchange_keeps_the_bytes_sent_and_the_whole_reply(smtp_server: Start) -> None:
    server = await smtp_server("hidden")
    session = await run(server, control_address="nobody-here")
    assert commands(session) == [
        b"",
        b"EHLO smtpprobe.invalid",
        b"HELP",
        b"HELP VRFY",
        b"VRFY postmaster",
        b"VRFY nobody-here",
        b"EXPN postmaster",
        b"EXPN nobody-here",
        b"NOOP",
        b"RSET",
        b"QUIT",
    ]
    assert [e.phase for e in session.exchanges] == [
        "banner",
        "EHLO",
        "HELP",
        "HELP",
        "VRFY",
        "VRFY",
        "EXPN",
        "EXPN",
        "NOOP",
        "RSET",
        "QUIT",
    ]
    banner, ehlo = session.exchanges[0].reply, session.exchanges[1].reply
    assert banner is not None and banner.raw == b"220 mx.test Python SMTP 1.4.6\r\n"
    assert ehlo is not None and ehlo.lines == ("mx.test", "SIZE 33554432", "8BITMIME", "HELP")
    assert ehlo.raw == b"250-mx.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250 HELP\r\n"
    assert (
        reply_of(session, b"VRFY nobody-here").reply == reply_of(session, b"VRFY postmaster").reply
    )
    assert str(reply_of(session, b"EXPN postmaster").reply) == "502 EXPN not implemented"
    assert str(reply_of(session, b"QUIT").reply) == "221 Bye"
    assert session.complete and session.error is None
    assert session.target.address == "127.0.0.1" and session.target.port == server.port


async def test_timings_are_recorded_for_connect_banner_and_each_command(smtp_server: Start) -> None:
    session = await run(await smtp_server("hidden"))
    assert session.connect_elapsed is not None and 0 < session.connect_elapsed < 1
    starts = [e.started for e in session.exchanges]
    assert starts == sorted(starts)
    assert all(0 < e.elapsed < 1 for e in session.exchanges)
    assert session.elapsed >= starts[-1] + session.exchanges[-1].elapsed


async def test_disclosing_vrfy_answers_differ_for_real_and_control(smtp_server: Start) -> None:
    session = await run(await smtp_server("disclosing"))
    real = session.exchanges_for("VRFY", "postmaster")
    control = session.exchanges_for("VRFY", session.control_address)
    assert [str(e.reply) for e in real] == ["250 2.1.5 <postmaster>"]
    assert [e.reply.code for e in control if e.reply] == [550]


async def test_postfix_bare_local_part_is_asked_again_with_the_domain(smtp_server: Start) -> None:
    session = await run(await smtp_server("postfix"))
    control = session.control_address
    vrfys = [(e.command, str(e.reply)) for e in session.exchanges if e.phase == "VRFY"]
    assert vrfys == [
        (b"VRFY postmaster", "501 5.1.3 Bad recipient address syntax"),
        (b"VRFY postmaster@mx.test", "252 2.0.0 postmaster@mx.test"),
        (
            f"VRFY {control}@mx.test".encode(),
            f"550 5.1.1 <{control}@mx.test>: Recipient address rejected: "
            "User unknown in local recipient table",
        ),
    ]
    assert session.qualified_users == {
        "postmaster": "postmaster@mx.test",
        control: f"{control}@mx.test",
    }
    assert [e.reply.code for e in session.exchanges_for("VRFY", "postmaster") if e.reply] == [
        501,
        252,
    ]


async def test_domain_option_overrides_the_greeting_name(smtp_server: Start) -> None:
    session = await run(await smtp_server("postfix"), domain="example.org", users=("alice",))
    assert session.qualified_users["alice"] == "alice@example.org"
    assert reply_of(session, b"VRFY alice@example.org").reply is not None


@pytest.mark.parametrize(
    ("persona", "vrfy", "expn", "help_lines"),
    [
        pytest.param(
            "postfix-novrfy",
            "502 5.5.1 VRFY command is disabled",
            "500 5.5.2 Error: command not recognized",
            (
                "2.0.0 Commands: AUTH BDAT DATA EHLO ETRN HELO HELP MAIL NOOP QUIT RCPT "
                "RSET STARTTLS VRFY XCLIENT XFORWARD",
            ),
            id="postfix-novrfy",
        ),
        pytest.param(
            "exim",
            "252 Administrative prohibition",
            "550 Administrative prohibition",
            (
                "Commands supported:",
                "AUTH STARTTLS HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT RSET HELP",
            ),
            id="exim",
        ),
        pytest.param(
            "disabled",
            "502 5.5.1 Command not implemented",
            "502 5.5.1 Command not implemented",
            ("5.3.0 Sendmail 8.17.2 -- HELP not implemented",),
            id="disabled",
        ),
        pytest.param(
            "auth-required",
            "530 5.7.0 Authentication required",
            "502 EXPN not implemented",
            ("5.7.0 Authentication required",),
            id="auth-required",
        ),
        pytest.param(
            "hmailserver",
            "252 Cannot VRFY user, but will accept message and attempt delivery",
            "502 EXPN not implemented",
            ("DATA HELO EHLO MAIL NOOP QUIT RCPT RSET SAML TURN VRFY",),
            id="hmailserver",
        ),
    ],
)
async def test_personas_replies_are_recorded_verbatim(
    smtp_server: Start, persona: str, vrfy: str, expn: str, help_lines: tuple[str, ...]
) -> None:
    session = await run(await smtp_server(persona))
    assert str(reply_of(session, b"VRFY postmaster").reply) == vrfy
    assert str(reply_of(session, b"EXPN postmaster").reply) == expn
    help_reply = reply_of(session, b"HELP").reply
    assert help_reply is not None and help_reply.lines == help_lines
    assert len(session.exchanges_for("VRFY", "postmaster")) == 1  # no domain retry here
    assert session.complete


async def test_helo_fallback_when_ehlo_is_refused(smtp_server: Start) -> None:
    session = await run(await smtp_server("helo-only"))
    assert commands(session)[1:3] == [b"EHLO smtpprobe.invalid", b"HELO smtpprobe.invalid"]
    assert [e.reply.code for e in session.exchanges[1:3] if e.reply] == [502, 250]
    assert session.complete and commands(session)[-1] == b"QUIT"


async def test_expn_multiline_list_is_kept_whole(smtp_server: Start) -> None:
    session = await run(await smtp_server("expn-list"), lists=("staff", "nolist"))
    staff = reply_of(session, b"EXPN staff").reply
    assert staff is not None and staff.code == 250
    assert staff.raw == b"250-2.1.5 Alice <alice@mx.test>\r\n250 2.1.5 Bob <bob@mx.test>\r\n"
    assert [e.argument for e in session.exchanges if e.phase == "EXPN"] == [
        "staff",
        "nolist",
        session.control_address,
    ]


async def test_rcpt_step_uses_null_sender_qualified_addresses_and_never_data(
    smtp_server: Start,
) -> None:
    session = await run(await smtp_server("postfix"), steps=ALL_STEPS)
    control = f"{session.control_address}@mx.test"
    tail = [(e.command, e.reply.code if e.reply else None) for e in session.exchanges[-5:]]
    assert tail == [
        (b"MAIL FROM:<>", 250),
        (b"RCPT TO:<postmaster@mx.test>", 250),
        (f"RCPT TO:<{control}>".encode(), 550),
        (b"RSET", 250),
        (b"QUIT", 221),
    ]
    assert not any(e.command.upper().startswith(b"DATA") for e in session.exchanges)


async def test_control_address_is_random_and_takes_the_users_domain(smtp_server: Start) -> None:
    server = await smtp_server("disclosing")
    first, second = await run(server), await run(server, users=("alice@mx.test",))
    # Like a person's name, nothing fixed a server could single out (no "smtpprobe-").
    assert re.fullmatch(r"[a-z]+[._-]?[a-z]+[0-9]{0,2}", first.control_address)
    assert second.control_address.endswith("@mx.test")
    assert first.control_address.split("@")[0] != second.control_address.split("@")[0]
    for session in (first, second):
        (control,) = session.exchanges_for("VRFY", session.control_address)
        assert control.reply is not None and control.reply.code == 550  # it does not exist


async def test_421_mid_session_ends_it_without_quit_or_error(smtp_server: Start) -> None:
    """RFC 5321 §3.8: after a 421 the server closes; the probe stops and says nothing more."""
    session = await run(await smtp_server("vrfy-limit"))
    last = session.exchanges[-1]
    assert last.phase == "VRFY" and str(last.reply) == "421 4.7.0 VRFY sent too many times"
    assert not session.complete and session.error is None
    assert all(e.command != b"QUIT" for e in session.exchanges)


async def test_steps_limit_what_is_sent(smtp_server: Start) -> None:
    session = await run(await smtp_server("hidden"), steps=frozenset({"ehlo", "noop"}))
    assert commands(session) == [b"", b"EHLO smtpprobe.invalid", b"NOOP"]
    assert session.complete


async def test_events_report_each_phase_and_exchange_in_order(smtp_server: Start) -> None:
    server = await smtp_server("hidden")
    events: list[ProbeEvent] = []
    opts = ProbeOptions(port=server.port, tls=TlsMode.NONE)
    report = await probe(server.host, options=opts, on_event=events.append)
    exchanged = [e.exchange for e in events if e.kind is ProbeEventKind.EXCHANGE]
    assert exchanged == list(report.session.exchanges)
    phases = [e.phase for e in events if e.kind is ProbeEventKind.PHASE]
    assert phases[:3] == ["resolve", "connect", "banner"]


# "silent" waits out the deadline: slow, unlike the others.
@pytest.mark.parametrize(
    "persona", [pytest.param(p, marks=pytest.mark.slow) if p == "silent" else p for p in PERSONAS]
)
async def test_no_exception_but_a_report_whatever_the_persona(
    smtp_server: Start, persona: str
) -> None:
    server = await smtp_server(persona)
    opts = ProbeOptions(port=server.port, deadline=0.5, steps=ALL_STEPS)
    report = await probe(server.host, options=opts)
    assert isinstance(report, ProbeReport)
    session = report.session
    assert session.exchanges and session.exchanges[0].phase == "banner"
    assert session.complete == (session.error is None and persona not in ("421", "vrfy-limit"))
    assert session.error is None or isinstance(session.error, SMTPProbeError)


def test_threaded_server_serves_a_probe_run_with_asyncio_run(
    threaded_smtp_server: Callable[..., ServerAddress],
) -> None:
    """The CLI-shaped fixture: a persona in a thread, probed from a fresh event loop."""
    server = threaded_smtp_server("postfix")
    opts = ProbeOptions(port=server.port, tls=TlsMode.NONE, deadline=5.0)
    session = asyncio.run(probe(server.host, options=opts)).session
    assert session.complete
    banner = session.exchanges[0].reply
    assert banner is not None and str(banner) == "220 mx.test ESMTP Postfix (Debian/GNU)"
