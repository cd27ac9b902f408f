"""Small readers over a recorded transcript: which verb an exchange carries, its reply text."""

from __future__ import annotations

from collections.abc import Iterable

from smtpprobe.report import Exchange, Session

__all__ = [
    "banner",
    "command_text",
    "exchanges_for",
    "is_skipped",
    "milliseconds",
    "reply_text",
    "verb",
]


def command_text(command: bytes) -> str:
    """The command as sent, decoded byte for byte (latin-1 never fails), line ending removed."""
    return command.rstrip(b"\r\n").decode("latin-1")


def verb(exchange: Exchange) -> str:
    """The command verb in upper case; ``CONNECT`` for the greeting (an empty command)."""
    # LOGIN's continuation lines are recorded as <redacted>; the end of a message as "."
    # or "BDAT n LAST", whose reply means what the KB says of DATA_END.
    if exchange.phase in ("AUTH", "DATA_END"):
        return exchange.phase
    # The smuggling check: a reply to hand-made DATA content, or to the "." it hid, is
    # the server ending a message, whatever the content's first word.
    if exchange.phase == "DATA_CONTENT" or (
        exchange.phase == "SMUGGLED" and exchange.command == b"."
    ):
        return "DATA_END"
    words = command_text(exchange.command).split(None, 1)
    return words[0].upper() if words else "CONNECT"


def exchanges_for(session: Session, *verbs: str) -> list[Exchange]:
    """Every exchange whose verb is one of *verbs*, in the order they happened.

    The relay check's exchanges (phase ``RELAY``) are left out: they test relaying, not
    the commands the other checks judge.
    """
    return [ex for ex in session.exchanges if verb(ex) in verbs and ex.phase != "RELAY"]


def banner(session: Session) -> Exchange | None:
    """The greeting: the first exchange with no command."""
    return next((ex for ex in session.exchanges if verb(ex) == "CONNECT"), None)


def is_skipped(session: Session, step: str) -> bool:
    """True when the options left *step* out on purpose (``--skip``/``--only``)."""
    return step not in session.options.steps


def milliseconds(seconds: float | None) -> float | None:
    """Seconds as milliseconds rounded to 0.1 ms, for people and for JSON."""
    return None if seconds is None else round(seconds * 1000.0, 1)


def reply_text(exchanges: Iterable[Exchange]) -> str:
    """All reply lines of *exchanges*, for recognising a server's software by its words."""
    return "\n".join(line for ex in exchanges if ex.reply is not None for line in ex.reply.lines)
