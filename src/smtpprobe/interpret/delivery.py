"""The delivery finding of ``smtpprobe send``: accepted, partially accepted, refused or
deferred, with the queue id the server gave and every recipient's answer.

Pure: reads the MAIL, RCPT, DATA and end-of-data exchanges of a recorded session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from smtpprobe.reply import Reply
from smtpprobe.report import Exchange, Session, Status, Verdict
from smtpprobe.transcript import exchanges_for

__all__ = ["Delivery", "RecipientResult", "judge_delivery", "queue_id"]

# Where servers put the queue id in the reply to the end of the data (first match wins).
_QUEUE_ID = (
    re.compile(r"queued as ([0-9A-Za-z]+)", re.IGNORECASE),  # Postfix
    re.compile(r"\bid=([0-9A-Za-z]+(?:-[0-9A-Za-z]+)+)"),  # Exim
    re.compile(r"OK\s+\d+\s+(\S+)\s+-\s+gsmtp"),  # Gmail
    re.compile(r"InternalId=(\d+)"),  # Exchange
    re.compile(r"<([^<>\s]+@[^<>\s]+)>.*Queued mail for delivery", re.IGNORECASE),
    # Sendmail, OpenSMTPD: "250 2.0.0 5B1CHx0A012345 Message accepted for delivery"
    re.compile(r"^([0-9A-Za-z]+) Message accepted for delivery", re.IGNORECASE),
    re.compile(r"Message Queued \(([^)\s]+)\)", re.IGNORECASE),  # Haraka
    re.compile(r"^ok \d+ qp (\d+)", re.IGNORECASE),  # qmail
)
_ENHANCED = re.compile(r"^\d\.\d{1,3}\.\d{1,3}\s+")


def queue_id(reply: Reply | None) -> str | None:
    """The queue id in a 2xx end-of-data *reply*, or None when it names none."""
    if reply is None or reply.klass != 2:
        return None
    for line in reply.lines:
        text = _ENHANCED.sub("", line.strip())
        for pattern in _QUEUE_ID:
            found = pattern.search(text)
            if found:
                return found.group(1)
    return None


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """One RCPT: the address as sent, and the server's answer (None when none came)."""

    address: str
    exchange: Exchange

    @property
    def accepted(self) -> bool:
        return self.exchange.reply is not None and self.exchange.reply.klass == 2

    def to_data(self) -> dict[str, Any]:
        reply = self.exchange.reply
        return {
            "address": self.address,
            "accepted": self.accepted,
            "code": reply.code if reply is not None else None,
            "enhanced": str(reply.enhanced) if reply and reply.enhanced else None,
            "text": reply.lines[-1] if reply is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of the message: the verdict (None when nothing was decided, e.g.
    ``--quit-after``), a reason key and its params, the evidence."""

    status: Status
    verdict: Verdict | None
    reason: str
    params: dict[str, Any]
    evidence: tuple[Exchange, ...]
    queue_id: str | None = None
    recipients: tuple[RecipientResult, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


_STATUS = {
    Verdict.ACCEPTED: Status.OK,
    Verdict.PARTIALLY_ACCEPTED: Status.WARNING,
    Verdict.DEFERRED: Status.WARNING,
    Verdict.REFUSED: Status.CRITICAL,
}


def _by_class(reply: Reply) -> Verdict:
    return Verdict.DEFERRED if reply.klass == 4 else Verdict.REFUSED


def judge_delivery(session: Session, *, quit_after: str | None, octets: int) -> Delivery:
    """The delivery verdict of *session*: the last step that answered decides it."""
    mail = exchanges_for(session, "MAIL")
    rcpts = tuple(RecipientResult(ex.argument, ex) for ex in exchanges_for(session, "RCPT"))
    data = exchanges_for(session, "DATA", "BDAT")
    end = exchanges_for(session, "DATA_END")
    evidence = tuple(
        ex for ex in session.exchanges if ex.phase in ("MAIL", "RCPT", "DATA", "BDAT", "DATA_END")
    )
    accepted = [r for r in rcpts if r.accepted]
    params: dict[str, Any] = {
        "recipients": len(rcpts),
        "accepted": len(accepted),
        "octets": octets,
        "stage": quit_after or "-",
    }
    facts: dict[str, Any] = {
        "quit_after": quit_after,
        "octets": octets,
        "chunked": any(ex.phase == "BDAT" for ex in data)
        or bool(end and end[-1].command.startswith(b"BDAT")),
        "recipients": [r.to_data() for r in rcpts],
    }

    def result(
        verdict: Verdict | None,
        reason: str,
        decided_by: Exchange | None = None,
        *,
        status: Status | None = None,
        queue: str | None = None,
    ) -> Delivery:
        if decided_by is not None and decided_by.reply is not None:
            params.update(code=decided_by.reply.code, text=decided_by.reply.lines[-1])
        params.setdefault("code", "-")
        params.setdefault("text", "-")
        params["queue_id"] = queue or "-"
        status = status or (_STATUS[verdict] if verdict is not None else Status.OK)
        return Delivery(
            status, verdict, reason, params, evidence, queue, rcpts, {**facts, "queue_id": queue}
        )

    answered = [ex for ex in (*mail, *data, *end) if ex.reply is not None]
    if mail and mail[-1].reply is not None and mail[-1].reply.klass != 2:
        return result(_by_class(mail[-1].reply), "mail-refused", mail[-1])
    if rcpts and not accepted:
        deferred = any(r.exchange.reply is not None and r.exchange.reply.klass == 4 for r in rcpts)
        verdict = Verdict.DEFERRED if deferred else Verdict.REFUSED
        return result(verdict, "no-recipient", rcpts[-1].exchange)
    if end and end[-1].reply is not None:
        reply = end[-1].reply
        if reply.klass != 2:
            return result(_by_class(reply), "data-refused", end[-1])
        queue = queue_id(reply)
        if len(accepted) < len(rcpts):
            return result(Verdict.PARTIALLY_ACCEPTED, "partially-accepted", end[-1], queue=queue)
        return result(
            Verdict.ACCEPTED, "accepted" if queue else "accepted-no-queue-id", end[-1], queue=queue
        )
    refused_data = [ex for ex in data if ex.reply is not None and ex.reply.code not in (250, 354)]
    if refused_data and not quit_after:
        assert refused_data[-1].reply is not None
        return result(_by_class(refused_data[-1].reply), "data-refused", refused_data[-1])
    if quit_after and session.error is None:
        return result(None, "stopped", answered[-1] if answered else None)
    return result(None, "not-sent", status=Status.UNKNOWN)
