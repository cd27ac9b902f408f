"""``smtpprobe send``'s session: the probe's connection, TLS and AUTH, then one mail
transaction (`smtpprobe.transaction`), every exchange recorded and explained.

Records and never prints, like the probe. The message goes out only when the server
offers what it needs (SMTPUTF8, 8BITMIME); otherwise the session stops before MAIL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from enum import StrEnum

from smtpprobe.errors import ProbeInterruptedError, UsageError
from smtpprobe.interpret import interpret
from smtpprobe.interpret.ehlo import EhloInfo, parse_ehlo
from smtpprobe.message import Draft, compose, needs
from smtpprobe.probe import ProbeInterrupted, _Run
from smtpprobe.report import Finding, ProbeEvent, ProbeOptions, ProbeReport, Session
from smtpprobe.transaction import Transaction
from smtpprobe.validate import check_options

__all__ = ["QuitAfter", "SendOptions", "delivery_finding", "send"]


class QuitAfter(StrEnum):
    """Where ``--quit-after`` stops (swaks' stop points, plus ``data``)."""

    CONNECT = "connect"
    BANNER = "banner"
    EHLO = "ehlo"
    TLS = "tls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"


# The probe steps each stop point keeps (the session ends after them); EHLO is no step,
# `_SendRun._greet` leaves it out before it.
_STEPS = {
    QuitAfter.CONNECT: {"quit"},
    QuitAfter.BANNER: {"quit"},
    QuitAfter.EHLO: {"quit"},
    QuitAfter.TLS: {"starttls", "quit"},
}
_BEFORE_MAIL = (*_STEPS, QuitAfter.AUTH)
# The probe's findings about user enumeration say nothing here.
_NOT_FOR_SEND = ("help", "vrfy", "expn", "rcpt")


@dataclasses.dataclass(frozen=True, slots=True)
class SendOptions:
    """What to send and how far to go; *chunking* uses BDAT when the server offers it."""

    draft: Draft
    quit_after: QuitAfter | None = None
    chunking: bool = False


async def send(
    host: str,
    /,
    *,
    options: ProbeOptions,
    mail: SendOptions,
    on_event: Callable[[ProbeEvent], None] | None = None,
) -> ProbeReport:
    """Connect to *host* as the probe does, then deliver *mail*'s message.

    Returns the report with the probe's connection findings and ``delivery``.

    :raises UsageError, ResolveError: as `smtpprobe.probe.probe`.
    :raises ProbeInterrupted: Ctrl-C; it carries the report of what was recorded.
    """
    steps = _STEPS.get(mail.quit_after) if mail.quit_after else None
    if steps is None:
        steps = {"starttls", "quit"} | ({"auth"} if options.auth_user else set())
    options = dataclasses.replace(options, steps=frozenset(steps) | {"quit"})
    host = check_options(host, options)
    run = _SendRun(host, options, mail, on_event)
    session = await run.execute()
    findings = tuple(f for f in interpret(session) if f.check not in _NOT_FOR_SEND)
    report = ProbeReport(session, (*findings, delivery_finding(session, mail, run.octets)))
    if isinstance(session.error, ProbeInterruptedError):
        raise ProbeInterrupted(report)
    return report


def delivery_finding(session: Session, mail: SendOptions, octets: int) -> Finding:
    """The ``delivery`` finding (its words in ``findings/delivery.toml``)."""
    from smtpprobe.interpret.delivery import judge_delivery

    quit_after = str(mail.quit_after) if mail.quit_after else None
    judged = judge_delivery(session, quit_after=quit_after, octets=octets)
    return Finding(
        "delivery",
        judged.status,
        judged.reason,
        judged.params,
        verdict=judged.verdict,
        evidence=judged.evidence,
        data={"reason": judged.reason, **judged.data},
    )


class _SendRun(_Run):
    def __init__(
        self,
        host: str,
        options: ProbeOptions,
        mail: SendOptions,
        on_event: Callable[[ProbeEvent], None] | None,
    ) -> None:
        super().__init__(host, options, on_event)
        self.mail = mail
        self.octets = 0
        self.abandoned = False

    async def _greet(self) -> None:
        if self.mail.quit_after not in (QuitAfter.CONNECT, QuitAfter.BANNER):
            await super()._greet()

    async def _dialogue(self) -> None:
        if "auth" in self.options.steps:
            await self._auth()
        if self.mail.quit_after in _BEFORE_MAIL:
            return
        await self._transaction()

    def _extensions(self) -> EhloInfo:
        greeting = self.greeting
        if greeting is None or greeting.code != 250:
            return EhloInfo("")
        return parse_ehlo(greeting)

    async def _transaction(self) -> None:
        draft, stop = self.mail.draft, self.mail.quit_after
        ehlo = self._extensions()
        message = compose(draft, utf8=ehlo.has("SMTPUTF8"), seven_bit=not ehlo.has("8BITMIME"))
        self.octets = len(message)
        need = needs(message, (draft.sender, *draft.recipients))
        missing = [
            name
            for name, wanted in (("SMTPUTF8", need.smtputf8), ("8BITMIME", need.eightbit))
            if wanted and not ehlo.has(name)
        ]
        if missing:
            # RFC 6531 §3.4, RFC 6152 §3: never send what the server did not agree to.
            await super()._quit()
            raise UsageError(
                key="error_send_needs_extension",
                phase="MAIL",
                params={"extension": " ".join(missing)},
            )
        parameters = [
            *(["SMTPUTF8"] if need.smtputf8 else []),
            *(["BODY=8BITMIME"] if need.eightbit else []),
            *([f"SIZE={len(message)}"] if ehlo.has("SIZE") else []),
        ]
        tx = Transaction(self.rec)
        mail = await tx.mail(draft.sender, parameters)
        if mail.klass != 2 or stop is QuitAfter.MAIL:
            await tx.rset()
            return
        accepted = [(await tx.rcpt(address)).klass == 2 for address in draft.recipients]
        if not any(accepted) or stop is QuitAfter.RCPT:
            await tx.rset()
            return
        if stop is QuitAfter.DATA:
            await self._data_only(tx)
        elif self.mail.chunking and ehlo.has("CHUNKING"):
            await tx.bdat(message)
        else:
            await tx.data(message)

    async def _data_only(self, tx: Transaction) -> None:
        """``--quit-after data``: DATA, and on 354 hang up without a message. Anything sent
        now (RSET, QUIT) would be message text; a server drops a message whose data
        never ended (RFC 5321 §4.1.1.4)."""
        reply = await self.rec.exchange("DATA", b"DATA")
        if reply.code != 354:
            await tx.rset()
            return
        self.abandoned = True
        self.rec.wire.close()

    async def _quit(self) -> None:
        if not self.abandoned:
            await super()._quit()
