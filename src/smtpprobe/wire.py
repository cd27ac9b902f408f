"""A small asyncio SMTP client that hands every received byte to the sans-IO reply parser.

Nothing the server sends is dropped or reinterpreted: replies come from
`smtpprobe.reply.ReplyParser`, the same parser ``explain`` and ``annotate`` use, and
bytes that arrive where none are allowed (after ``220`` to STARTTLS) are kept as evidence.
Every failure surfaces as an `smtpprobe.errors.RemoteError` subclass.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from time import perf_counter

from smtpprobe.errors import (
    ProbeConnectError,
    ProbeTimeoutError,
    ProbeTLSError,
    ServerDisconnectedError,
    UsageError,
)
from smtpprobe.reply import CLOSED, Reply, ReplyParser

__all__ = ["PARTIAL_OCTETS", "SMTPWire"]

# Evidence kept from an unfinished reply: enough to see what came, never a megabyte line
# on the user's terminal (the parser's caps bound memory, this bounds the report).
PARTIAL_OCTETS = 1024


class _ReplyProtocol(asyncio.Protocol):
    """Feeds the parser from the transport and wakes the reader when bytes or EOF arrive."""

    def __init__(self) -> None:
        self.parser = ReplyParser()
        self.lost = asyncio.get_running_loop().create_future()
        self._waiter: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        if not self.parser.at_eof:
            self.parser.receive_data(data)
        self._wake()

    def eof_received(self) -> bool:
        self._end()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()
        if not self.lost.done():
            self.lost.set_result(None)

    def _end(self) -> None:
        if not self.parser.at_eof:
            self.parser.receive_data(b"")
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait_data(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter


class SMTPWire:
    """One SMTP connection: connect, send command lines, read replies, upgrade to TLS.

    Not reusable: make a new one for every connection. Timeouts are per call; the caller
    owns the overall deadline. ``connect_elapsed``, ``handshake_elapsed``, ``stray`` and
    ``unsolicited`` are filled in as the connection goes; ``partial`` holds the first
    `PARTIAL_OCTETS` of a reply that did not complete.

    :param redact: applied to every piece of received evidence it keeps (``partial``,
        ``stray``, ``unsolicited``, ``leftover``) before it is cut to size, so that a cut
        never leaves part of a secret behind (`smtpprobe.redact.Redactor.data`).
    """

    def __init__(self, redact: Callable[[bytes], bytes] = bytes) -> None:
        self._protocol: _ReplyProtocol | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._redact = redact
        self.connect_elapsed: float | None = None
        self.source_address = ""
        self.handshake_elapsed: float | None = None
        self.stray = b""
        self._unfinished = b""
        # (verb of the command about to be sent, bytes already waiting then), see `command`.
        self.unsolicited: list[tuple[str, bytes]] = []

    async def connect(
        self,
        host: str,
        port: int,
        *,
        family: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        source: str | None = None,
        timeout: float,
    ) -> None:
        """Open TCP to *host* (from the local address *source*, when given), then run the
        TLS handshake when *ssl_context* is given. ``source_address`` records where the
        connection came from (``address:port``).

        The TCP connect and the handshake are timed apart (implicit TLS, port 465).

        :raises ProbeConnectError: refused, unreachable, or any other socket error.
        :raises ProbeTimeoutError: no connection within *timeout*.
        :raises ProbeTLSError: the handshake failed or the certificate did not verify.
        """
        loop = asyncio.get_running_loop()
        self._protocol = protocol = _ReplyProtocol()
        started = perf_counter()
        try:
            async with asyncio.timeout(timeout):
                self._transport, _ = await loop.create_connection(
                    lambda: protocol,
                    host,
                    port,
                    family=family,
                    local_addr=(source, 0) if source else None,
                )
        except TimeoutError:
            raise ProbeTimeoutError(
                key="error_connect_timeout", params={"host": host, "port": port, "timeout": timeout}
            ) from None
        except OSError as exc:
            raise ProbeConnectError(
                key="error_connect_failed", params={"host": host, "port": port, "reason": exc}
            ) from exc
        self.connect_elapsed = perf_counter() - started
        local = self._transport.get_extra_info("sockname")
        if isinstance(local, tuple) and len(local) >= 2:
            address = str(local[0])
            self.source_address = (
                f"[{address}]:{local[1]}" if ":" in address else (f"{address}:{local[1]}")
            )
        if ssl_context is not None:
            await self.upgrade(ssl_context, server_hostname, timeout)

    async def read_reply(self, timeout: float) -> Reply:
        """The next complete reply, however it is split across packets.

        :raises ProbeTimeoutError: no complete reply within *timeout*.
        :raises ServerDisconnectedError: the connection ended before a complete reply.
        :raises MalformedReplyError: a line that is not a reply line, or one over the caps.
        """
        protocol = self._require()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._unfinished = protocol.parser.pending
                    item = protocol.parser.next_reply()
                    if isinstance(item, Reply):
                        self._unfinished = b""
                        return item
                    if item is CLOSED:
                        raise ServerDisconnectedError(key="error_server_closed")
                    await protocol.wait_data()
        except TimeoutError:
            raise ProbeTimeoutError(
                key="error_reply_timeout", params={"timeout": timeout}
            ) from None

    @property
    def partial(self) -> bytes:
        """The start of the reply being read when reading failed (redacted, then cut)."""
        return self._redact(self._unfinished)[:PARTIAL_OCTETS]

    async def command(self, line: bytes, timeout: float) -> Reply:
        """Send *line* followed by CRLF and return the reply to it.

        Bytes that are already waiting when a command is sent answer nothing we sent (one
        reply per command, RFC 5321 §4.2; the probe never pipelines). Read as the next
        reply they would shift every later reply onto the wrong command, and turn equal
        VRFY answers into different ones; so they are discarded and kept, with the verb
        (never the whole line, which may carry credentials), in ``unsolicited``.

        :raises UsageError: *line* holds CR or LF (it would smuggle a second command).
        :raises ProbeTimeoutError, ServerDisconnectedError, MalformedReplyError: as
            `read_reply`.
        """
        if b"\r" in line or b"\n" in line:
            raise UsageError(key="error_command_crlf", params={"line": line})
        return await self.send(line + b"\r\n", timeout)

    async def send(self, data: bytes, timeout: float) -> Reply:
        """Write *data* exactly as given and return the one reply it earns.

        For what is not one command line: a DATA body with its ``.`` terminator, a BDAT
        command with its chunk (RFC 3030 §2). The caller owns the bytes' shape; waiting
        bytes are kept in ``unsolicited`` as for `command`.

        :raises ProbeTimeoutError, ServerDisconnectedError, MalformedReplyError: as
            `read_reply`.
        """
        transport = self._require_transport()
        waiting = self._require().parser.discard_buffered()
        if waiting:
            verb = (data.split(None, 1) or [b""])[0][:16].decode("ascii", "replace")
            self.unsolicited.append((verb, self._redact(waiting)[:PARTIAL_OCTETS]))
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(data)
        return await self.read_reply(timeout)

    async def leftover(self, timeout: float) -> bytes:
        """Bytes received and never read as a reply, once the server has closed the
        connection or *timeout* has passed (redacted, then cut to `PARTIAL_OCTETS`)."""
        protocol = self._protocol
        if protocol is None:
            return b""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not protocol.parser.at_eof:
                    await protocol.wait_data()
        return self._redact(protocol.parser.pending)[:PARTIAL_OCTETS]

    async def starttls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float
    ) -> Reply:
        """Send STARTTLS; on ``220`` run the handshake. Returns the STARTTLS reply.

        :raises ProbeTLSError: the handshake failed or the certificate did not verify.
        :raises ProbeTimeoutError, ServerDisconnectedError, MalformedReplyError: as
            `read_reply`.
        """
        reply = await self.command(b"STARTTLS", timeout)
        if reply.code == 220:
            await self.upgrade(ssl_context, server_hostname, timeout)
        return reply

    async def upgrade(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float
    ) -> None:
        """Run the TLS handshake on the open connection (after ``220`` to STARTTLS).

        Bytes already received and not yet read as a reply are discarded first and kept
        in ``stray``: RFC 3207 §4.2 forbids them, and reading them as replies inside TLS
        is the CVE-2011-0411 command-injection bug.

        :raises ProbeTLSError: the handshake failed or the certificate did not verify;
            ``__cause__`` is the `ssl` error (`ssl.SSLCertVerificationError` when the
            certificate was the reason).
        :raises ProbeTimeoutError: the handshake took longer than *timeout*.
        """
        protocol = self._require()
        self.stray += self._redact(protocol.parser.discard_buffered())
        transport = self._require_transport()
        assert isinstance(transport, asyncio.WriteTransport)
        loop = asyncio.get_running_loop()
        started = perf_counter()
        try:
            async with asyncio.timeout(timeout):
                tls_transport = await loop.start_tls(
                    transport,
                    protocol,
                    ssl_context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=timeout + 1.0,
                )
        except TimeoutError:
            raise ProbeTimeoutError(key="error_tls_timeout", params={"timeout": timeout}) from None
        except ssl.SSLCertVerificationError as exc:
            raise ProbeTLSError(
                key="error_tls_verify", params={"reason": exc.verify_message or exc.reason}
            ) from exc
        except (ssl.SSLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or str(exc) or type(exc).__name__
            raise ProbeTLSError(key="error_tls_failed", params={"reason": reason}) from exc
        if tls_transport is None:  # only when the loop was closed under us
            raise ProbeTLSError(key="error_tls_no_connection")
        self._transport = tls_transport
        self.handshake_elapsed = perf_counter() - started

    async def raw_exchange(
        self, data: bytes, done: Callable[[bytes], bool], timeout: float, limit: int = 65536
    ) -> bytes:
        """Write *data* as is, then return what arrives until ``done(received)``, EOF,
        *limit* octets or *timeout* — for a hand-built ClientHello (clienthello.py) after
        ``220`` to STARTTLS. Bytes waiting before are dropped into ``stray`` as in
        `upgrade`. Never raises on timeout: what came is the answer."""
        protocol = self._require()
        self.stray += protocol.parser.discard_buffered()
        transport = self._require_transport()
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(data)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not protocol.parser.at_eof:
                    received = protocol.parser.pending
                    if done(received) or len(received) >= limit:
                        break
                    await protocol.wait_data()
        return protocol.parser.discard_buffered()[:limit]

    def ssl_object(self) -> ssl.SSLObject | ssl.SSLSocket | None:
        """The TLS state of the connection after a handshake (for `smtpprobe.tls.describe`),
        or None on a plain-text connection."""
        if self._transport is None:
            return None
        ssl_object = self._transport.get_extra_info("ssl_object")
        if not isinstance(ssl_object, (ssl.SSLObject, ssl.SSLSocket)):
            return None
        return ssl_object

    def write(self, data: bytes) -> None:
        """Write *data* exactly as given and read nothing: the caller reads the replies.

        For bytes that may earn no reply or several (the SMTP smuggling check's hand-made
        DATA content, RFC 5321 §2.3.8): `read_reply` then takes them one by one.
        """
        transport = self._require_transport()
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(data)

    def close(self) -> None:
        """Drop the connection at once; never waits on the network, safe to call twice.

        ``abort()`` rather than ``close()``: a TLS close waits for the peer's close_notify.
        """
        if self._transport is not None and not self._transport.is_closing():
            if isinstance(self._transport, asyncio.WriteTransport):
                self._transport.abort()
            else:
                self._transport.close()

    async def wait_closed(self, timeout: float = 0.2) -> None:
        """Give the loop a moment to release the socket after `close` (bounded)."""
        if self._protocol is None or self._transport is None:
            return
        # A peer that never finishes the close must not hold the probe: give up quietly.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._protocol.lost)

    def _require(self) -> _ReplyProtocol:
        if self._protocol is None:
            raise ServerDisconnectedError(key="error_not_connected")
        return self._protocol

    def _require_transport(self) -> asyncio.BaseTransport:
        if self._transport is None:
            raise ServerDisconnectedError(key="error_not_connected")
        return self._transport
