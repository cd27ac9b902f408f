"""The probe's transcript keeper: sends one command, records the exchange, reports it.

Owns the connection (`SMTPWire`), the session clock and deadline, and the list of
`Exchange`s; tells the caller's ``on_event`` about every phase and exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter

from smtpprobe.errors import ProbeTimeoutError, SMTPProbeError
from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, ProbeEvent, ProbeEventKind
from smtpprobe.wire import SMTPWire

__all__ = ["Recorder", "ServerEnded"]


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
        self, phase: str, command: bytes, argument: str = "", timeout: float | None = None
    ) -> Reply:
        """Send *command* (when empty: just read the greeting) and record the exchange.

        :raises ServerEnded: the reply is a 421 (RFC 5321 §3.8: the server is closing).
        :raises RemoteError: no complete reply (recorded first, with ``phase`` set).
        """
        self.enter(phase, command.decode(errors="backslashreplace"))
        wait = self.left(timeout)
        wire = self.wire
        started = perf_counter()
        try:
            reply = await (wire.command(command, wait) if command else wire.read_reply(wait))
        except SMTPProbeError as exc:
            exc.phase = phase
            self._record(phase, command, None, started, argument, exc)
            raise
        except asyncio.CancelledError:  # the session deadline ran out mid-reply
            late = ProbeTimeoutError("the session deadline ran out", phase=phase)
            self._record(phase, command, None, started, argument, late)
            raise
        self._record(phase, command, reply, started, argument, None)
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
        )
        self.exchanges.append(exchange)
        if self.on_event is not None:
            self.on_event(ProbeEvent(ProbeEventKind.EXCHANGE, phase, exchange=exchange))
