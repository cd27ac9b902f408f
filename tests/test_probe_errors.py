"""When things go wrong: one deadline, errors recorded in the session, bad input refused early."""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable

import pytest

from smtpprobe.errors import (
    MalformedReplyError,
    ProbeConnectError,
    ProbeTimeoutError,
    ResolveError,
    ServerDisconnectedError,
    UsageError,
)
from smtpprobe.probe import probe
from smtpprobe.report import ProbeOptions, Session, TlsMode
from tests.conftest import ServerAddress

Start = Callable[..., Awaitable[ServerAddress]]


async def run(host: str, port: int, **options: object) -> Session:
    opts = ProbeOptions(port=port, tls=TlsMode.NONE, **options)  # type: ignore[arg-type]
    return (await probe(host, options=opts)).session


@pytest.mark.slow
async def test_silent_server_ends_at_the_deadline_with_the_banner_kept(smtp_server: Start) -> None:
    server = await smtp_server("silent")
    began = time.perf_counter()
    session = await run(server.host, server.port, deadline=0.6)
    assert time.perf_counter() - began < 0.6 + 0.5
    assert not session.complete
    assert isinstance(session.error, ProbeTimeoutError)
    assert session.error.kind == "timeout" and session.error.phase == "EHLO"
    banner, ehlo = session.exchanges
    assert banner.reply is not None and banner.reply.code == 220
    assert ehlo.command == b"EHLO smtpprobe.invalid" and ehlo.reply is None
    assert isinstance(ehlo.error, ProbeTimeoutError)
    assert all(e.command != b"QUIT" for e in session.exchanges)


@pytest.mark.slow
async def test_command_timeout_shorter_than_the_deadline_ends_sooner(smtp_server: Start) -> None:
    server = await smtp_server("silent")
    began = time.perf_counter()
    session = await run(server.host, server.port, deadline=5.0, command_timeout=0.2)
    assert time.perf_counter() - began < 1.0
    assert isinstance(session.error, ProbeTimeoutError) and session.error.phase == "EHLO"


async def test_close_in_the_middle_of_a_reply_keeps_the_partial_bytes(smtp_server: Start) -> None:
    server = await smtp_server("closes-mid-reply")
    session = await run(server.host, server.port, deadline=5.0)
    assert isinstance(session.error, ServerDisconnectedError)
    assert session.error.phase == "EHLO" and not session.complete
    ehlo = session.exchanges[-1]
    assert ehlo.reply is None and ehlo.partial == b"250-mx.test\r\n250-PIPELINING\r\n250-SIZ"


async def test_421_greeting_ends_the_session_without_an_error(smtp_server: Start) -> None:
    server = await smtp_server("421")
    session = await run(server.host, server.port, deadline=5.0)
    (banner,) = session.exchanges
    assert banner.reply is not None and banner.reply.code == 421
    assert not session.complete and session.error is None


async def test_554_greeting_gets_a_quit_and_nothing_else(scripted_server: Start) -> None:
    """RFC 5321 §3.1: after a 554 greeting the client sends only QUIT."""
    server = await scripted_server([b"554 5.3.2 mx.test No SMTP service here\r\n", b"221 Bye\r\n"])
    session = await run(server.host, server.port, deadline=5.0)
    assert [(e.command, e.reply.code if e.reply else None) for e in session.exchanges] == [
        (b"", 554),
        (b"QUIT", 221),
    ]
    assert not session.complete and session.error is None


async def test_refused_connection_is_recorded_as_a_connect_error(closed_port: int) -> None:
    session = await run("127.0.0.1", closed_port, deadline=5.0)
    assert isinstance(session.error, ProbeConnectError)
    assert session.error.phase == "connect" and session.error.kind == "connect"
    assert session.exchanges == () and not session.complete
    # An IP literal is its own address, connection or not (the view said "Address -").
    assert session.target.address == "127.0.0.1"


async def test_garbage_greeting_is_a_malformed_reply_in_the_banner_phase(
    scripted_server: Start,
) -> None:
    """A web server answering on the SMTP port: not SMTP at all."""
    server = await scripted_server([b"HTTP/1.1 400 Bad Request\r\n\r\n"])
    session = await run(server.host, server.port, deadline=5.0)
    assert isinstance(session.error, MalformedReplyError) and session.error.phase == "banner"
    assert session.error.raw == b"HTTP/1.1 400 Bad Request\r\n"
    assert session.exchanges[0].phase == "banner" and session.exchanges[0].reply is None


async def test_unresolvable_name_raises_before_anything_is_sent() -> None:
    with pytest.raises(ResolveError) as caught:
        await probe("nonexistent.invalid", options=ProbeOptions(deadline=5.0))
    assert caught.value.phase == "resolve" and caught.value.kind == "resolve"


async def test_address_family_is_honoured(smtp_server: Start) -> None:
    server = await smtp_server("hidden")
    with pytest.raises(ResolveError):
        await run(server.host, server.port, family=socket.AF_INET6)
    session = await run(server.host, server.port, family=socket.AF_INET)
    assert session.complete


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"users": ("alice\r\nRSET",)}, id="crlf-in-user"),
        pytest.param({"users": ("alice bob",)}, id="space-in-user"),
        pytest.param({"users": ("alice>",)}, id="angle-bracket"),
        pytest.param({"users": ("",)}, id="empty-user"),
        pytest.param({"lists": ("staff\x00",)}, id="nul-in-list"),
        pytest.param({"helo": "my host"}, id="space-in-helo"),
        pytest.param({"helo": "h\u00e9lo"}, id="non-ascii-helo"),
        pytest.param({"control_address": "x\ny"}, id="lf-in-control"),
        pytest.param({"domain": "example.org\u200b"}, id="zero-width-in-domain"),
        pytest.param({"steps": frozenset({"data"})}, id="unknown-step"),
        pytest.param({"port": 70000}, id="port-out-of-range"),
        pytest.param({"deadline": 0.0}, id="zero-deadline"),
        pytest.param({"cafile": "/nonexistent/ca.pem", "tls": TlsMode.STARTTLS}, id="no-cafile"),
    ],
)
async def test_bad_input_is_a_usage_error_before_connecting(
    options: dict[str, object], closed_port: int
) -> None:
    with pytest.raises(UsageError):
        await probe("127.0.0.1", options=ProbeOptions(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["", "mx example", "mx\r\n.example"])
async def test_bad_host_is_a_usage_error(host: str) -> None:
    with pytest.raises(UsageError):
        await probe(host)


async def test_bracketed_ipv4_literal_is_accepted(smtp_server: Start) -> None:
    server = await smtp_server("hidden")
    session = (
        await probe(f"[{server.host}]", options=ProbeOptions(port=server.port, tls=TlsMode.NONE))
    ).session
    assert session.complete and session.target.host == "127.0.0.1"
