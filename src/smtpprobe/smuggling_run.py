"""The SMTP smuggling check on the wire: one transaction per test, byte-exact DATA content.

Opens the session like the probe (greeting, EHLO, STARTTLS), then for each candidate:
MAIL, RCPT, DATA, the hand-made content (`smtpprobe.smuggling.trial_bytes`), a short wait
for a reply that must not come (the server ending DATA on the candidate), the real
``<CR><LF>.<CR><LF>``, every further reply, RSET. A server that hangs up or stalls costs
that test only: the connection is dropped (never RSET or QUIT into unfinished DATA) and the
next test opens a new one. Records, never prints, never judges.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from smtpprobe.errors import SMTPProbeError
from smtpprobe.probe import QUIT_TIMEOUT, _Run
from smtpprobe.recorder import ServerEnded
from smtpprobe.report import Exchange, ProbeEvent, ProbeOptions, Session
from smtpprobe.smuggling import CANDIDATES, Candidate, new_marker, trial_bytes
from smtpprobe.tls import client_context
from smtpprobe.transaction import DATA_END, Transaction
from smtpprobe.validate import check_options

__all__ = ["CONTENT", "SMUGGLED", "SmugglingRun", "Trial", "run_smuggling_check"]

# Phases of the exchanges this check records, beside MAIL, RCPT, DATA and RSET.
CONTENT = "DATA_CONTENT"  # the hand-made content, and the reply that came before its end
SMUGGLED = "SMUGGLED"  # a reply to a command line that was hidden in the content
# A reply within this many round trips of DATA counts as an early one; the floor and the
# cap keep loopback tests quick and slow links honest. Later replies are still caught:
# they show up as more than one reply after the real end.
EARLY_ROUND_TRIPS, EARLY_FLOOR, EARLY_CAP = 8.0, 0.4, 3.0
DRAIN_FLOOR, DRAIN_CAP = 0.25, 1.5
# Bounds the replies read after one trial: a server that took the content for commands
# answers each of its lines (about a dozen).
MAX_EXTRA_REPLIES = 40
# Time kept back for RSET and QUIT: no new test starts when less is left.
RESERVE = 2 * QUIT_TIMEOUT


@dataclass(frozen=True, slots=True)
class Trial:
    """What one test sent and got back; judged by `smtpprobe.interpret.smuggling`.

    ``sent`` is every byte written after ``354``, exactly; ``exchanges`` the test's part
    of the transcript, in order. ``skipped`` says why the content was never sent
    (``mail``, ``rcpt`` or ``data`` refused, ``connection`` lost, ``deadline``);
    ``broken`` that the connection ended or stalled mid-test (see the last exchange).
    """

    candidate: Candidate
    sent: bytes = b""
    exchanges: tuple[Exchange, ...] = ()
    skipped: str = ""
    broken: bool = False

    @property
    def early(self) -> tuple[Exchange, ...]:
        """Replies that came before the real end of data was sent: the content's own
        reply (none from a conforming server), then replies to lines hidden in it."""
        return tuple(
            ex
            for ex in self._content()
            if ex.phase in (CONTENT, SMUGGLED) and ex.reply is not None and not self._after(ex)
        )

    @property
    def after(self) -> tuple[Exchange, ...]:
        """Replies after the real end of data: normally exactly one, to the message."""
        return tuple(
            ex
            for ex in self._content()
            if self._after(ex) and ex.reply is not None and ex.phase in (DATA_END, SMUGGLED)
        )

    def _content(self) -> tuple[Exchange, ...]:
        first = next((n for n, ex in enumerate(self.exchanges) if ex.phase == CONTENT), None)
        return () if first is None else self.exchanges[first:]

    def _after(self, exchange: Exchange) -> bool:
        ends = [n for n, ex in enumerate(self.exchanges) if ex.phase == DATA_END]
        return bool(ends) and self.exchanges.index(exchange) >= ends[0]


@dataclass(frozen=True, slots=True)
class SmugglingRun:
    """The session and the trials of one check; ``marker`` is in every test subject."""

    session: Session
    trials: tuple[Trial, ...]
    marker: str
    recipient: str
    sender: str
    candidates: tuple[Candidate, ...] = field(default=CANDIDATES)


async def run_smuggling_check(
    host: str,
    /,
    *,
    recipient: str,
    sender: str = "",
    options: ProbeOptions | None = None,
    candidates: tuple[Candidate, ...] = CANDIDATES,
    on_event: Callable[[ProbeEvent], None] | None = None,
) -> SmugglingRun:
    """Run every test of *candidates* against *host*, each in its own transaction.

    Messages go to *recipient* only (the outer test messages, and the smuggled second
    one, if the server is vulnerable); MAIL FROM is *sender* (``<>`` when empty).

    :raises UsageError: invalid options (as `smtpprobe.probe.probe`).
    :raises ResolveError: *host* does not resolve.
    """
    options = options or ProbeOptions()
    host = check_options(host, options)
    run = _CheckRun(
        host, options, on_event, recipient=recipient, sender=sender, candidates=candidates
    )
    session = await run.execute()
    return SmugglingRun(session, tuple(run.trials), run.marker, recipient, sender, candidates)


class _CheckRun(_Run):
    """The probe's session flow (connect, greeting, EHLO, TLS, QUIT) with the tests as its
    only step."""

    def __init__(
        self,
        host: str,
        options: ProbeOptions,
        on_event: Callable[[ProbeEvent], None] | None,
        *,
        recipient: str,
        sender: str,
        candidates: tuple[Candidate, ...],
    ) -> None:
        super().__init__(host, options, on_event)
        self.recipient, self.sender, self.candidates = recipient, sender, candidates
        self.marker = new_marker()
        self.trials: list[Trial] = []
        self.dropped = False
        self.addresses_seen: list[tuple[int, str]] = []

    async def _converse(self, addresses: list[tuple[int, str]]) -> None:
        self.addresses_seen = addresses  # kept for a new connection after one breaks
        await super()._converse(addresses)

    async def _dialogue(self) -> None:
        if "auth" in self.options.steps:
            await self._auth()
        loop = asyncio.get_running_loop()
        for test in self.candidates:
            if self.rec.deadline - loop.time() < RESERVE:
                self.trials.append(Trial(test, skipped="deadline"))
                continue
            if self.dropped and not await self._reopen():
                self.trials.append(Trial(test, skipped="connection"))
                continue
            self.trials.append(await self._trial(test))

    async def _reopen(self) -> bool:
        """A new connection after the last one broke; False when that failed too."""
        # The first connection's verdict on the certificate stands (probe._converse).
        ctx = client_context(cafile=None, verify=False) if self.verify_error else self.verify_ctx
        self.rec.enter("reconnect", "smuggling")
        try:
            await self._open(self.addresses_seen, ctx)
            if "auth" in self.options.steps:
                await self._auth()
        except (SMTPProbeError, ServerEnded):
            self._drop()
            return False
        self.dropped = False
        return True

    def _drop(self) -> None:
        self.rec.wire.close()
        self.dropped = True

    async def _trial(self, test: Candidate) -> Trial:
        start = len(self.rec.exchanges)
        made = trial_bytes(test, marker=self.marker, sender=self.sender, recipient=self.recipient)
        sent, skipped, broken = b"", "", False
        try:
            skipped = await self._open_transaction()
            if not skipped:
                data_rtt = self.rec.exchanges[-1].elapsed
                wait = min(max(EARLY_ROUND_TRIPS * data_rtt, EARLY_FLOOR), EARLY_CAP)
                drain = min(max(4 * data_rtt, DRAIN_FLOOR), DRAIN_CAP)
                # The replies a server that ended DATA early gives: to each hidden line,
                # then to the real end, which closes the hidden message.
                labels = [*made.smuggled, b"."]
                sent = made.payload
                early: int | None = None
                if await self.rec.write(CONTENT, made.payload, wait=wait) is not None:
                    early = await self._replies(labels, drain)
                sent += made.terminator
                # Time for RSET and QUIT stays in hand, whatever the server does now.
                loop = asyncio.get_running_loop()
                wait = max(
                    0.1,
                    min(self.options.command_timeout, self.rec.deadline - loop.time() - RESERVE),
                )
                end = await self.rec.write(DATA_END, made.terminator, wait=wait, shown=b".")
                if end is None:  # stalled: the server may still be inside DATA
                    self._drop()
                    broken = True
                else:
                    await self._replies(labels if early is None else labels[early + 1 :], drain)
                    await self.rec.exchange("RSET", b"RSET")
        except ServerEnded:
            self._drop()
            broken = True
        except SMTPProbeError:
            self._drop()
            broken, skipped = True, skipped or ("" if sent else "connection")
        return Trial(test, sent, tuple(self.rec.exchanges[start:]), skipped, broken)

    async def _open_transaction(self) -> str:
        """MAIL, RCPT, DATA; the name of the step that was refused, or ``""`` on 354."""
        transaction = Transaction(self.rec)
        reply = await transaction.mail(self.sender)
        if reply.klass == 2:
            reply = await transaction.rcpt(self.recipient)
            if reply.klass == 2:
                reply = await self.rec.exchange("DATA", b"DATA")
                if reply.code == 354:
                    return ""
                step = "data"
            else:
                step = "rcpt"
        else:
            step = "mail"
        await transaction.rset()
        return step

    async def _replies(self, labels: list[bytes], wait: float) -> int:
        """Read further replies until none comes within *wait*; each is recorded as the
        answer to the next hidden line of *labels* (``?`` after those). Returns how many."""
        for number in range(MAX_EXTRA_REPLIES):
            shown = labels[number] if number < len(labels) else b"?"
            # The silence that ends the list is no exchange: not recorded.
            if (
                await self.rec.write(SMUGGLED, b"", wait=wait, shown=shown, record_silence=False)
                is None
            ):
                return number
        return MAX_EXTRA_REPLIES

    async def _quit(self) -> None:
        if not self.dropped:
            await super()._quit()
