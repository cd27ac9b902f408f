"""One mail transaction on a recorded session: MAIL, RCPT, DATA or BDAT, RSET.

RFC 5321 §3.3 and §4.5.2 (dot-stuffing), RFC 3030 (BDAT). Every command and every reply
goes through `Recorder.exchange`, so the transcript holds them all; the message itself
is not recorded, only its size (``argument`` of the end-of-data exchange).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from smtpprobe.reply import Reply

if TYPE_CHECKING:
    from smtpprobe.recorder import Recorder

__all__ = [
    "BDAT_CHUNK",
    "DATA_END",
    "Transaction",
    "data_payload",
    "dot_stuff",
    "dot_unstuff",
    "normalize_crlf",
]

# The phase of the reply to the end of the message (after ``.`` or the last BDAT chunk):
# the KB explains it as its own command (``250@DATA_END`` …), unlike the 354 to DATA.
DATA_END = "DATA_END"
# Octets per BDAT chunk. RFC 3030 sets no limit; 64 KiB keeps each reply-wait short.
BDAT_CHUNK = 64 * 1024

_LINE_END = re.compile(rb"\r\n|\r|\n")
_TERMINATOR = b".\r\n"


def normalize_crlf(message: bytes) -> bytes:
    """*message* with every line ending (CRLF, bare LF, bare CR) as CRLF, and a final one.

    RFC 5321 §2.3.8: bare CR and LF are not line endings on the wire; a server that reads
    them as such is the SMTP smuggling bug. A client must never send them.
    """
    normalized = _LINE_END.sub(b"\r\n", message)
    if normalized and not normalized.endswith(b"\r\n"):
        normalized += b"\r\n"
    return normalized


def dot_stuff(message: bytes) -> bytes:
    """*message* normalised, with a ``.`` added before every line that starts with one
    (RFC 5321 §4.5.2), so no line of it can read as the end of the data."""
    normalized = normalize_crlf(message)
    stuffed = normalized.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def data_payload(message: bytes) -> bytes:
    """What follows ``354``: the stuffed *message* and the ``.`` line that ends it."""
    return dot_stuff(message) + _TERMINATOR


def dot_unstuff(payload: bytes) -> bytes:
    """The message a server reads from *payload* (the inverse of `data_payload`).

    :raises ValueError: *payload* does not end with the ``.`` line.
    """
    if payload == _TERMINATOR:
        return b""
    if not payload.endswith(b"\r\n" + _TERMINATOR):
        raise ValueError("no <CRLF>.<CRLF> at the end of the payload")
    body = payload[: -len(_TERMINATOR)]
    unstuffed = body.replace(b"\r\n..", b"\r\n.")
    return unstuffed[1:] if unstuffed.startswith(b"..") else unstuffed


def _line(verb: bytes, address: str, parameters: Iterable[str]) -> bytes:
    words = [verb + b":<" + address.encode() + b">", *(p.encode() for p in parameters)]
    return b" ".join(words)


class Transaction:
    """MAIL, RCPT, DATA/BDAT and RSET on *rec*'s open session (after EHLO, TLS, AUTH).

    Each method sends one step, records it and returns the server's reply; judging the
    replies is the caller's job. Addresses and parameters go out as given (the wire
    refuses CR and LF); the message is normalised by `data`/`bdat` unless ``raw``.
    """

    def __init__(self, rec: Recorder, *, phase: str | None = None) -> None:
        # *phase* records MAIL, RCPT and RSET under one name instead of their verbs: the
        # relay check's ``RELAY``, kept apart from the probe's own RCPT comparison.
        self.rec = rec
        self.phase = phase

    async def mail(
        self, sender: str, parameters: Iterable[str] = (), *, argument: str | None = None
    ) -> Reply:
        """``MAIL FROM:<sender>`` with ESMTP *parameters* (``SMTPUTF8``, ``BODY=8BITMIME``);
        *argument* is recorded instead of the sender (a test's name)."""
        return await self.rec.exchange(
            self.phase or "MAIL",
            _line(b"MAIL FROM", sender, parameters),
            argument=sender if argument is None else argument,
        )

    async def rcpt(self, recipient: str, parameters: Iterable[str] = ()) -> Reply:
        """``RCPT TO:<recipient>``."""
        return await self.rec.exchange(
            self.phase or "RCPT", _line(b"RCPT TO", recipient, parameters), argument=recipient
        )

    async def data(self, message: bytes, *, raw: bool = False) -> Reply:
        """``DATA``; on ``354`` the message and its ``.`` line. Returns the last reply.

        The reply to DATA itself is returned when it is not ``354`` (nothing more is
        sent). With *raw*, the bytes after ``354`` are sent exactly as given, terminator
        included (for tests of how a server reads odd line endings); otherwise
        `data_payload` shapes them.
        """
        reply = await self.rec.exchange("DATA", b"DATA")
        if reply.code != 354:
            return reply
        payload = message if raw else data_payload(message)
        return await self.rec.exchange(
            DATA_END, b".", argument=f"{len(payload)} octets", raw=payload
        )

    async def bdat(
        self, message: bytes, *, chunk_size: int = BDAT_CHUNK, raw: bool = False
    ) -> Reply:
        """The message in BDAT chunks (RFC 3030 §2), the last marked ``LAST``.

        No dot-stuffing (BDAT counts octets); line endings are normalised unless *raw*.
        Stops at the first reply that is not 2xx and returns it; the reply to the last
        chunk is recorded as `DATA_END`.
        """
        body = message if raw else normalize_crlf(message)
        chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)] or [b""]
        reply: Reply | None = None
        for number, chunk in enumerate(chunks, 1):
            last = number == len(chunks)
            line = b"BDAT %d" % len(chunk) + (b" LAST" if last else b"")
            phase = DATA_END if last else "BDAT"
            reply = await self.rec.exchange(
                phase, line, argument=f"{len(chunk)} octets", raw=line + b"\r\n" + chunk
            )
            if reply.klass != 2:
                break
        assert reply is not None
        return reply

    async def rset(self) -> Reply:
        """``RSET``: abort the transaction, keep the session (RFC 5321 §4.1.1.5)."""
        return await self.rec.exchange(self.phase or "RSET", b"RSET")
