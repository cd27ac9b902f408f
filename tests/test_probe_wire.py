"""The asyncio client under the probe: every byte to the parser, only SMTPProbeErrors out."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable

import pytest

from smtpprobe.errors import (
    MalformedReplyError,
    ProbeTimeoutError,
    ServerDisconnectedError,
    UsageError,
)
from smtpprobe.report import TlsMode
from smtpprobe.tls import client_context, describe
from smtpprobe.wire import SMTPWire
from tests.conftest import ServerAddress

Start = Callable[..., Awaitable[ServerAddress]]


async def connected(port: int) -> SMTPWire:
    wire = SMTPWire()
    await wire.connect("127.0.0.1", port, family=socket.AF_INET, timeout=2.0)
    return wire


async def test_a_reply_split_across_packets_is_read_whole(scripted_server: Start) -> None:
    server = await scripted_server([b"220-mx.test", b" hello\r\n22", b"0 ready\r\n"], close=True)
    wire = await connected(server.port)
    try:
        reply = await wire.read_reply(2.0)
        assert reply.code == 220 and reply.lines == ("mx.test hello", "ready")
        with pytest.raises(ServerDisconnectedError):
            await wire.read_reply(2.0)
    finally:
        wire.close()
        await wire.wait_closed()


async def test_malformed_line_raises_the_parsers_error(scripted_server: Start) -> None:
    wire = await connected((await scripted_server([b"hello there\r\n"])).port)
    try:
        with pytest.raises(MalformedReplyError):
            await wire.read_reply(2.0)
    finally:
        wire.close()
        await wire.wait_closed()


@pytest.mark.slow
async def test_read_timeout_keeps_the_partial_reply(scripted_server: Start) -> None:
    server = await scripted_server([b"220 mx.test\r\n250-half a", b" reply"])
    wire = await connected(server.port)
    try:
        assert (await wire.read_reply(1.0)).code == 220
        with pytest.raises(ProbeTimeoutError):
            await wire.read_reply(0.1)
        assert wire.partial == b"250-half a reply"
    finally:
        wire.close()
        await wire.wait_closed()


async def test_command_with_crlf_is_refused_before_sending(smtp_server: Start) -> None:
    server = await smtp_server("hidden")
    wire = await connected(server.port)
    try:
        await wire.read_reply(1.0)
        with pytest.raises(UsageError):
            await wire.command(b"VRFY a\r\nRSET", 1.0)
        assert str(await wire.command(b"NOOP", 1.0)) == "250 OK"  # nothing extra was sent
    finally:
        wire.close()
        await wire.wait_closed()


async def test_starttls_discards_injected_plaintext_as_stray(
    smtp_server: Start, cafile: str
) -> None:
    server = await smtp_server("stray-after-starttls", tls="starttls")
    wire = await connected(server.port)
    try:
        await wire.read_reply(1.0)
        await wire.command(b"EHLO client.test", 1.0)
        context = client_context(cafile=cafile, verify=True)
        reply = await wire.starttls(context, "localhost", 2.0)
        assert str(reply) == "220 Ready to start TLS"
        assert wire.stray == b"250 2.0.0 injected before the handshake\r\n"
        assert (await wire.command(b"NOOP", 1.0)).code == 250
        ssl_object = wire.ssl_object()
        assert ssl_object is not None
        info = describe(ssl_object, TlsMode.STARTTLS, verified=True)
        assert info.certificate is not None
        assert info.certificate.sans == ("localhost", "127.0.0.1")
    finally:
        wire.close()
        await wire.wait_closed()


async def test_tls_info_is_none_in_clear_and_close_is_idempotent(smtp_server: Start) -> None:
    wire = await connected((await smtp_server("hidden")).port)
    assert wire.ssl_object() is None
    wire.close()
    wire.close()
    await wire.wait_closed()
    with pytest.raises(ServerDisconnectedError):
        await wire.command(b"NOOP", 0.5)


async def test_insecure_context_skips_verification() -> None:
    context = client_context(cafile=None, verify=False)
    assert context.verify_mode is ssl.CERT_NONE and not context.check_hostname
