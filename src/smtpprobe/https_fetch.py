"""One HTTPS GET with hard limits, for the MTA-STS policy (RFC 8461 §3.3); no redirects.

Plain asyncio streams and ``ssl``: the probe already runs in an event loop, one deadline
covers resolve, connect, handshake and body, and every byte count is capped here. Server
bytes are hostile: the status line and headers are capped too, and nothing is decoded.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass

from smtpprobe.numbers import ascii_number
from smtpprobe.tls import client_context
from smtpprobe.version import __version__

__all__ = ["MAX_BODY", "FetchError", "HttpsResponse", "fetch"]

# RFC 8461 §3.3 lets senders cap policy size; 64 KiB is what the RFC's examples and the
# big senders use, and a policy is a few hundred bytes.
MAX_BODY = 64 * 1024
_MAX_HEAD = 16 * 1024


@dataclass(frozen=True, slots=True)
class HttpsResponse:
    """What came back: status code, media type (lower case, no parameters), the body
    (only read for a 200), ``location`` (a 3xx's target, never followed), seconds taken."""

    status: int
    media_type: str
    body: bytes
    location: str
    elapsed: float


class FetchError(Exception):
    """The fetch failed. ``reason`` is a stable key: ``no-address``, ``unreachable``,
    ``tls``, ``timeout``, ``too-large``, ``malformed``; ``detail`` says more (OpenSSL's
    verify message, the system's reason)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


async def fetch(
    host: str,
    path: str,
    *,
    port: int = 443,
    connect_to: tuple[str, ...] = (),
    cafile: str | None = None,
    timeout: float = 10.0,
    max_body: int = MAX_BODY,
) -> HttpsResponse:
    """GET ``https://host:port/path`` with the certificate verified for *host*.

    *connect_to* are addresses to try instead of resolving *host* (an answer from the
    configured DNS server); *cafile* replaces the system trust store (tests only).

    :raises FetchError: no connection, a certificate that does not verify, the
        *timeout* reached, a body over *max_body*, or bytes that are not HTTP/1.x.
    """
    context = client_context(cafile=cafile, verify=True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await _connect(host, port, connect_to, context)
            try:
                return await _exchange(reader, writer, host, path, max_body, loop, started)
            finally:
                writer.transport.abort()  # no TLS close_notify dance with a hostile server
    except TimeoutError:
        raise FetchError("timeout", f"{timeout:g} s") from None


async def _connect(
    host: str, port: int, connect_to: tuple[str, ...], context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    last = FetchError("unreachable", host)
    for address in connect_to or (host,):
        try:
            return await asyncio.open_connection(
                address, port, ssl=context, server_hostname=host, limit=_MAX_HEAD
            )
        except ssl.SSLCertVerificationError as exc:
            raise FetchError("tls", str(exc.verify_message or exc.reason)) from None
        except ssl.SSLError as exc:
            raise FetchError("tls", str(exc.reason or exc)) from None
        except socket.gaierror as exc:
            last = FetchError("no-address", str(exc))
        except (OSError, UnicodeError) as exc:
            last = FetchError("unreachable", str(exc))
    raise last


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    path: str,
    max_body: int,
    loop: asyncio.AbstractEventLoop,
    started: float,
) -> HttpsResponse:
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: smtpprobe/{__version__}\r\n"
        "Accept: text/plain\r\nConnection: close\r\n\r\n".encode("ascii")
    )
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise FetchError("malformed", f"headers over {_MAX_HEAD} bytes") from None
    except asyncio.IncompleteReadError as exc:
        raise FetchError("malformed", f"closed after {len(exc.partial)} bytes") from None
    status, headers = _parse_head(head)
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = b""
    if status == 200:
        body = await _body(reader, headers, max_body)
    # Header values are shown in findings: cap them (a Location can be kilobytes).
    return HttpsResponse(
        status, media_type[:100], body, headers.get("location", "")[:300], loop.time() - started
    )


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    # The server's numbers: ASCII digits only, short ("²" passes str.isdigit(), then
    # int() raises; 5000 digits pass too, past Python's int-string limit).
    status = ascii_number(parts[1], max_digits=3) if len(parts) >= 2 else None
    if status is None or not parts[0].startswith("HTTP/1."):
        raise FetchError("malformed", lines[0][:80])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    return status, headers


async def _body(reader: asyncio.StreamReader, headers: dict[str, str], max_body: int) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _chunked(reader, max_body)
    length = headers.get("content-length")
    if length is not None:
        octets = ascii_number(length, max_digits=18)
        if octets is None:
            raise FetchError("malformed", f"Content-Length {length[:40]}")
        if octets > max_body:
            raise FetchError("too-large", length[:40])
        try:
            return await reader.readexactly(octets)
        except asyncio.IncompleteReadError as exc:
            raise FetchError("malformed", f"body ended after {len(exc.partial)} bytes") from None
    body = await reader.read(max_body + 1)
    while len(body) <= max_body and (more := await reader.read(max_body + 1 - len(body))):
        body += more
    if len(body) > max_body:
        raise FetchError("too-large", f">{max_body}")
    return body


async def _chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    """RFC 9112 §7.1 chunked coding, capped at *max_body*; trailers are not read."""
    body = b""
    while True:
        try:
            size_line = await reader.readuntil(b"\r\n")
            size_text = size_line.split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16 or not size_text.isalnum():
                raise ValueError(size_text[:40])
            size = int(size_text, 16)
        except (ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            raise FetchError("malformed", "bad chunk size") from None
        if size == 0:
            return body
        if len(body) + size > max_body:
            raise FetchError("too-large", f">{max_body}")
        try:
            body += (await reader.readexactly(size + 2))[:-2]
        except asyncio.IncompleteReadError:
            raise FetchError("malformed", "chunk cut short") from None
