"""The probe's transcript keeper: sends one command, records the exchange, reports it.

Owns the connection (`SMTPWire`), the session clock and deadline, and the list of
`Exchange`s; tells the caller's ``on_event`` about every phase and exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter

from smtpprobe.errors import (
    MalformedReplyError,
    ProbeInterruptedError,
    ProbeTimeoutError,
    SMTPProbeError,
    Term,
)
from smtpprobe.redact import REDACTED, Redactor
from smtpprobe.reply import Reply
from smtpprobe.report import Desync, Exchange, ProbeEvent, ProbeEventKind
from smtpprobe.wire import SMTPWire

__all__ = ["REDACTED", "Recorder", "ServerEnded"]


class ServerEnded(Exception):
    """The server ended the session itself: a 421, or a greeting other than 220.

    ``polite`` says whether a QUIT is still due (RFC 5321 §3.1 after a 554 greeting).
    """

    def __init__(self, *, polite: bool) -> None:
        super().__init__()
        self.polite = polite


class Recorder:
    """One probe's transcript under one deadline (``loop.time()`` based).

    :param deadline: when the session must end, on the running loop's clock.
    :param started: when the session began (``perf_counter``): exchanges are timed from it.
    :param command_timeout: the cap for one command; the time left caps it further.
    :param foreign_reply: whether a code cannot be a command verb's own answer (another
        command's, or a stray); a True marks the session desynchronised (``desync``), as
        do bytes waiting before a command.

    ``redactor`` holds the session's secrets: every byte received goes through it (the
    wire's evidence too) before anything is recorded, cut, returned or reported.
    """

    def __init__(
        self,
        *,
        deadline: float,
        started: float,
        command_timeout: float,
        on_event: Callable[[ProbeEvent], None] | None,
        foreign_reply: Callable[[int, str], bool] | None = None,
    ) -> None:
        self.deadline = deadline
        self.foreign_reply = foreign_reply
        self.command_timeout = command_timeout
        self.on_event = on_event
        self.t0 = started
        self.phase = "resolve"
        self.redactor = Redactor()
        self.wire = SMTPWire(redact=self.redactor.data)
        self.exchanges: list[Exchange] = []
        self.desync: Desync | None = None
        self._in_step = 1  # the first exchange after the greeting or a TLS handshake

    def restart(self) -> None:
        """Forget the transcript (a new connection replaces the old one)."""
        self.exchanges, self.desync, self._in_step = [], None, 1

    def in_step(self) -> None:
        """A TLS handshake restarted the stream: a stray from before cannot shift what follows."""
        self._in_step = len(self.exchanges)

    def out_of_step(
        self,
        reason: str,
        *,
        code: int | None = None,
        data: bytes = b"",
        exchange: int | None = None,
    ) -> None:
        """Record evidence that replies fell out of step; the first evidence is kept."""
        if self.desync is None:
            where = len(self.exchanges) if exchange is None else exchange
            self.desync = Desync(reason, where, min(self._in_step, where), code, data)

    def left(self, cap: float | None = None) -> float:
        """Seconds one call may take: *cap* (the command timeout) or the time left."""
        cap = self.command_timeout if cap is None else cap
        return max(0.0, min(cap, self.deadline - asyncio.get_running_loop().time()))

    def new_wire(self) -> SMTPWire:
        """Drop the current connection (if any) and start a fresh one."""
        self.wire.close()
        self.wire = SMTPWire(redact=self.redactor.data)
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

        Credentials: *shown* is recorded and reported instead of *command*; *secrets* are
        registered with `redactor` (with their derived forms) before anything is sent, so
        that no reply from now on, nor its partial bytes or error, shows any of them.

        :raises ServerEnded: the reply is a 421 (RFC 5321 §3.8: the server is closing).
        :raises RemoteError: no complete reply (recorded first, with ``phase`` set).
        """
        for secret in secrets:
            self.redactor.add(secret)
        recorded = command if shown is None else shown
        self.enter(phase, recorded.decode(errors="backslashreplace"))
        wait = self.left(timeout)
        wire = self.wire
        waiting_before = len(wire.unsolicited)
        started = perf_counter()
        try:
            if raw is not None:
                reply = await wire.send(raw, wait)
            else:
                reply = await (wire.command(command, wait) if command else wire.read_reply(wait))
        except SMTPProbeError as exc:
            exc.phase = phase
            scrub_error(exc, self.redactor)
            self._record(phase, recorded, None, started, argument, exc, (role, name))
            self._check_step(waiting_before, phase, recorded, None)
            raise
        except asyncio.CancelledError:
            # The session deadline, or the user (Ctrl-C): only the clock can tell them apart.
            if asyncio.get_running_loop().time() >= self.deadline:
                late: SMTPProbeError = ProbeTimeoutError(key="error_deadline_ran_out", phase=phase)
            else:
                late = ProbeInterruptedError(key="error_probe_interrupted", phase=phase)
            self._record(phase, recorded, None, started, argument, late, (role, name))
            raise
        reply = self.redactor.reply(reply)
        self._record(phase, recorded, reply, started, argument, None, (role, name))
        self._check_step(waiting_before, phase, recorded, reply)
        if reply.code == 421:
            raise ServerEnded(polite=False)
        return reply

    def _check_step(
        self, waiting_before: int, phase: str, command: bytes, reply: Reply | None
    ) -> None:
        """Evidence of a shifted transcript in the exchange just recorded.

        Bytes that were waiting before the command: the reply read before them may have
        been a stray, and they the real one. A code the command cannot get: another
        command's reply, or a stray.
        """
        index = len(self.exchanges) - 1
        if len(self.wire.unsolicited) > waiting_before:
            self.out_of_step("unsolicited-bytes", exchange=index, data=self.wire.unsolicited[-1][1])
        if reply is None or not command or self.foreign_reply is None:
            return
        verb = (
            "AUTH"
            if phase == "AUTH"
            else command.split(b" ", 1)[0].decode("ascii", "replace").upper()
        )
        if self.foreign_reply(reply.code, verb):
            self.out_of_step("unexpected-code", exchange=index, code=reply.code)

    def _record(
        self,
        phase: str,
        command: bytes,
        reply: Reply | None,
        started: float,
        argument: str,
        error: SMTPProbeError | None,
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
            partial=self.wire.partial if error is not None else b"",
            role=asked[0],
            name=asked[1],
        )
        self.exchanges.append(exchange)
        if self.on_event is not None:
            self.on_event(ProbeEvent(ProbeEventKind.EXCHANGE, phase, exchange=exchange))

    async def write(
        self,
        phase: str,
        data: bytes,
        *,
        wait: float,
        shown: bytes | None = None,
        record_silence: bool = True,
    ) -> Reply | None:
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


def scrub_error(exc: SMTPProbeError, redactor: Redactor) -> None:
    """Redact an error in place: it is recorded, and it becomes the session's error."""
    if not redactor:
        return
    exc.message = redactor.text(exc.message)
    exc.hint = redactor.text(exc.hint)
    exc.args = tuple(redactor.values(exc.args))
    # The params fill the message in other languages (errors.localized): redacted too.
    for name, value in exc.params.items():
        if isinstance(value, SMTPProbeError):
            scrub_error(value, redactor)
        elif isinstance(value, (str, bytes)) and not isinstance(value, Term):
            exc.params[name] = redactor.values([value])[0]
    if isinstance(exc, MalformedReplyError):
        exc.raw = redactor.data(exc.raw)
