"""The policy fetch against hostile HTTPS servers on loopback: every limit holds."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trustme

from smtpprobe.https_fetch import FetchError, HttpsResponse, fetch

HOST = "mta-sts.hostile.test"
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def https(tls_ca: trustme.CA) -> AsyncIterator[Callable[[Script], Awaitable[int]]]:
    """Factory: serve *script* over TLS (certificate for HOST) on 127.0.0.1; → the port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(HOST).configure_cert(context)
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # The client going away mid-answer is what several scripts test for.
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                await reader.readuntil(b"\r\n\r\n")
                await script(reader, writer)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _send(data: bytes) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)

    return script


async def _get(port: int, cafile: str, timeout: float = 3.0, host: str = HOST) -> HttpsResponse:
    return await fetch(
        host,
        "/.well-known/mta-sts.txt",
        port=port,
        connect_to=("127.0.0.1",),
        cafile=cafile,
        timeout=timeout,
    )


async def test_a_good_answer(https: Callable[[Script], Awaitable[int]], cafile: str) -> None:
    port = await https(
        _send(
            b"HTTP/1.1 200 OK\r\nContent-Type: Text/Plain; charset=utf-8\r\n"
            b"Content-Length: 5\r\n\r\nhello"
        )
    )
    response = await _get(port, cafile)
    assert (response.status, response.media_type, response.body) == (200, "text/plain", b"hello")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "malformed"),
        (b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 40_000, "malformed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "malformed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed"),
        # Numbers that str.isdigit() takes and int() refuses or reads as something else.
        ("HTTP/1.1 200 OK\r\nContent-Length: ²³\r\n\r\n".encode(), "malformed"),
        ("HTTP/1.1 200 OK\r\nContent-Length: ٣\r\n\r\nabc".encode(), "malformed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", "malformed"),
        ("HTTP/1.1 ²⁰⁰ OK\r\nContent-Length: 0\r\n\r\n".encode(), "malformed"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 5000 + b"\r\n",
            "malformed",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", "too-large"),
        (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 70_000, "too-large"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20000\r\n", "too-large"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "malformed"),
    ],
)
async def test_hostile_answers(
    https: Callable[[Script], Awaitable[int]], cafile: str, answer: bytes, reason: str
) -> None:
    port = await https(_send(answer))
    with pytest.raises(FetchError) as caught:
        await _get(port, cafile)
    assert caught.value.reason == reason


async def test_a_redirect_is_returned_not_followed(
    https: Callable[[Script], Awaitable[int]], cafile: str
) -> None:
    port = await https(
        _send(
            b"HTTP/1.1 302 Found\r\nLocation: https://elsewhere.test/"
            + b"x" * 1000
            + b"\r\nContent-Length: 0\r\n\r\n"
        )
    )
    response = await _get(port, cafile)
    assert response.status == 302
    assert response.location.startswith("https://elsewhere.test/")
    assert len(response.location) == 300


@pytest.mark.slow
async def test_a_dripping_server_ends_at_the_timeout(
    https: Callable[[Script], Awaitable[int]], cafile: str
) -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):  # bounded: 10 s at most
            writer.write(b"X: y\r\n")
            await writer.drain()
            await asyncio.sleep(0.1)

    port = await https(drip)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await _get(port, cafile, timeout=1.0)
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 3.0  # generous on a loaded machine


async def test_a_certificate_for_another_name(
    https: Callable[[Script], Awaitable[int]], cafile: str
) -> None:
    port = await https(_send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    with pytest.raises(FetchError) as caught:
        await _get(port, cafile, host="mta-sts.other.test")
    assert caught.value.reason == "tls" and "mismatch" in caught.value.detail.lower()


async def test_nothing_listening(closed_port: int, cafile: str) -> None:
    with pytest.raises(FetchError) as caught:
        await _get(closed_port, cafile)
    assert caught.value.reason == "unreachable"
