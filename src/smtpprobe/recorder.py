"""The probe's transcript keeper: sends one command, records the exchange, reports it.

Owns the connection (`SMTPWire`), the session clock and deadline, and the list of
`Exchange`s; tells the caller's ``on_event`` about every phase and exchange.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from time import perf_counter

from smtpprobe.errors import (
    MalformedReplyError,
    ProbeInterruptedError,
    ProbeTimeoutError,
    SMTPProbeError,
    Term,
)
from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, ProbeEvent, ProbeEventKind
from smtpprobe.wire import SMTPWire

__all__ = ["REDACTED", "Recorder", "ServerEnded", "scrub_reply"]

REDACTED = "<redacted>"


class ServerEnded(Exception):
    """The server ended the session itself: a 421, or a greeting other than 220.

    ``polite`` says whether a QUIT is still due (RFC 5321 §3.1 after a 554 greeting).
    """

    def __init__(self, *, polite: bool) -> None:
        super().__init__()
        self.polite = polite


class Recorder:
    """One probe's transcript under one deadline (``loop.time()`` based).

    :param command_timeout: the cap for one command; the time left caps it further.
    """

    def __init__(
        self,
        *,
        deadline: float,
        command_timeout: float,
        on_event: Callable[[ProbeEvent], None] | None,
    ) -> None:
        self.deadline = deadline
        self.command_timeout = command_timeout
        self.on_event = on_event
        self.t0 = perf_counter()
        self.phase = "resolve"
        self.wire = SMTPWire()
        self.exchanges: list[Exchange] = []

    def left(self, cap: float | None = None) -> float:
        """Seconds one call may take: *cap* (the command timeout) or the time left."""
        cap = self.command_timeout if cap is None else cap
        return max(0.0, min(cap, self.deadline - asyncio.get_running_loop().time()))

    def new_wire(self) -> SMTPWire:
        """Drop the current connection (if any) and start a fresh one."""
        self.wire.close()
        self.wire = SMTPWire()
        return self.wire

    def enter(self, phase: str, detail: str = "") -> None:
        """Mark the start of *phase* and tell the caller."""
        self.phase = phase
        if self.on_event is not None:
            self.on_event(ProbeEvent(ProbeEventKind.PHASE, phase, detail=detail))

    async def exchange(
        self,
        phase: str,
        command: bytes,
        argument: str = "",
        timeout: float | None = None,
        *,
        shown: bytes | None = None,
        secrets: tuple[str, ...] = (),
        role: str = "",
        name: str = "",
        raw: bytes | None = None,
    ) -> Reply:
        """Send *command* (when empty: just read the greeting) and record the exchange.

        With *raw*, those bytes are written as they are instead of *command* and CRLF
        (a message body, a BDAT chunk); *command* is still what is recorded.

        Redaction hook for credentials: *shown* is recorded and reported instead of
        *command*, and every one of *secrets* is replaced by `REDACTED` in the reply,
        the partial bytes and the error before anything is recorded or returned.

        :raises ServerEnded: the reply is a 421 (RFC 5321 §3.8: the server is closing).
        :raises RemoteError: no complete reply (recorded first, with ``phase`` set).
        """
        recorded = command if shown is None else shown
        self.enter(phase, recorded.decode(errors="backslashreplace"))
        wait = self.left(timeout)
        wire = self.wire
        started = perf_counter()
        try:
            if raw is not None:
                reply = await wire.send(raw, wait)
            else:
                reply = await (wire.command(command, wait) if command else wire.read_reply(wait))
        except SMTPProbeError as exc:
            exc.phase = phase
            _scrub_error(exc, secrets)
            self._record(phase, recorded, None, started, argument, exc, secrets, (role, name))
            raise
        except asyncio.CancelledError:
            # The session deadline, or the user (Ctrl-C): only the clock can tell them apart.
            if asyncio.get_running_loop().time() >= self.deadline:
                late: SMTPProbeError = ProbeTimeoutError(key="error_deadline_ran_out",
                                                         phase=phase)
            else:
                late = ProbeInterruptedError(key="error_probe_interrupted", phase=phase)
            self._record(phase, recorded, None, started, argument, late, secrets, (role, name))
            raise
        if secrets:
            reply = scrub_reply(reply, secrets)
        self._record(phase, recorded, reply, started, argument, None, (), (role, name))
        if reply.code == 421:
            raise ServerEnded(polite=False)
        return reply

    def _record(
        self,
        phase: str,
        command: bytes,
        reply: Reply | None,
        started: float,
        argument: str,
        error: SMTPProbeError | None,
        secrets: tuple[str, ...] = (),
        asked: tuple[str, str] = ("", ""),
    ) -> None:
        exchange = Exchange(
            phase=phase,
            command=command,
            reply=reply,
            started=started - self.t0,
            elapsed=perf_counter() - started,
            error=error,
            argument=argument,
            partial=_scrub_bytes(self.wire.partial, secrets) if error is not None else b"",
            role=asked[0],
            name=asked[1],
        )
        self.exchanges.append(exchange)
        if self.on_event is not None:
            self.on_event(ProbeEvent(ProbeEventKind.EXCHANGE, phase, exchange=exchange))

    async def write(self, phase: str, data: bytes, *, wait: float,
                    shown: bytes | None = None, record_silence: bool = True) -> Reply | None:
        """Write *data* as it is (nothing when empty), then take the reply that comes
        within *wait* seconds, if one does; record the exchange either way.

        For the smuggling check, where silence is an answer: None (recorded with neither
        reply nor error) when no complete reply came in time. *shown* is recorded
        instead of *data* (the server line a reply answers, when *data* is empty);
        without *record_silence* a reply that did not come is not recorded at all.

        :raises RemoteError: the connection ended or the reply was malformed (recorded).
        """
        recorded = data if shown is None else shown
        if data or record_silence:
            self.enter(phase, recorded.decode("latin-1"))
        started = perf_counter()
        reply: Reply | None = None
        try:
            if data:
                self.wire.write(data)
            reply = await self.wire.read_reply(self.left(wait))
        except ProbeTimeoutError:
            reply = None
        except SMTPProbeError as exc:
            exc.phase = phase
            self._record(phase, recorded, None, started, "", exc)
            raise
        except asyncio.CancelledError:
            late = ProbeTimeoutError(key="error_deadline_ran_out", phase=phase)
            self._record(phase, recorded, None, started, "", late)
            raise
        if reply is not None or record_silence:
            self._record(phase, recorded, reply, started, "", None)
        return reply


def _scrub_text(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a PLAIN blob goes whole before the shorter forms inside it.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _scrub_bytes(data: bytes, secrets: Iterable[str]) -> bytes:
    for secret in sorted((s.encode() for s in secrets if s), key=len, reverse=True):
        data = data.replace(secret, REDACTED.encode())
    return data


def scrub_reply(reply: Reply, secrets: tuple[str, ...]) -> Reply:
    """*reply* with every secret in its lines and raw bytes replaced by `REDACTED`."""
    lines = tuple(_scrub_text(line, secrets) for line in reply.lines)
    raw = _scrub_bytes(reply.raw, secrets)
    if lines == reply.lines and raw == reply.raw:
        return reply
    return dataclasses.replace(reply, lines=lines, raw=raw)


def _scrub_error(exc: SMTPProbeError, secrets: tuple[str, ...]) -> None:
    """Scrub an error in place: it is recorded, and it becomes the session's error."""
    if not secrets:
        return
    exc.message = _scrub_text(exc.message, secrets)
    exc.hint = _scrub_text(exc.hint, secrets)
    exc.args = (exc.message,)
    # The params fill the message in other languages (errors.localized): scrubbed too.
    for name, value in exc.params.items():
        if isinstance(value, SMTPProbeError):
            _scrub_error(value, secrets)
        elif isinstance(value, (str, bytes)) and not isinstance(value, Term):
            exc.params[name] = (_scrub_text(value, secrets) if isinstance(value, str)
                                else _scrub_bytes(value, secrets))
    if isinstance(exc, MalformedReplyError):
        exc.raw = _scrub_bytes(exc.raw, secrets)
